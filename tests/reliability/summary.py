# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print what the reliability suite measured, from the outcome lines its tests recorded.

Usage: summary.py [OUTCOMES_FILE]  (default: $RELIABILITY_OUTCOMES, else
.cache/reliability/outcomes.jsonl). Every number comes from that file.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parents[2] / ".cache" / "reliability" / "outcomes.jsonl"
FAULT_COLUMNS = (
    ("recover", "recovered"),
    ("exhaust", "clean failure"),
    ("apply-recover", "lost answer: ok"),
    ("apply-exhaust", "lost: clean fail"),
)
FAULT_LEGEND = (
    "  recovered: max_retries faults, then the task succeeds with exactly the desired record;",
    "  clean failure: one fault more, a one-line message, the record untouched or complete;",
    "  lost answer: the write is applied, its answer lost and the request retried.",
)


def load(path: Path) -> dict[str, list[dict]]:
    by_category = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            outcome = json.loads(line)
            by_category[outcome.pop("category")].append(outcome)
    return by_category


def ratio(items: list[dict], key: str = "ok") -> str:
    return f"{sum(1 for item in items if item[key])}/{len(items)}" if items else "-"


def fault_lines(faults: list[dict]) -> list[str]:
    if not faults:
        return ["  not run"]
    runners = Counter(fault["runner"] for fault in faults)
    through = ", ".join(f"{runner} {count} cases" for runner, count in sorted(runners.items()))
    header = f"  {'fault kind':<22}" + "".join(f"{title:>18}" for _variant, title in FAULT_COLUMNS)
    lines = [f"  through: {through}; cells: passed / cases", *FAULT_LEGEND]
    lines += [header, "  " + "-" * (len(header) - 2)]
    kinds = list(dict.fromkeys(f["kind"] for f in faults))
    retryable = [kind for kind in kinds if kind_is_retryable(faults, kind)]
    for kind in retryable:
        cells = [
            ratio([f for f in faults if f["kind"] == kind and f["variant"] == variant])
            for variant, _title in FAULT_COLUMNS
        ]
        lines.append(f"  {kind:<22}" + "".join(f"{cell:>18}" for cell in cells))
    survived = [kind for kind in retryable if all(f["ok"] for f in faults if f["kind"] == kind)]
    bad_bodies = [fault for fault in faults if fault["variant"] == "bad-body"]
    lines.append(f"  fault kinds survived at every step: {len(survived)}/{len(retryable)}")
    lines.append(f"  bad answers (HTML, broken or wrong JSON): {ratio(bad_bodies)} clean errors")
    return lines


def kind_is_retryable(faults: list[dict], kind: str) -> bool:
    return any(f["kind"] == kind and f["variant"] != "bad-body" for f in faults)


def bad_input_lines(cases: list[dict], role: list[dict], requests: list[dict]) -> list[str]:
    if not cases:
        return ["  not run"]
    lines = []
    for target in dict.fromkeys(case["target"] for case in cases):
        mine = [case for case in cases if case["target"] == target]
        lines.append(
            f"  {target:<24} refused: {ratio(mine, 'refused'):>6}   "
            f"named the option: {ratio(mine, 'named'):>6}   as expected: {ratio(mine)}"
        )
    core = sum(1 for case in cases if case.get("worded_by_core"))
    if core:
        lines.append(f"  worded by ansible-core without the option's name: {core} (creds no dict)")
    if role and not any(item["present"] for item in role):
        lines.append("  role registries: not in the catalogue (roles/registries was absent)")
    refused = sum(1 for case in cases if case["refused"])
    sent = sum(run["sent"] for run in requests)
    read_first = sum(run["read_first"] for run in requests)
    lines.append(f"  inputs refused: {refused}/{len(cases)}; requests they sent: {sent}")
    lines.append(f"  (allowed: one read each by the {read_first} cases only a read can refuse:")
    lines.append("   a create without registry or type, a change to the built-in registry)")
    return lines


def secrets_lines(scans: list[dict]) -> list[str]:
    if not scans:
        return ["  not run"]
    chars = sum(scan["chars"] for scan in scans)
    leaks = sum(scan["leaks"] for scan in scans)
    return [
        f"  scenarios scanned: {len(scans)}   outputs: {sum(scan['outputs'] for scan in scans)}"
        f"   size: {chars / 1e6:.1f} MB",
        f"  leaks found: {leaks}",
    ]


def concurrency_lines(runs: list[dict]) -> list[str]:
    lines = []
    for run in runs:
        lines.append(
            f"  {run['runs']} runs at once: green {run['green']}/{run['runs']}, "
            f"converged: {'yes' if run['converged'] else 'NO'}, "
            f"reruns unchanged {run['reruns_unchanged']}/{run['reruns']}, "
            f"create conflicts resolved: {run.get('create_conflicts', '-')}"
        )
    return lines or ["  not run"]


def emulator_lines(load_runs: list[dict], durability: list[dict]) -> list[str]:
    lines = [
        f"  {run['clients']} keep-alive clients x {run['seconds']:g} s: {run['requests']} "
        f"requests, {run['server_errors']} answered 5xx, {run['dropped']} dropped connections"
        for run in load_runs
    ]
    lines += [
        f"  kill -9 x {run['kills']} with --state-file: {run['acknowledged']} writes "
        f"acknowledged, {run['lost']} lost"
        for run in durability
    ]
    return lines or ["  not run"]


def render(by_category: dict[str, list[dict]]) -> str:
    sections = [
        ("Faults injected into every request step", fault_lines(by_category["fault"])),
        (
            "Invalid inputs",
            bad_input_lines(
                by_category["bad_input"],
                by_category["bad_input_role"],
                by_category["bad_input_requests"],
            ),
        ),
        ("Secrets (token and passwords) in every output", secrets_lines(by_category["secrets"])),
        ("Concurrent ansible-playbook runs", concurrency_lines(by_category["concurrency"])),
        ("TLS (validate_certs)", [f"  cases as expected: {ratio(by_category['tls'])}"]),
        ("The emulator", emulator_lines(by_category["load"], by_category["durability"])),
    ]
    out = ["", "Reliability and security suite: what the tests measured", "=" * 56]
    for title, lines in sections:
        out += ["", title, *lines]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else os.environ.get("RELIABILITY_OUTCOMES", DEFAULT_FILE))
    if not path.exists():
        print(f"summary: no outcomes recorded at {path}", file=sys.stderr)
        return 1
    sys.stdout.write(render(load(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
