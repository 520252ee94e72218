# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""humanitec_registry_info in real ansible-playbook and ansible runs against the emulator.

Starting Ansible costs seconds, so each fixture runs one playbook with many tasks, and reads
the emulator's request log after every task to tell which requests each task sent.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from harness import (
    API_TOKEN,
    ORG_ID,
    Emulator,
    PlaybookRun,
    ansible_env,
    playbook_with_results,
    run_adhoc,
    run_ansible,
)

INFO = "humanitec.platform.humanitec_registry_info"
LIST_PATH = f"/orgs/{ORG_ID}/registries"
WRONG_TOKEN = "tok-wrong-7a8b9c0d"
HTTP_WARNING = (
    "api_url uses plain http to example.invalid: the API token travels unencrypted. Use https."
)
UNKNOWN_ORG_MESSAGE = (
    'Could not read registries of organization "nope": GET /orgs/nope/registries returned 404: '
    'Organization "nope" not found'
)
WRONG_TOKEN_MESSAGE = (
    f'Could not read registries of organization "{ORG_ID}": GET {LIST_PATH} returned 401: '
    "Missing or invalid bearer token in the Authorization header "
    "(check that api_token (HUMANITEC_TOKEN) is a valid Humanitec API token)"
)

# Stored records with fixed timestamps, so that the expected results can be written out.
BUILTIN_RECORD = {
    "id": "humanitec",
    "registry": "registry.humanitec.io",
    "type": "basic",
    "enable_ci": False,
    "secrets": {},
    "created_at": "2020-05-22T14:53:27.000Z",
    "created_by": "humanitec",
}
HARBOR_RECORD = {
    "id": "harbor-main",
    "registry": "harbor.example.com/platform",
    "type": "basic",
    "enable_ci": True,
    "secrets": {},
    "created_at": "2026-11-30T09:15:00Z",
    "created_by": "platform-team@example.com",
}
MIRROR_RECORD = {
    "id": "private-mirror",
    "registry": "mirror.example.com",
    "type": "secret_ref",
    "enable_ci": False,
    "secrets": {
        "*": {"namespace": "default", "secret": "mirror-pull"},
        "prod-eu": {"namespace": "registry-secrets", "secret": "mirror-pull-eu"},
    },
    "created_at": "2026-12-01T10:00:00.123Z",
    "created_by": "ops@example.com",
}
HARBOR_CREDS = {
    "username": "robot$platform",
    "password": "harbor-secret-9d2a",
    "expires": "2027-01-31T00:00:00Z",
}

# What the module returns for them: timestamps always with milliseconds.
BUILTIN_VIEW = BUILTIN_RECORD
HARBOR_VIEW = {**HARBOR_RECORD, "created_at": "2026-11-30T09:15:00.000Z"}
MIRROR_VIEW = MIRROR_RECORD
NO_CREDS_VIEW = {"username": "", "password": "", "expires": None}
HARBOR_CREDS_VIEW = {**HARBOR_CREDS, "expires": "2027-01-31T00:00:00.000Z"}


def seed_state(emulator: Emulator) -> None:
    records = [BUILTIN_RECORD, HARBOR_RECORD, MIRROR_RECORD]
    acme = {
        "registries": {record["id"]: record for record in records},
        "creds": {"harbor-main": HARBOR_CREDS},
    }
    other = {"registries": {"humanitec": BUILTIN_RECORD}}
    emulator.hook("PUT", "state", {"orgs": {ORG_ID: acme, "globex": other}})
    emulator.clear_requests()


def get(path: str, status: int) -> dict:
    return {"method": "GET", "path": path, "status": status, "body": None}


class LoggedRun:
    """One playbook run of named tasks; each task's result and the requests it sent."""

    def __init__(self, run: PlaybookRun, names: list[str], env: dict) -> None:
        self.run = run
        self.env = env
        self.result = {}
        self.log = {}
        seen = 0
        for index, name in enumerate(names):
            self.result[name] = run.results[2 * index]
            full_log = run.results[2 * index + 1]["ansible_facts"]["request_log"]
            self.log[name] = full_log[seen:]
            seen = len(full_log)


