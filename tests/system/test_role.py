# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role humanitec.platform.registries, applied by real ansible-playbook runs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from harness import (
    API_TOKEN,
    Emulator,
    PlaybookRun,
    ansible_env,
    recap,
    run_ansible,
)

HARBOR_PASSWORD = "harbor-pw-0b7d3e-role-test"
ECR_SECRET = "ecr-secret-f19a62-role-test"
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")

HARBOR = {
    "id": "harbor-main",
    "registry": "harbor.example.com/platform",
    "type": "basic",
    "creds": {"username": "robot-platform", "password": HARBOR_PASSWORD},
}
ECR = {
    "id": "ecr-main",
    "registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "type": "amazon_ecr",
    "creds": {"username": "AKIAROLETEST", "password": ECR_SECRET},
    "update_creds": "on_create",
}
DOCKERHUB = {"id": "dockerhub", "registry": "docker.io", "type": "public"}


def run_role(
    emulator: Emulator, play_vars: dict, *args: str, env: dict | None = None
) -> PlaybookRun:
    """One play that applies the role with `play_vars`, as group_vars would set them."""
    play = {
        "name": "Apply the registries role",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": play_vars,
        "roles": ["humanitec.platform.registries"],
    }
    with tempfile.TemporaryDirectory(prefix="humanitec-role-") as workdir:
        playbook = Path(workdir) / "play.yml"
        playbook.write_text(yaml.safe_dump([play]))
        return run_ansible(
            ["ansible-playbook", "-i", "localhost,", str(playbook), *args],
            {**ansible_env(emulator), **(env or {})},
        )


def writes(emulator: Emulator) -> list[tuple[str, str]]:
    return [
        (entry["method"], entry["path"])
        for entry in emulator.requests()
        if entry["method"] in WRITE_METHODS
    ]


def seed(emulator: Emulator, *records: dict) -> None:
    for record in records:
        emulator.seed(record)
    emulator.clear_requests()


# --- meta/argument_specs.yml: bad input fails before any request ----------------------------


def test_a_misspelled_item_key_fails_before_any_request(emulator):
    item = {"id": "harbor-main", "regsitry": "harbor.example.com", "type": "basic"}

    run = run_role(emulator, {"humanitec_registries": [item]})

    assert run.returncode != 0
    assert "Validation of arguments failed" in run.output
    assert "regsitry" in run.output
    assert "humanitec_registries" in run.output
    assert emulator.requests() == []


@pytest.mark.parametrize(
    ("play_vars", "named"),
    [
        pytest.param(
            {"humanitec_registries": [{**DOCKERHUB, "enable_ci": "sometimes"}]},
            "enable_ci",
            id="item-bool",
        ),
        pytest.param(
            {"humanitec_registries": [{**DOCKERHUB, "state": "gone"}]}, "state", id="item-choice"
        ),
        pytest.param(
            {"humanitec_registries": [{**HARBOR, "creds": f"robot:{HARBOR_PASSWORD}"}]},
            "creds",
            id="item-dict",
        ),
        pytest.param(
            {"humanitec_registries": [{"registry": "docker.io", "type": "public"}]},
            "id",
            id="item-without-id",
        ),
        pytest.param(
            {"humanitec_registries": [{**HARBOR, "creds": {"username": "robot"}}]},
            "password",
            id="creds-without-password",
        ),
        pytest.param({"humanitec_registries": {"dockerhub": DOCKERHUB}}, "list", id="not-a-list"),
        pytest.param(
            {"humanitec_registries": [], "humanitec_registries_exclusive": "perhaps"},
            "humanitec_registries_exclusive",
            id="exclusive-bool",
        ),
    ],
)
def test_a_wrong_type_fails_before_any_request(emulator, play_vars, named):
    run = run_role(emulator, play_vars)

    assert run.returncode != 0
    assert "Validation of arguments failed" in run.output
    assert named in run.output
    assert HARBOR_PASSWORD not in run.output
    assert emulator.requests() == []


def test_duplicate_ids_fail_before_any_request(emulator):
    run = run_role(emulator, {"humanitec_registries": [DOCKERHUB, HARBOR, DOCKERHUB]})

    assert run.returncode != 0
    assert "humanitec_registries lists these ids more than once: dockerhub" in run.output
    assert emulator.requests() == []


@pytest.mark.parametrize("variable", ["HUMANITEC_TOKEN", "HUMANITEC_ORG"])
def test_a_missing_connection_fails_before_any_request(emulator, variable):
    run = run_role(emulator, {"humanitec_registries": [DOCKERHUB]}, env={variable: ""})

    assert run.returncode != 0
    assert "Set humanitec_api_token (or the HUMANITEC_TOKEN environment variable)" in run.output
    assert emulator.requests() == []


def test_connection_variables_take_precedence_over_the_environment(emulator):
    play_vars = {
        "humanitec_registries": [DOCKERHUB],
        "humanitec_api_url": emulator.url,
        "humanitec_api_token": emulator.token,
        "humanitec_org_id": "acme",
    }

    run = run_role(
        emulator,
        play_vars,
        env={"HUMANITEC_TOKEN": "wrong", "HUMANITEC_ORG": "nowhere", "HUMANITEC_API_PREFIX": ""},
    )

    assert run.returncode == 0, run.output
    assert "dockerhub" in emulator.registries()


# --- reconciling ----------------------------------------------------------------------------


