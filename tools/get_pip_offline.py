# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for pip's get-pip.py, for the virtual environments ansible-test creates.

ansible-test bootstraps pip in each new venv with a get-pip.py script that it downloads from
the internet and caches under ~/.ansible/test/cache/. Without internet that download fails,
so `make sanity` puts this script in the cache instead (see install_get_pip.py).

It takes the arguments get-pip.py takes (pip options, packages such as pip==24.2, and
--no-setuptools / --no-wheel), installs the pip wheel bundled with Python (ensurepip), then
lets that pip install the requested packages from the package index pip is configured with.
"""

from __future__ import annotations

import re
import subprocess
import sys

# get-pip.py options that pip itself does not know.
GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def run(*args: str) -> None:
    subprocess.run([sys.executable, *args], check=True)


def requested_names(pip_args: list[str]) -> set[str]:
    """The project names among the arguments, such as pip for pip==24.2."""
    return {
        re.split(r"[<>=!~;\[ ]", arg, maxsplit=1)[0].lower()
        for arg in pip_args
        if not arg.startswith("-")
    }


def main(argv: list[str]) -> None:
    pip_args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]

    run("-m", "ensurepip", "--default-pip")
    run("-m", "pip", "install", *pip_args)

    # Before Python 3.12, ensurepip also installs setuptools, which get-pip.py would not have.
    if "--no-setuptools" in argv and "setuptools" not in requested_names(pip_args):
        run("-m", "pip", "uninstall", "--yes", "--quiet", "setuptools")


if __name__ == "__main__":
    main(sys.argv[1:])
