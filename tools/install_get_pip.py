# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put tools/get_pip_offline.py where ansible-test looks for its cached get-pip.py script.

Both the file name and the pip version are read from the installed ansible-test, so an
ansible-core upgrade that moves either fails here, loudly, instead of in the middle of a run.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import ansible_test

CONTROLLER_PYTHON = "3.11"


def cache_path_template() -> str:
    setup = Path(ansible_test.__file__).parent / "_util/target/setup/requirements.py"
    match = re.search(r"cache_path = os\.path\.expanduser\('([^']*%s[^']*)'", setup.read_text())
    if not match:
        sys.exit(f"Cannot find the get-pip cache path in {setup}; has ansible-test changed?")
    return match.group(1)


def pip_version() -> str:
    # A private function, so it is looked up by name and checked rather than trusted.
    from types import SimpleNamespace

    from ansible_test._internal.python_requirements import get_venv_packages

    return get_venv_packages(SimpleNamespace(version=CONTROLLER_PYTHON))["pip"]


def main() -> None:
    source = Path(__file__).with_name("get_pip_offline.py")
    version = pip_version()
    target = Path(os.path.expanduser(cache_path_template() % version.replace(".", "_")))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    print(f"ansible-test pip {version} bootstrap: {target}")


if __name__ == "__main__":
    main()
