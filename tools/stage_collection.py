# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Copy the collection to DEST (.../ansible_collections/humanitec/platform) for ansible-test.

ansible-test refuses a collection reached through a symlink, so the tools that need a real
ansible_collections path get a fresh copy: the files git tracks plus the untracked files it
does not ignore, leaving out the development environment and earlier build output. The copy
gets an empty git repository of its own, whose untracked files ansible-test then lists.
Only tests/output/ survives from the previous copy: it holds ansible-test's virtual
environments, which take a while to build.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SKIPPED_TOP_LEVEL = {".git", ".venv", ".cache", "build", ".ansible"}
KEPT = Path("tests/output")


def source_files(root: Path) -> list[str]:
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listing = subprocess.run(command, cwd=root, check=True, capture_output=True, text=True)
    names = sorted({name for name in listing.stdout.split("\0") if name})
    # A file can be tracked and yet deleted in the work tree.
    wanted = [name for name in names if name.split("/")[0] not in SKIPPED_TOP_LEVEL]
    return [name for name in wanted if (root / name).is_file()]


def clear(dest: Path, kept: Path = KEPT) -> None:
    """Empty dest, except for the kept directory under it."""
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink() and kept.parts[0] == child.name:
            if len(kept.parts) > 1:
                clear(child, Path(*kept.parts[1:]))
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def main(dest_arg: str) -> None:
    root = Path(__file__).resolve().parent.parent
    dest = Path(dest_arg).resolve()
    if dest.parts[-3:-2] != ("ansible_collections",):
        sys.exit(f"{dest} is not an ansible_collections/<namespace>/<name> path")
    if dest.exists():
        clear(dest)
    for name in source_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target, follow_symlinks=False)
    # Without a repository of its own, ansible-test would take the one around the copy for the
    # source of truth, and that one ignores build/.
    subprocess.run(["git", "init", "--quiet", str(dest)], check=True)


if __name__ == "__main__":
    main(sys.argv[1])
