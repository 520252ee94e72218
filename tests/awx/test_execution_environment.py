# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An execution environment that installs the collection gets the modules' Python packages.

ansible-builder finds a collection's requirements by introspection, and introspection runs in
the image build, not in `ansible-builder create`: `create` only writes the build context (the
Containerfile, the galaxy requirements, the files to copy and the builder's scripts). There is
no container engine here, so these tests check the context that `create` writes, then do what
its Containerfile does in the galaxy and builder stages: install the collection from the
context's requirements.yml, and run the context's own introspect.py over it.

`make packaging` names its tarball in HUMANITEC_COLLECTION_TARBALL; without it, one is built.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"
EE_METADATA = "meta/execution-environment.yml"
# The line introspection writes for each package a collection asks for.
INTROSPECTED_REQUESTS = f"requests  # from collection {FQCN}"
ANSIBLE_HOME = Path(tempfile.gettempdir()) / "humanitec-ee-test-ansible-home"


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    # Keep ansible-galaxy's caches out of the user's ~/.ansible and out of the repository.
    env["ANSIBLE_HOME"] = str(ANSIBLE_HOME)
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, f"{command}\n{completed.stdout}\n{completed.stderr}"
    return completed


def requirement_names(text: str) -> list[str]:
    """Package names of a pip requirements file, without comments, versions or markers."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0].lower() for line in lines if line]


# --- The collection's own metadata --------------------------------------------------------


@pytest.fixture(scope="module")
def ee_metadata() -> dict:
    return yaml.safe_load((REPO / EE_METADATA).read_text(encoding="utf-8"))


def test_metadata_points_at_the_python_requirements(ee_metadata):
    dependencies = ee_metadata["dependencies"]
    assert dependencies["python"] == "meta/ee-requirements.txt"
    # Paths are relative to the collection root, which is all introspection accepts.
    for path in dependencies.values():
        assert not Path(path).is_absolute() and (REPO / path).is_file(), path


def test_requirements_are_requests_unpinned(ee_metadata):
    text = (REPO / ee_metadata["dependencies"]["python"]).read_text(encoding="utf-8")
    assert requirement_names(text) == ["requests"]
    # No pin or upper bound: the image's other collections must be free to pick the version.
    assert [line.strip() for line in text.splitlines() if line.strip()] == ["requests"]


def test_no_system_packages(ee_metadata):
    """The modules need no system package; a bindep file would appear here with them."""
    assert "system" not in ee_metadata["dependencies"]
    assert not (REPO / "meta/ee-bindep.txt").exists()
    assert not (REPO / "bindep.txt").exists()


# --- The artifact and an execution environment built from it -------------------------------


def test_the_tarball_carries_the_metadata(tarball):
    with tarfile.open(tarball) as archive:
        for name in (EE_METADATA, "meta/ee-requirements.txt"):
            member = archive.extractfile(name)
            assert member is not None, f"{name} is not in {tarball.name}"
            assert member.read().decode("utf-8") == (REPO / name).read_text(encoding="utf-8")


def execution_environment(tarball: Path) -> dict:
    """A version 3 definition that installs the collection from the built tarball."""
    return {
        "version": 3,
        "images": {"base_image": {"name": "quay.io/ansible/awx-ee:latest"}},
        "dependencies": {
            "galaxy": {
                "collections": [{"name": f"collections/{tarball.name}", "type": "file"}],
            },
        },
        "additional_build_files": [{"src": tarball.name, "dest": "collections"}],
    }


@pytest.fixture(scope="module")
def build_context(tmp_path_factory, tarball) -> Path:
    """`ansible-builder create` on a definition beside a copy of the tarball."""
    workdir = tmp_path_factory.mktemp("ee")
    shutil.copy(tarball, workdir / tarball.name)
    definition = workdir / "execution-environment.yml"
    definition.write_text(yaml.safe_dump(execution_environment(tarball)), encoding="utf-8")
    run(
        [str(BIN / "ansible-builder"), "create", "--file", str(definition)]
        + ["--context", str(workdir / "context"), "--output-filename", "Containerfile"],
        workdir,
    )
    return workdir / "context"


def test_the_documented_definition_is_the_tested_one(tarball):
    """docs/awx.md shows the definition these tests build a context from."""
    text = (REPO / "docs" / "awx.md").read_text(encoding="utf-8")
    shown = [
        yaml.safe_load(block)
        for block in re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S)
        if "additional_build_files:" in block
    ]
    assert shown == [execution_environment(tarball)]


def test_create_writes_the_collection_into_the_context(build_context, tarball):
    build = build_context / "_build"
    requirements = yaml.safe_load((build / "requirements.yml").read_text(encoding="utf-8"))
    assert requirements == {
        "collections": [{"name": f"collections/{tarball.name}", "type": "file"}]
    }
    copied = build / "collections" / tarball.name
    assert copied.read_bytes() == tarball.read_bytes()


def test_create_leaves_the_python_requirements_to_introspection(build_context):
    """The definition names no Python package: requests can only come from the collection."""
    assert not (build_context / "_build" / "requirements.txt").exists()
    containerfile = (build_context / "Containerfile").read_text(encoding="utf-8")
    assert "ansible-galaxy collection install" in containerfile
    assert re.search(r"^RUN .*introspect\.py introspect .*--write-pip=", containerfile, re.M)
    assert (build_context / "_build" / "scripts" / "introspect.py").is_file()


@pytest.fixture(scope="module")
def installed_collections(build_context) -> Path:
    """The galaxy stage: install requirements.yml from the context, as the build does."""
    target = build_context.parent / "collections"
    build = build_context / "_build"
    run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--offline"]
        + ["-r", "requirements.yml", "--collections-path", str(target)],
        build,
    )
    return target


def test_build_time_introspection_lists_requests(build_context, installed_collections):
    """The builder stage: the context's introspect.py over the installed collections."""
    output = build_context.parent / "introspected"
    script = build_context / "_build" / "scripts" / "introspect.py"
    run(
        [sys.executable, str(script), "introspect", str(installed_collections)]
        + [f"--write-pip={output}/requirements.txt", f"--write-bindep={output}/bindep.txt"],
        build_context.parent,
    )
    pip_lines = (output / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert INTROSPECTED_REQUESTS in pip_lines
    assert requirement_names("\n".join(pip_lines)) == ["requests"]
    assert not (output / "bindep.txt").exists(), "no system packages"


def test_ansible_builder_introspect_lists_requests(installed_collections):
    completed = run(
        [str(BIN / "ansible-builder"), "introspect", str(installed_collections)],
        installed_collections.parent,
    )
    document = yaml.safe_load(completed.stdout.split("---", 1)[1])
    assert document == {"python": [INTROSPECTED_REQUESTS], "system": []}
