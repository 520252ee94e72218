# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures shared by the test suites that work on the built collection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tarball(tmp_path_factory) -> Path:
    """The collection tarball: the one `make package` built, named in
    HUMANITEC_COLLECTION_TARBALL, or one built here from the repository."""
    given = os.environ.get("HUMANITEC_COLLECTION_TARBALL")
    if given:
        return Path(given)

    output = tmp_path_factory.mktemp("dist")
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    built = subprocess.run(
        [str(galaxy), "collection", "build", "--output-path", str(output), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    meta = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
    return output / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