def with_log_reads(named_tasks: dict[str, dict]) -> list[dict]:
    """After every task, read the emulator's request log."""
    # set_fact with a lookup runs in the controller: much cheaper than a module such as uri.
    read_log = {
        "ansible.builtin.set_fact": {
            "request_log": "{{ lookup('ansible.builtin.url', emulator_url ~ '/_emulator/requests',"
            " split_lines=false) | from_json }}"
        }
    }
    tasks = []
    for name, task in named_tasks.items():
        tasks += [{"name": name, **task}, {"name": f"Read the log after {name}", **read_log}]
    return tasks


def run_play(emulator: Emulator, tasks: list[dict], module_defaults: dict, env: dict):
    """Like harness.run_tasks, with play-level module_defaults and the given environment."""
    with tempfile.TemporaryDirectory(prefix="humanitec-play-") as workdir:
        results_file = Path(workdir) / "results.json"
        plays = playbook_with_results(tasks, results_file, {"emulator_url": emulator.url})
        plays[0]["module_defaults"] = module_defaults
        playbook = Path(workdir) / "play.yml"
        playbook.write_text(yaml.safe_dump(plays))
        run = run_ansible(["ansible-playbook", "-i", "localhost,", str(playbook)], env)
        if results_file.exists():
            run.results = json.loads(results_file.read_text())
    return run


def adhoc_result(run: PlaybookRun) -> dict:
    """The JSON of `localhost | STATUS => {...}` in one-line output."""
    [line] = [line for line in run.stdout.splitlines() if line.startswith("localhost | ")]
    return json.loads(line.partition(" => ")[2])


# --- One playbook: the connection from play-level module_defaults, no HUMANITEC_* variables --

TASKS = {
    "list": {INFO: {}},
    "one": {INFO: {"id": "harbor-main"}},
    "missing": {INFO: {"id": "no-such-registry"}},
    "creds": {INFO: {"include_creds": True}},
    "check mode": {INFO: {}, "check_mode": True},
    "flaky": {INFO: {"id": "private-mirror"}},
    "unknown org": {INFO: {"org_id": "nope"}},
    "wrong token": {INFO: {"api_token": WRONG_TOKEN}},
    "empty token": {INFO: {"api_token": ""}},
    "bad url": {INFO: {"api_url": "api.humanitec.io/v1"}},
    "plain http": {
        INFO: {"api_url": "http://example.invalid", "max_retries": 0, "request_timeout": 2}
    },
}


@pytest.fixture(scope="module")
def play(emulator_process) -> LoggedRun:
    emulator = Emulator(emulator_process)
    emulator.reset()
    seed_state(emulator)
    # One 503 for the "flaky" task only: no other single-id task reads that record.
    emulator.fault(status=503, method="GET", path=f"{LIST_PATH}/private-mirror")
    connection = {"api_url": emulator.url, "api_token": API_TOKEN, "org_id": ORG_ID}
    module_defaults = {"group/humanitec.platform.humanitec": connection}

    # ansible_env without an emulator leaves every HUMANITEC_* variable out.
    env = ansible_env(None)

    run = run_play(emulator, with_log_reads(TASKS), module_defaults, env)

    assert run.returncode == 0, run.output
    return LoggedRun(run, list(TASKS), env)


def test_list_returns_every_record(play):
    result = play.result["list"]

    assert (result["failed"], result["changed"]) == (False, False)
    assert result["registries"] == [BUILTIN_VIEW, HARBOR_VIEW, MIRROR_VIEW]
    assert play.log["list"] == [get(LIST_PATH, 200)]


def test_one_id_returns_that_record(play):
    result = play.result["one"]

    assert (result["failed"], result["changed"]) == (False, False)
    assert result["registries"] == [HARBOR_VIEW]
    assert play.log["one"] == [get(f"{LIST_PATH}/harbor-main", 200)]


def test_missing_id_returns_an_empty_list(play):
    result = play.result["missing"]

    assert (result["failed"], result["changed"]) == (False, False)
    assert result["registries"] == []
    assert play.log["missing"] == [get(f"{LIST_PATH}/no-such-registry", 404)]


def test_include_creds_adds_the_creds_of_each(play):
    result = play.result["creds"]

    assert (result["failed"], result["changed"]) == (False, False)
    assert result["registries"] == [
        {**BUILTIN_VIEW, "creds": NO_CREDS_VIEW},
        {**HARBOR_VIEW, "creds": HARBOR_CREDS_VIEW},
        {**MIRROR_VIEW, "creds": NO_CREDS_VIEW},
    ]
    list_request, *creds_requests = play.log["creds"]
    assert list_request == get(LIST_PATH, 200)
    # The creds requests run concurrently, so their order is not fixed.
    assert sorted(creds_requests, key=lambda entry: entry["path"]) == [
        get(f"{LIST_PATH}/harbor-main/creds", 200),
        get(f"{LIST_PATH}/humanitec/creds", 200),
        get(f"{LIST_PATH}/private-mirror/creds", 200),
    ]