def test_the_list_is_applied_and_a_rerun_changes_nothing(emulator):
    play_vars = {"humanitec_registries": [HARBOR, ECR, DOCKERHUB]}

    first = run_role(emulator, play_vars)

    assert first.returncode == 0, first.output
    assert recap(first)["changed"] == 1
    # Named even though no_log hides the label of the items with creds.
    assert "Changed: harbor-main, ecr-main, dockerhub" in first.stdout
    assert set(emulator.registries()) == {"humanitec", "harbor-main", "ecr-main", "dockerhub"}
    assert emulator.stored_creds("harbor-main")["password"] == HARBOR_PASSWORD
    assert emulator.stored_creds("ecr-main")["password"] == ECR_SECRET

    emulator.clear_requests()
    second = run_role(emulator, play_vars)

    assert second.returncode == 0, second.output
    assert recap(second)["changed"] == 0
    assert "Changed:" not in second.stdout
    assert writes(emulator) == []


def test_without_exclusive_unnamed_registries_are_kept(emulator):
    seed(emulator, {"id": "legacy-quay", "registry": "quay.io/legacy", "type": "public"})

    run = run_role(emulator, {"humanitec_registries": [DOCKERHUB]})

    assert run.returncode == 0, run.output
    assert set(emulator.registries()) == {"humanitec", "legacy-quay", "dockerhub"}


def test_exclusive_deletes_unnamed_registries_but_never_humanitec(emulator):
    seed(
        emulator,
        {"id": "legacy-quay", "registry": "quay.io/legacy", "type": "public"},
        {"id": "old-gcr", "registry": "eu.gcr.io/old", "type": "google_gcr"},
        {"id": "harbor-main", "registry": "harbor.example.com/old", "type": "public"},
    )
    play_vars = {"humanitec_registries": [HARBOR], "humanitec_registries_exclusive": True}

    run = run_role(emulator, play_vars)

    assert run.returncode == 0, run.output
    assert set(emulator.registries()) == {"humanitec", "harbor-main"}
    assert emulator.registries()["harbor-main"]["registry"] == "harbor.example.com/platform"
    deletes = sorted(path for method, path in writes(emulator) if method == "DELETE")
    assert deletes == ["/orgs/acme/registries/legacy-quay", "/orgs/acme/registries/old-gcr"]

    emulator.clear_requests()
    empty = run_role(emulator, {"humanitec_registries": [], "humanitec_registries_exclusive": True})

    assert empty.returncode == 0, empty.output
    assert set(emulator.registries()) == {"humanitec"}
    assert writes(emulator) == [("DELETE", "/orgs/acme/registries/harbor-main")]


def test_exclusive_counts_absent_items_as_named(emulator):
    seed(emulator, {"id": "legacy-quay", "registry": "quay.io/legacy", "type": "public"})
    play_vars = {
        "humanitec_registries": [DOCKERHUB, {"id": "legacy-quay", "state": "absent"}],
        "humanitec_registries_exclusive": True,
    }

    run = run_role(emulator, play_vars)

    assert run.returncode == 0, run.output
    assert set(emulator.registries()) == {"humanitec", "dockerhub"}
    # Deleted once, by its own item (applied first), not again by exclusive mode.
    assert writes(emulator) == [
        ("DELETE", "/orgs/acme/registries/legacy-quay"),
        ("POST", "/orgs/acme/registries"),
    ]


def test_deletions_run_first_so_a_registry_name_can_move_to_a_new_id(emulator):
    seed(emulator, {"id": "harbor-old", "registry": "harbor.example.com/platform", "type": "basic"})
    play_vars = {"humanitec_registries": [HARBOR, {"id": "harbor-old", "state": "absent"}]}

    run = run_role(emulator, play_vars)

    assert run.returncode == 0, run.output
    assert set(emulator.registries()) == {"humanitec", "harbor-main"}


def test_check_mode_reports_changes_and_writes_nothing(emulator):
    seed(
        emulator,
        {**HARBOR, "enable_ci": False},
        {"id": "legacy-quay", "registry": "quay.io/legacy", "type": "public"},
    )
    before = emulator.hook("GET", "state")
    play_vars = {
        "humanitec_registries": [
            {**HARBOR, "enable_ci": True, "creds": {"username": "robot", "password": "new-pw"}},
            DOCKERHUB,
        ],
        "humanitec_registries_exclusive": True,
    }

    run = run_role(emulator, play_vars, "--check")

    assert run.returncode == 0, run.output
    assert recap(run)["changed"] == 2
    assert "Would change: harbor-main, dockerhub" in run.stdout
    assert "legacy-quay" in run.stdout
    assert writes(emulator) == []
    assert emulator.hook("GET", "state") == before


# --- secrets never reach the output --------------------------------------------------------


@pytest.mark.parametrize("verbosity", ["-v", "-vvv"])
def test_passwords_never_reach_the_output(emulator, verbosity):
    play_vars = {"humanitec_registries": [HARBOR, ECR, DOCKERHUB]}

    run = run_role(emulator, play_vars, verbosity, "--diff")

    assert run.returncode == 0, run.output
    for secret in (HARBOR_PASSWORD, ECR_SECRET, API_TOKEN):
        assert secret not in run.output
    # Items without creds are shown with their label, the id and the state.
    assert "(item=dockerhub (present))" in run.output


def test_a_failing_item_with_creds_is_named_without_its_password(emulator):
    broken = {**HARBOR, "id": "harbor-new"}
    del broken["registry"]
    play_vars = {"humanitec_registries": [DOCKERHUB, broken]}

    run = run_role(emulator, play_vars, "-v")

    assert run.returncode != 0
    expected = 'Could not apply harbor-new: Registry "harbor-new" does not exist; to create it'
    assert expected in run.output
    assert HARBOR_PASSWORD not in run.output
    assert API_TOKEN not in run.output
    # The other items were still applied; exclusive deletions would not have run.
    assert "dockerhub" in emulator.registries()
