# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's playbooks (playbooks/), run by name as humanitec.platform.<name>."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from harness import (
    API_TOKEN,
    BIN_DIR,
    PLAYBOOK_TIMEOUT,
    Emulator,
    PlaybookRun,
    ansible_env,
    recap,
    run_ansible,
)

ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ECR_KEY_ID = "AKIAPLAYBOOKTEST"
ECR_SECRET = "ecr-secret-9d41c2-playbook-test"
OLD_PASSWORD = "old-pass-51aa07-playbook-test"
NEW_PASSWORD = "new-pass-c3e88f-playbook-test"
VAULT_PASSWORD = "vault-pass-for-the-test"


def run_playbook(emulator: Emulator, name: str, *args: str) -> PlaybookRun:
    """`ansible-playbook humanitec.platform.<name>`, as a user runs a collection playbook."""
    return run_ansible(
        ["ansible-playbook", f"humanitec.platform.{name}", *args], ansible_env(emulator)
    )


def vaulted_vars(tmp_path: Path, variables: dict) -> list[str]:
    """Encrypt `variables` with ansible-vault; the arguments that pass them to a playbook."""
    password_file = tmp_path / "vault-password"
    password_file.write_text(VAULT_PASSWORD)
    password_file.chmod(0o600)
    plain = tmp_path / "plain.yml"
    plain.write_text(yaml.safe_dump(variables))
    encrypted = tmp_path / "vault.yml"
    subprocess.run(
        [
            str(BIN_DIR / "ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(password_file),
            "--output",
            str(encrypted),
            str(plain),
        ],
        env=ansible_env(),
        capture_output=True,
        check=True,
        timeout=PLAYBOOK_TIMEOUT,
    )
    plain.unlink()
    assert encrypted.read_text().startswith("$ANSIBLE_VAULT;")
    return ["--vault-password-file", str(password_file), "-e", f"@{encrypted}"]


def api_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_requests(emulator: Emulator) -> list[tuple[str, str]]:
    return [
        (entry["method"], entry["path"])
        for entry in emulator.requests()
        if entry["method"] in ("POST", "PATCH", "PUT", "DELETE")
    ]


def assert_no_secret(run: PlaybookRun, *secrets: str) -> None:
    for secret in (API_TOKEN, *secrets):
        assert secret not in run.output


# --- onboard_ecr ---------------------------------------------------------------------------


def onboard_args(tmp_path: Path, secret: str = ECR_SECRET) -> list[str]:
    vault = vaulted_vars(
        tmp_path,
        {"vault_ecr_access_key_id": ECR_KEY_ID, "vault_ecr_secret_access_key": secret},
    )
    return [*vault, "-e", "ecr_registry_id=ecr-prod", "-e", f"ecr_registry={ECR_HOST}", "-v"]


def test_onboard_ecr_creates_the_registry_with_the_vaulted_key(emulator, tmp_path):
    run = run_playbook(emulator, "onboard_ecr", *onboard_args(tmp_path))

    assert run.returncode == 0, run.output
    assert recap(run)["changed"] == 1
    assert f"Registry ecr-prod ({ECR_HOST}) onboarded" in run.stdout
    record = emulator.registries()["ecr-prod"]
    assert (record["registry"], record["type"], record["enable_ci"]) == (
        ECR_HOST,
        "amazon_ecr",
        False,
    )
    stored = emulator.stored_creds("ecr-prod")
    assert (stored["username"], stored["password"]) == (ECR_KEY_ID, ECR_SECRET)
    assert_no_secret(run, ECR_SECRET)


def test_onboard_ecr_rerun_sends_no_key(emulator, tmp_path):
    first = run_playbook(emulator, "onboard_ecr", *onboard_args(tmp_path))
    assert first.returncode == 0, first.output
    emulator.clear_requests()

    # on_create: a different key in the vault does not overwrite the registry's key.
    rerun = run_playbook(emulator, "onboard_ecr", *onboard_args(tmp_path, "another-secret"))

    assert rerun.returncode == 0, rerun.output
    assert recap(rerun)["changed"] == 0
    assert "was already onboarded" in rerun.stdout
    assert write_requests(emulator) == []
    assert emulator.stored_creds("ecr-prod")["password"] == ECR_SECRET


def test_onboard_ecr_needs_the_vaulted_key(emulator):
    run = run_playbook(
        emulator, "onboard_ecr", "-e", "ecr_registry_id=ecr-prod", "-e", f"ecr_registry={ECR_HOST}"
    )

    assert run.returncode != 0
    assert "vault_ecr_secret_access_key" in run.output
    assert emulator.requests() == []


# --- rotate_credentials --------------------------------------------------------------------


def seed_harbor(emulator: Emulator) -> None:
    emulator.seed(
        {
            "id": "harbor-main",
            "registry": "harbor.example.com/platform",
            "type": "basic",
            "creds": {
                "username": "robot-platform",
                "password": OLD_PASSWORD,
                "expires": "2026-12-31T00:00:00Z",
            },
        }
    )


def rotate_args(tmp_path: Path, *extra: str) -> list[str]:
    vault = vaulted_vars(tmp_path, {"vault_rotate_password": NEW_PASSWORD})
    return [
        *vault,
        "-e",
        "rotate_registry_id=harbor-main",
        "-e",
        "rotate_username=robot-platform",
        *extra,
        "-v",
    ]


def test_rotate_credentials_replaces_password_and_expiry(emulator, tmp_path):
    seed_harbor(emulator)

    run = run_playbook(
        emulator,
        "rotate_credentials",
        *rotate_args(tmp_path, "-e", "rotate_expires=2027-06-30T00:00:00Z"),
    )

    assert run.returncode == 0, run.output
    assert recap(run)["changed"] == 1
    assert "The credentials of registry harbor-main were rotated." in run.stdout
    assert emulator.stored_creds("harbor-main") == {
        "username": "robot-platform",
        "password": NEW_PASSWORD,
        "expires": "2027-06-30T00:00:00Z",
    }
    assert emulator.registries()["harbor-main"]["registry"] == "harbor.example.com/platform"
    assert_no_secret(run, NEW_PASSWORD, OLD_PASSWORD)


def test_rotate_credentials_rerun_is_unchanged(emulator, tmp_path):
    seed_harbor(emulator)
    args = rotate_args(tmp_path)
    assert run_playbook(emulator, "rotate_credentials", *args).returncode == 0
    emulator.clear_requests()

    rerun = run_playbook(emulator, "rotate_credentials", *args)

    assert rerun.returncode == 0, rerun.output
    assert recap(rerun)["changed"] == 0
    assert "were already current" in rerun.stdout
    assert write_requests(emulator) == []
    # Without rotate_expires the stored expiry is kept.
    assert emulator.stored_creds("harbor-main")["expires"] == "2026-12-31T00:00:00Z"


def test_rotate_credentials_of_a_missing_registry_fails_clearly(emulator, tmp_path):
    run = run_playbook(emulator, "rotate_credentials", *rotate_args(tmp_path))

    assert run.returncode != 0
    assert 'Registry "harbor-main" does not exist' in run.output
    assert write_requests(emulator) == []
    assert_no_secret(run, NEW_PASSWORD)


# --- point_clusters ------------------------------------------------------------------------


def point_args(*clusters: str, purge: bool = False) -> list[str]:
    variables = {
        "point_registry_id": "private-mirror",
        "point_clusters": list(clusters),
        "point_namespace": "registry-secrets",
        "point_secret": "mirror-pull",
        "point_purge": purge,
    }
    return ["-e", yaml.safe_dump(variables, default_flow_style=True).strip()]


def seed_mirror(emulator: Emulator) -> None:
    emulator.seed(
        {
            "id": "private-mirror",
            "registry": "mirror.example.com",
            "type": "secret_ref",
            "secrets": {"dev": {"namespace": "dev-secrets", "secret": "dev-pull"}},
        }
    )


def test_point_clusters_adds_the_secret_and_keeps_other_clusters(emulator):
    seed_mirror(emulator)

    run = run_playbook(emulator, "point_clusters", *point_args("prod-eu", "prod-us"))

    assert run.returncode == 0, run.output
    assert recap(run)["changed"] == 1
    assert "now has secrets for: dev, prod-eu, prod-us" in run.stdout
    assert emulator.registries()["private-mirror"]["secrets"] == {
        "dev": {"namespace": "dev-secrets", "secret": "dev-pull"},
        "prod-eu": {"namespace": "registry-secrets", "secret": "mirror-pull"},
        "prod-us": {"namespace": "registry-secrets", "secret": "mirror-pull"},
    }

    rerun = run_playbook(emulator, "point_clusters", *point_args("prod-eu", "prod-us"))
    assert rerun.returncode == 0, rerun.output
    assert recap(rerun)["changed"] == 0


def test_point_clusters_with_purge_keeps_only_the_listed_clusters(emulator):
    seed_mirror(emulator)

    run = run_playbook(emulator, "point_clusters", *point_args("prod-eu", "*", purge=True))

    assert run.returncode == 0, run.output
    assert emulator.registries()["private-mirror"]["secrets"] == {
        "*": {"namespace": "registry-secrets", "secret": "mirror-pull"},
        "prod-eu": {"namespace": "registry-secrets", "secret": "mirror-pull"},
    }


def test_point_clusters_rejects_a_string_for_the_cluster_list(emulator):
    seed_mirror(emulator)
    emulator.clear_requests()

    run = run_playbook(
        emulator,
        "point_clusters",
        "-e",
        "point_registry_id=private-mirror point_clusters=prod-eu",
        "-e",
        "point_namespace=registry-secrets point_secret=mirror-pull",
    )

    assert run.returncode != 0
    assert "point_clusters (a list of cluster ids)" in run.output
    assert write_requests(emulator) == []


# --- expiring_credentials ------------------------------------------------------------------


def seed_expiring(emulator: Emulator) -> dict[str, str]:
    """Registries whose creds expire at various times; returns the passwords by id."""
    now = datetime.now(UTC).replace(microsecond=0)
    expiries = {
        "expired-one": now - timedelta(days=3),
        "soon-one": now + timedelta(days=5),
        "later-one": now + timedelta(days=100),
        "no-expiry": None,
    }
    passwords = {}
    for index, (registry_id, expires) in enumerate(expiries.items()):
        passwords[registry_id] = f"pw-{registry_id}-7e5d0a"
        emulator.seed(
            {
                "id": registry_id,
                "registry": f"registry{index}.example.com",
                "type": "basic",
                "creds": {
                    "username": f"user-{registry_id}",
                    "password": passwords[registry_id],
                    "expires": api_timestamp(expires) if expires else None,
                },
            }
        )
    return {
        "passwords": passwords,
        "soon": api_timestamp(expiries["soon-one"]).replace("Z", ".000Z"),
        "expired": api_timestamp(expiries["expired-one"]).replace("Z", ".000Z"),
    }


def test_expiring_credentials_reports_ids_and_expiry_only(emulator):
    seeded = seed_expiring(emulator)
    emulator.clear_requests()

    run = run_playbook(emulator, "expiring_credentials", "-e", "expiring_within_days=30", "-v")

    assert run.returncode == 0, run.output
    assert "Registry credentials that expire within 30 days:" in run.stdout
    assert f"expired-one: expired {seeded['expired']}" in run.stdout
    assert f"soon-one: expires {seeded['soon']}" in run.stdout
    assert "later-one" not in run.stdout
    assert "no-expiry" not in run.stdout
    assert run.stdout.index("expired-one: expired") < run.stdout.index("soon-one: expires")
    assert_no_secret(run, *seeded["passwords"].values())
    for registry_id in seeded["passwords"]:
        assert f"user-{registry_id}" not in run.output
    assert write_requests(emulator) == []


def test_expiring_credentials_window_and_fail_switch(emulator):
    seed_expiring(emulator)

    wide = run_playbook(emulator, "expiring_credentials", "-e", "expiring_within_days=365")
    assert wide.returncode == 0, wide.output
    assert "later-one: expires" in wide.stdout

    alerting = run_playbook(
        emulator, "expiring_credentials", "-e", "expiring_within_days=1", "-e", "expiring_fail=true"
    )
    assert alerting.returncode != 0
    assert "1 registry credential(s) expire within the window." in alerting.output


def test_expiring_credentials_with_nothing_to_report(emulator):
    run = run_playbook(emulator, "expiring_credentials", "-e", "expiring_fail=true")

    assert run.returncode == 0, run.output
    assert "No registry credentials expire within 30 days." in run.stdout


@pytest.mark.parametrize(
    "name", ["onboard_ecr", "rotate_credentials", "point_clusters", "expiring_credentials"]
)
def test_playbooks_pass_syntax_check(name):
    completed = subprocess.run(
        [str(BIN_DIR / "ansible-playbook"), "--syntax-check", f"humanitec.platform.{name}"],
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