def test_check_mode_reads_the_same(play):
    result = play.result["check mode"]

    assert (result["failed"], result["changed"]) == (False, False)
    assert result["registries"] == [BUILTIN_VIEW, HARBOR_VIEW, MIRROR_VIEW]
    assert play.log["check mode"] == [get(LIST_PATH, 200)]


def test_a_503_is_retried_and_the_task_succeeds(play):
    result = play.result["flaky"]

    assert (result["failed"], result["changed"]) == (False, False)
    assert result["registries"] == [MIRROR_VIEW]
    path = f"{LIST_PATH}/private-mirror"
    assert play.log["flaky"] == [get(path, 503), get(path, 200)]


def test_module_defaults_of_the_group_give_the_connection(play):
    assert [name for name in play.env if name.startswith("HUMANITEC_")] == []
    assert play.result["list"]["registries"] == [BUILTIN_VIEW, HARBOR_VIEW, MIRROR_VIEW]
    assert play.log["list"] == [get(LIST_PATH, 200)]


def test_unknown_org_fails_with_the_api_message(play):
    result = play.result["unknown org"]

    assert result["failed"] is True
    assert result["msg"] == UNKNOWN_ORG_MESSAGE
    assert (result["status"], result["api_error"]) == (404, 'Organization "nope" not found')
    assert play.log["unknown org"] == [get("/orgs/nope/registries", 404)]


def test_wrong_token_fails_naming_the_token_as_cause(play):
    result = play.result["wrong token"]

    assert result["failed"] is True
    assert result["msg"] == WRONG_TOKEN_MESSAGE
    assert result["status"] == 401
    assert result["api_error"] == "Missing or invalid bearer token in the Authorization header"
    assert play.log["wrong token"] == [get(LIST_PATH, 401)]
    for token in (WRONG_TOKEN, API_TOKEN):
        assert token not in json.dumps(result)
        assert token not in play.run.output


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty token", "Invalid options: api_token must not be empty (set it or HUMANITEC_TOKEN)"),
        (
            "bad url",
            "Invalid options: api_url must be an http:// or https:// URL with a host, "
            "got 'api.humanitec.io/v1'",
        ),
    ],
)
def test_invalid_options_fail_before_any_request(play, name, message):
    result = play.result[name]

    assert result["failed"] is True
    assert result["msg"] == message
    assert play.log[name] == []


def test_plain_http_to_another_host_warns_and_fails_cleanly(play):
    result = play.result["plain http"]

    assert result["failed"] is True
    assert result["warnings"] == [HTTP_WARNING]
    assert f"[WARNING]: {HTTP_WARNING}" in play.run.output
    assert result["msg"] == (
        f'Could not read registries of organization "{ORG_ID}": GET {LIST_PATH} failed: '
        "connection failed (ConnectionError)"
    )
    assert (result["status"], result["api_error"]) == (None, "connection failed (ConnectionError)")
    assert play.log["plain http"] == []


def test_output_has_no_traceback(play):
    assert "Traceback" not in play.run.output
    assert "Traceback" not in json.dumps(play.run.results)


# --- Ad-hoc runs ----------------------------------------------------------------------------


def test_adhoc_with_the_environment_only(emulator):
    seed_state(emulator)

    run = run_adhoc(emulator, INFO)

    assert run.returncode == 0, run.output
    result = adhoc_result(run)
    assert result["changed"] is False
    assert result["registries"] == [BUILTIN_VIEW, HARBOR_VIEW, MIRROR_VIEW]
    assert emulator.requests() == [get(LIST_PATH, 200)]
    assert "Traceback" not in run.output


def test_adhoc_without_org_fails_naming_org_id(emulator):
    env = {"HUMANITEC_TOKEN": API_TOKEN, "HUMANITEC_API_PREFIX": emulator.url}

    run = run_adhoc(None, INFO, **env)

    assert run.returncode == 2, run.output
    assert adhoc_result(run)["msg"] == "missing required arguments: org_id"
    assert emulator.requests() == []
    assert "Traceback" not in run.output
