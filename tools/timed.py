# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time the quality gates of `make quality` and print what ran, with which versions.

    timed.py run LOG GATE PACKAGE -- COMMAND...   run COMMAND, append one line to LOG
    timed.py summary LOG                          print the lines of LOG as a table

PACKAGE is the Python distribution whose version is recorded (the tool the gate runs).
`run` exits with the command's exit status, so a failing gate still fails make.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def run(log: Path, gate: str, package: str, command: list[str]) -> int:
    started = time.monotonic()
    returncode = subprocess.call(command)
    entry = {
        "gate": gate,
        "tool": f"{package} {package_version(package)}",
        "seconds": round(time.monotonic() - started, 1),
        "result": "ok" if returncode == 0 else f"FAILED ({returncode})",
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry) + "\n")
    return returncode


def summary(log: Path) -> int:
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    rows = [("gate", "tool", "seconds", "result")]
    rows += [(e["gate"], e["tool"], f"{e['seconds']:.1f}", e["result"]) for e in entries]
    rows.append(("total", "", f"{sum(e['seconds'] for e in entries):.1f}", ""))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    print("\nQuality gates")
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0 if all(e["result"] == "ok" for e in entries) else 1


def main(argv: list[str]) -> int:
    if len(argv) >= 6 and argv[0] == "run" and argv[4] == "--":
        return run(Path(argv[1]), argv[2], argv[3], argv[5:])
    if len(argv) == 2 and argv[0] == "summary":
        return summary(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
