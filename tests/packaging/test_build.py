# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection artifact: what the tarball holds, and that it installs and documents itself.

`make packaging` builds the tarball and names it in HUMANITEC_COLLECTION_TARBALL; without that
variable the tests build their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"

# What a release may hold: the content, its docs and changelog, and the build's own metadata.
SHIPPED_DIRECTORIES = ("plugins/", "meta/", "docs/", "roles/", "playbooks/", "extensions/awx/")
SHIPPED_FILES = {
    "README.md",
    "LICENSE",
    "MANIFEST.json",
    "FILES.json",
    "CHANGELOG.md",
    "CHANGELOG.rst",
    "changelogs/",
    "extensions/",
    "changelogs/changelog.yaml",
    "changelogs/config.yaml",
}
# Never shipped, wherever they appear.
STRAY_PARTS = {"__pycache__", ".git", ".venv", ".cache", ".pytest_cache", ".ruff_cache", "tests"}

MODULES = sorted(path.stem for path in (REPO / "plugins/modules").glob("*.py"))
ROLES = sorted(path.parent.parent.name for path in REPO.glob("roles/*/meta/argument_specs.yml"))


def shipped(name: str) -> bool:
    if STRAY_PARTS.intersection(name.split("/")) or name.endswith((".pyc", ".tar.gz")):
        return False
    return name in SHIPPED_FILES or name.startswith(SHIPPED_DIRECTORIES)


def galaxy(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-galaxy"), *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture(scope="module")
def names(tarball) -> list[str]:
    with tarfile.open(tarball) as archive:
        return [member.name + ("/" if member.isdir() else "") for member in archive.getmembers()]


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory) -> dict:
    """The environment of an Ansible that sees only the collection installed from the tarball."""
    root = tmp_path_factory.mktemp("collections")
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(root),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_NOCOLOR": "1",
    }
    result = galaxy("collection", "install", "--offline", "-p", str(root), str(tarball), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return env


def test_tarball_holds_only_what_is_shipped(names):
    strays = [name for name in names if not shipped(name)]
    assert strays == []


def test_tarball_holds_every_plugin_and_the_metadata(names):
    plugins = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "plugins").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    expected = plugins + ["meta/runtime.yml", "LICENSE", "README.md"]
    assert [name for name in expected if name not in names] == []


def test_manifest_describes_the_collection(tarball):
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    info = manifest["collection_info"]
    for key in ("namespace", "name", "version"):
        assert info[key] == GALAXY[key]
    assert info["license"] == GALAXY["license"]


def test_installed_collection_verifies_offline(installed):
    root = installed["ANSIBLE_COLLECTIONS_PATH"]
    result = galaxy("collection", "verify", "--offline", "-p", root, FQCN, env=installed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully verified" in result.stdout


def ansible_doc(plugin_type: str, name: str, env: dict) -> dict:
    """ansible-doc's JSON for one plugin. It exits 0 for a missing plugin, so read the JSON."""
    command = [str(BIN / "ansible-doc"), "--json", "-t", plugin_type, f"{FQCN}.{name}"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout).get(f"{FQCN}.{name}") or {}


@pytest.mark.parametrize("module", MODULES)
def test_installed_module_is_documented(installed, module):
    doc = ansible_doc("module", module, installed)
    assert doc.get("doc", {}).get("module") == module
    assert doc["doc"]["collection"] == FQCN
    assert doc["doc"]["filename"].startswith(installed["ANSIBLE_COLLECTIONS_PATH"])
    assert doc.get("examples") and doc.get("return")


@pytest.mark.parametrize("role", ROLES)
def test_installed_role_is_documented(installed, role):
    doc = ansible_doc("role", role, installed)
    assert doc.get("collection") == FQCN
    assert "main" in doc.get("entry_points", {})
