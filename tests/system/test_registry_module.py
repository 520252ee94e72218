# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""humanitec_registry in real ansible-playbook runs against the emulator.

Several sequential steps share one playbook run. After every step a probe task reads the
emulator's stored state and request log, so each step is checked on its result, on what the
API stored and on the exact requests it sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from harness import ORG_ID, Emulator, run_tasks

MODULE = "humanitec.platform.humanitec_registry"
REGISTRIES = f"/orgs/{ORG_ID}/registries"
RETURNED_KEYS = {"id", "registry", "type", "enable_ci", "secrets", "created_at", "created_by"}
CREATED_BY = "ansible@example.com"

# Distinctive, so that any leak shows up in a plain substring search.
PASSWORD = "pw-Kq7v2Lx9-first-password"
NEW_PASSWORD = "pw-Zr4m8Tn1-second-password"
USERNAME = "robot-platform"
EXPIRES = "2027-01-31T00:00:00Z"
SECRET_REFS = {
    "prod-eu": {"namespace": "registry", "secret": "pull-eu"},
    "*": {"namespace": "default", "secret": "pull"},
}


def path_of(registry_id: str, creds: bool = False) -> str:
    return f"{REGISTRIES}/{registry_id}/creds" if creds else f"{REGISTRIES}/{registry_id}"


def registry_task(name: str, *, check: bool = False, **options) -> dict:
    task = {"name": name, MODULE: options}
    if check:
        task["check_mode"] = True
    return task


def check_then_apply(name: str, **options) -> list[dict]:
    """The same task twice: first in check mode, then for real."""
    return [
        registry_task(f"{name} (check mode)", check=True, **options),
        registry_task(name, **options),
    ]


def probe_task(url: str) -> dict:
    """Reads the emulator's state and request log into facts; no_log, as the state holds creds."""

    def hook(name: str) -> str:
        return f"{{{{ lookup('ansible.builtin.url', '{url}/_emulator/{name}', split_lines=False)"

    return {
        "name": "Read the emulator",
        "no_log": True,
        "ansible.builtin.set_fact": {
            "emulator_state": hook("state") + " | from_json }}",
            "emulator_log": hook("requests") + " | from_json }}",
        },
    }


@dataclass
class Step:
    """One module task: its result, the API requests it sent, and the stored state after it."""

    result: dict
    requests: list[dict]
    registries: dict
    creds: dict

    @property
    def calls(self) -> list[str]:
        return [f"{entry['method']} {entry['path']}" for entry in self.requests]

    @property
    def writes(self) -> list[dict]:
        return [entry for entry in self.requests if entry["method"] != "GET"]

    @property
    def statuses(self) -> list[int | str]:
        return [entry["status"] for entry in self.requests]


def run_steps(emulator: Emulator, tasks: list[dict], args=("--diff",)) -> tuple:
    """Run module tasks in one playbook, each followed by a probe; returns (run, steps)."""
    emulator.clear_requests()
    play = []
    for task in tasks:
        play += [task, probe_task(emulator.url)]
    run = run_tasks(emulator, play, args=args)
    assert len(run.results) == len(play), run.output

    steps, seen = [], 0
    for result, probe in zip(run.results[::2], run.results[1::2], strict=True):
        facts = probe["ansible_facts"]
        org = facts["emulator_state"]["orgs"][ORG_ID]
        log = facts["emulator_log"]
        steps.append(Step(result, log[seen:], org["registries"], org["creds"]))
        seen = len(log)
        assert_registry_view(result)
    return run, steps


def assert_registry_view(result: dict) -> None:
    """Every result has `registry`: the documented keys, or {}; never creds.

    Options that fail the argument spec fail before the module's own code could add it.
    """
    if result.get("failed") and "registry" not in result:
        assert result["msg"].startswith(("value of", "missing required")), result
        return
    registry = result["registry"]
    assert registry == {} or set(registry) == RETURNED_KEYS, registry


def assert_no_writes(step: Step) -> None:
    assert step.writes == [], step.requests


def record(
    registry_id: str,
    name: str,
    type_: str = "basic",
    enable_ci: bool = False,
    secrets: dict | None = None,
) -> dict:
    """The managed fields of a record, as the API returns and the diff shows them."""
    return {
        "id": registry_id,
        "registry": name,
        "type": type_,
        "enable_ci": enable_ci,
        "secrets": secrets or {},
    }


def without_creation(registry: dict) -> dict:
    return {
        key: value for key, value in registry.items() if key not in ("created_at", "created_by")
    }


def creds(password: str = PASSWORD, username: str = USERNAME, **extra) -> dict:
    return {"username": username, "password": password, **extra}


# --- The rhythm ---------------------------------------------------------------------------


@pytest.mark.parametrize("with_creds", [False, True], ids=["without-creds", "with-creds"])
def test_rhythm_from_check_mode_create_to_repeated_delete(emulator, with_creds):
    rid = "harbor-main"
    given = {"id": rid, "registry": "harbor.example.com/platform", "type": "basic"}
    changes = {"enable_ci": True, "secrets": SECRET_REFS}
    if with_creds:
        given["creds"] = creds(expires=EXPIRES)
        changes["creds"] = creds(NEW_PASSWORD, expires=EXPIRES)
    creds_read = [f"GET {path_of(rid, creds=True)}"] if with_creds else []

    run, steps = run_steps(
        emulator,
        [
            registry_task("Create (check mode)", check=True, **given),
            registry_task("Create", **given),
            registry_task("Create again", **given),
            registry_task("Update (check mode)", check=True, **{**given, **changes}),
            registry_task("Update", **{**given, **changes}),
            registry_task("Delete", id=rid, state="absent"),
            registry_task("Delete again", id=rid, state="absent"),
        ],
    )
    check_create, create, rerun, check_update, update, delete, delete_again = steps
    created = record(rid, "harbor.example.com/platform")
    updated = record(rid, "harbor.example.com/platform", enable_ci=True, secrets=SECRET_REFS)

    # Check-mode create: one GET, nothing stored, the record predicted without creation data.
    assert check_create.result["changed"] is True
    assert check_create.calls == [f"GET {path_of(rid)}"]
    assert rid not in check_create.registries
    assert check_create.result["registry"] == {**created, "created_at": None, "created_by": None}

    # Create: GET then POST of the complete record (enable_ci defaults to false).
    assert create.result["changed"] is True
    assert create.calls == [f"GET {path_of(rid)}", f"POST {REGISTRIES}"]
    expected_body = {**created, **({"creds": given["creds"]} if with_creds else {})}
    assert create.writes[0]["body"] == expected_body
    assert create.registries[rid] == create.result["registry"]
    assert without_creation(create.result["registry"]) == created
    assert create.result["registry"]["created_by"] == CREATED_BY
    assert without_creation(check_create.result["registry"]) == created
    assert check_create.result["diff"] == create.result["diff"]
    assert create.result["diff"]["before"] == {}

    # Rerun: unchanged; one GET, plus the creds read when creds are managed.
    assert rerun.result["changed"] is False
    assert rerun.calls == [f"GET {path_of(rid)}", *creds_read]
    assert rerun.result["registry"] == create.result["registry"]
    assert rerun.result["diff"]["before"] == rerun.result["diff"]["after"]

    # Check-mode update predicts exactly what the update returns, and writes nothing.
    assert check_update.result["changed"] is True
    assert_no_writes(check_update)
    assert check_update.registries[rid] == create.registries[rid]
    assert check_update.result["registry"] == update.result["registry"]
    assert check_update.result["diff"] == update.result["diff"]

    # Update: one PATCH of the complete merged record.
    assert update.result["changed"] is True
    assert update.calls == [f"GET {path_of(rid)}", *creds_read, f"PATCH {path_of(rid)}"]
    expected_patch = {**updated, **({"creds": changes["creds"]} if with_creds else {})}
    assert update.writes[0]["body"] == expected_patch
    assert update.registries[rid] == update.result["registry"]
    assert without_creation(update.result["registry"]) == updated
    assert update.result["registry"]["created_at"] == create.result["registry"]["created_at"]
    diff = update.result["diff"]
    diff_keys = set(updated) | ({"creds"} if with_creds else set())
    assert set(diff["before"]) == set(diff["after"]) == diff_keys
    assert {key: diff["before"][key] for key in updated} == created
    assert {key: diff["after"][key] for key in updated} == updated

    # Delete: GET then DELETE; the record and its creds are gone; `registry` is {}.
    assert delete.result["changed"] is True
    assert delete.result["registry"] == {}
    assert delete.calls == [f"GET {path_of(rid)}", f"DELETE {path_of(rid)}"]
    assert rid not in delete.registries and rid not in delete.creds
    assert delete.result["diff"] == {"before": updated, "after": {}}

    # Delete again: one GET, unchanged.
    assert delete_again.result["changed"] is False
    assert delete_again.result["registry"] == {}
    assert delete_again.calls == [f"GET {path_of(rid)}"]
    assert delete_again.result["diff"] == {"before": {}, "after": {}}

    if with_creds:
        created_creds = create.result["diff"]["after"]["creds"]
        assert created_creds["username"] == USERNAME
        assert created_creds["expires"] == "2027-01-31T00:00:00.000Z"
        assert created_creds["password"] and PASSWORD not in created_creds["password"]
        assert create.creds[rid] == given["creds"]
        assert update.creds[rid] == changes["creds"]
        assert_masked_password_change(diff)
    for step in steps:
        assert "creds" not in step.result["registry"]
    assert PASSWORD not in run.output and NEW_PASSWORD not in run.output


def assert_masked_password_change(diff: dict) -> None:
    before, after = diff["before"]["creds"], diff["after"]["creds"]
    assert before["username"] == after["username"] == USERNAME
    assert before["password"] != after["password"]
    for side in (before, after):
        assert isinstance(side["password"], str) and side["password"]
        assert PASSWORD not in side["password"] and NEW_PASSWORD not in side["password"]


# --- Create -------------------------------------------------------------------------------


def test_create_without_registry_or_type_fails_after_the_read(emulator):
    _run, steps = run_steps(
        emulator,
        [
            registry_task("No registry", id="no-registry", type="public"),
            registry_task("No type", id="no-type", registry="r.example.com"),
            registry_task("Neither", id="neither", enable_ci=True),
        ],
    )
    for step, missing in zip(steps, (["registry"], ["type"], ["registry", "type"]), strict=True):
        assert step.result["failed"] is True
        assert step.result["changed"] is False
        assert step.result["registry"] == {}
        for option in missing:
            assert option in step.result["msg"]
        assert len(step.requests) == 1 and step.requests[0]["method"] == "GET"
    assert "registry and type" in steps[2].result["msg"]
    assert set(steps[-1].registries) == {"humanitec"}


# --- Update -------------------------------------------------------------------------------


def test_update_sends_the_current_record_merged_with_the_given_options(emulator):
    rid = "mirror"
    emulator.seed(
        {"id": rid, "registry": "mirror.example.com", "type": "secret_ref", "enable_ci": True}
        | {"secrets": SECRET_REFS}
    )
    seeded = record(rid, "mirror.example.com", "secret_ref", enable_ci=True, secrets=SECRET_REFS)

    _run, steps = run_steps(
        emulator,
        [
            *check_then_apply("Only the name", id=rid, registry="mirror2.example.com"),
            *check_then_apply("Only enable_ci", id=rid, enable_ci=False),
            *check_then_apply("Only the type", id=rid, type="public"),
            registry_task("Nothing given", id=rid),
        ],
    )
    expected = [
        {**seeded, "registry": "mirror2.example.com"},
        {**seeded, "registry": "mirror2.example.com", "enable_ci": False},
        {**seeded, "registry": "mirror2.example.com", "enable_ci": False, "type": "public"},
    ]
    for (check, real), want in zip(zip(steps[0:6:2], steps[1:6:2]), expected, strict=True):
        assert check.result["changed"] is real.result["changed"] is True
        assert_no_writes(check)
        assert check.result["registry"] == real.result["registry"]
        assert check.result["diff"] == real.result["diff"]
        assert real.calls == [f"GET {path_of(rid)}", f"PATCH {path_of(rid)}"]
        assert real.writes[0]["body"] == want
        assert without_creation(real.registries[rid]) == want
        assert real.registries[rid] == real.result["registry"]

    nothing = steps[-1]
    assert nothing.result["changed"] is False
    assert nothing.calls == [f"GET {path_of(rid)}"]
    assert without_creation(nothing.result["registry"]) == expected[-1]


def test_comparison_normalises_timestamps_and_absent_secrets(emulator):
    emulator.seed(
        {"id": "ms-stored", "registry": "a.example.com", "type": "basic"}
        | {"creds": creds(expires="2027-01-31T00:00:00.000Z")}
    )
    emulator.seed(
        {"id": "no-ms-stored", "registry": "b.example.com", "type": "basic"}
        | {"creds": creds(expires="2027-01-31T00:00:00Z")}
    )
    # An answer without secrets and enable_ci, and with a created_at without milliseconds.
    bare = {"id": "ms-stored", "registry": "a.example.com", "type": "basic"}
    bare |= {"created_at": "2026-05-01T10:00:00Z", "created_by": "someone@example.com"}
    emulator.fault(method="GET", path=path_of("ms-stored"), status=200, body=json.dumps(bare))

    _run, steps = run_steps(
        emulator,
        [
            registry_task("Empty secrets", id="ms-stored", secrets={}, enable_ci=False),
            registry_task(
                "Expiry without ms", id="ms-stored", creds=creds(expires="2027-01-31T00:00:00Z")
            ),
            registry_task(
                "Expiry with ms", id="no-ms-stored", creds=creds(expires="2027-01-31T00:00:00.000Z")
            ),
        ],
    )
    no_secrets, expiry_without_ms, expiry_with_ms = steps
    assert no_secrets.result["changed"] is False
    assert no_secrets.calls == [f"GET {path_of('ms-stored')}"]
    assert no_secrets.result["registry"] == {
        **record("ms-stored", "a.example.com"),
        "created_at": "2026-05-01T10:00:00.000Z",
        "created_by": "someone@example.com",
    }
    for step in (expiry_without_ms, expiry_with_ms):
        assert step.result["changed"] is False
        assert [entry["method"] for entry in step.requests] == ["GET", "GET"]
        assert step.result["diff"]["before"] == step.result["diff"]["after"]


# --- Credentials --------------------------------------------------------------------------


def test_creds_are_compared_and_sent_only_when_they_differ(emulator):
    rid = "harbor"
    emulator.seed(
        {"id": rid, "registry": "harbor.example.com", "type": "basic"}
        | {"creds": creds(expires=EXPIRES)}
    )
    base = {"id": rid}
    other_expiry = "2028-06-30T12:00:00.000Z"
    run, steps = run_steps(
        emulator,
        [
            registry_task("Same creds", **base, creds=creds()),
            *check_then_apply("New password", **base, creds=creds(NEW_PASSWORD)),
            registry_task("New password again", **base, creds=creds(NEW_PASSWORD)),
            *check_then_apply("New username", **base, creds=creds(NEW_PASSWORD, "robot-2")),
            *check_then_apply(
                "New expiry", **base, creds=creds(NEW_PASSWORD, "robot-2", expires=other_expiry)
            ),
            registry_task(
                "Same again", **base, creds=creds(NEW_PASSWORD, "robot-2", expires=other_expiry)
            ),
        ],
    )
    same, check_pw, new_pw, pw_again, check_user, new_user, check_exp, new_exp, same_again = steps
    read_both = [f"GET {path_of(rid)}", f"GET {path_of(rid, creds=True)}"]
    seeded_record = without_creation(same.registries[rid])

    for step in (same, pw_again, same_again):
        assert step.result["changed"] is False
        assert step.calls == read_both
        assert step.result["diff"]["before"] == step.result["diff"]["after"]

    expected_creds = [
        creds(NEW_PASSWORD, expires=EXPIRES),  # the stored expiry is kept when not given
        creds(NEW_PASSWORD, "robot-2", expires=EXPIRES),
        creds(NEW_PASSWORD, "robot-2", expires=other_expiry),
    ]
    pairs = [(check_pw, new_pw), (check_user, new_user), (check_exp, new_exp)]
    for (check, real), stored in zip(pairs, expected_creds, strict=True):
        assert check.result["changed"] is real.result["changed"] is True
        assert_no_writes(check)
        assert check.result["registry"] == real.result["registry"]
        assert check.result["diff"] == real.result["diff"]
        assert real.calls == [*read_both, f"PATCH {path_of(rid)}"]
        assert real.writes[0]["body"] == {**seeded_record, "creds": stored}
        assert real.creds[rid] == stored
        assert without_creation(real.registries[rid]) == seeded_record

    assert_masked_password_change(new_pw.result["diff"])
    user_diff = new_user.result["diff"]
    assert user_diff["before"]["creds"]["username"] == USERNAME
    assert user_diff["after"]["creds"]["username"] == "robot-2"
    assert user_diff["before"]["creds"]["password"] == user_diff["after"]["creds"]["password"]
    assert new_exp.result["diff"]["after"]["creds"]["expires"] == other_expiry
    assert NEW_PASSWORD not in json.dumps([step.result for step in steps])
    assert NEW_PASSWORD not in run.output


def test_creds_are_sent_with_one_warning_when_they_cannot_be_read(emulator):
    rid = "harbor"
    emulator.seed({"id": rid, "registry": "harbor.example.com", "type": "basic", "creds": creds()})
    emulator.fault(method="GET", path=path_of(rid, creds=True), status=403, times=2)

    run, steps = run_steps(
        emulator, check_then_apply("Creds that cannot be compared", id=rid, creds=creds())
    )
    for step in steps:
        assert step.result["changed"] is True
        assert len(step.result["warnings"]) == 1
        assert "could not compare the credentials" in step.result["warnings"][0].lower()
        assert step.statuses[:2] == [200, 403]
    check, real = steps
    assert_no_writes(check)
    assert real.calls == [
        f"GET {path_of(rid)}",
        f"GET {path_of(rid, True)}",
        f"PATCH {path_of(rid)}",
    ]
    assert real.writes[0]["body"]["creds"] == creds()
    assert check.result["registry"] == real.result["registry"]
    # ansible-playbook shows a repeated warning once.
    assert "could not compare the credentials" in run.output.lower()
    assert PASSWORD not in run.output


def test_on_create_sends_creds_only_when_creating(emulator):
    rid = "ecr-main"
    given = {"id": rid, "registry": "1234.dkr.ecr.eu-west-1.amazonaws.com", "type": "amazon_ecr"}
    given["update_creds"] = "on_create"
    _run, steps = run_steps(
        emulator,
        [
            registry_task("Create", **given, creds=creds()),
            *check_then_apply("Other creds", **given, creds=creds(NEW_PASSWORD, "key-2")),
            *check_then_apply(
                "Other creds and enable_ci", **given, creds=creds(NEW_PASSWORD), enable_ci=True
            ),
        ],
    )
    create, check_other, other, check_ci, ci = steps
    assert create.result["changed"] is True
    assert create.writes[0]["body"]["creds"] == creds()
    assert create.creds[rid] == creds(expires=None)

    for step in (check_other, other):
        assert step.result["changed"] is False
        assert step.calls == [f"GET {path_of(rid)}"]
        assert "creds" not in step.result["diff"]["after"]
    assert other.creds[rid] == creds(expires=None)

    assert check_ci.result["registry"] == ci.result["registry"]
    assert_no_writes(check_ci)
    assert ci.calls == [f"GET {path_of(rid)}", f"PATCH {path_of(rid)}"]
    assert "creds" not in ci.writes[0]["body"]
    assert ci.creds[rid] == creds(expires=None)


# --- Secrets ------------------------------------------------------------------------------


def test_secrets_are_unmanaged_merged_or_replaced(emulator):
    rid = "mirror"
    start = {"a": {"namespace": "ns", "secret": "sa"}, "b": {"namespace": "ns", "secret": "sb"}}
    c_ref = {"c": {"namespace": "ns", "secret": "sc"}}
    emulator.seed({"id": rid, "registry": "m.example.com", "type": "secret_ref", "secrets": start})
    base = {"id": rid}

    _run, steps = run_steps(
        emulator,
        [
            *check_then_apply("Secrets not given", **base, enable_ci=True),
            *check_then_apply("Merge c", **base, secrets=c_ref, purge_secrets=False),
            *check_then_apply(
                "Merge a changed",
                **base,
                secrets={"a": {"namespace": "other", "secret": "sa2"}},
                purge_secrets=False,
            ),
            registry_task("Merge nothing new", **base, secrets=c_ref, purge_secrets=False),
            *check_then_apply("Replace with c", **base, secrets=c_ref),
            registry_task("Replace with c again", **base, secrets=c_ref, purge_secrets=True),
            *check_then_apply("Clear", **base, secrets={}),
        ],
    )
    expected = [
        start,
        {**start, **c_ref},
        {**start, **c_ref, "a": {"namespace": "other", "secret": "sa2"}},
        None,
        c_ref,
        None,
        {},
    ]
    steps_by_outcome = iter(steps)
    for want in expected:
        if want is None:
            again = next(steps_by_outcome)
            assert again.result["changed"] is False
            assert again.calls == [f"GET {path_of(rid)}"]
            continue
        check, real = next(steps_by_outcome), next(steps_by_outcome)
        assert check.result["changed"] is real.result["changed"] is True
        assert_no_writes(check)
        assert check.result["registry"] == real.result["registry"]
        assert check.result["diff"] == real.result["diff"]
        assert real.calls == [f"GET {path_of(rid)}", f"PATCH {path_of(rid)}"]
        assert real.writes[0]["body"]["secrets"] == want
        assert real.registries[rid]["secrets"] == want == real.result["registry"]["secrets"]
    assert steps[1].registries[rid]["enable_ci"] is True


# --- Conflicts on create ------------------------------------------------------------------


def test_create_conflicts_are_resolved_or_explained(emulator):
    emulator.seed({"id": "raced-same", "registry": "same.example.com", "type": "public"})
    emulator.seed(
        {"id": "raced-other", "registry": "other.example.com", "type": "public", "enable_ci": True}
    )
    emulator.seed({"id": "owner", "registry": "shared.example.com", "type": "public"})
    # Our own POST lands but its answer is lost: the retry is answered 409.
    emulator.fault(method="POST", path=REGISTRIES, status=503, apply=True)
    # A concurrent run creates the record between our GET and our POST: the GET saw nothing.
    for rid in ("raced-same", "raced-other"):
        emulator.fault(method="GET", path=path_of(rid), status=404, body='{"error": "not found"}')

    _run, steps = run_steps(
        emulator,
        [
            registry_task(
                "Own retried POST", id="retried", registry="r.example.com", type="public"
            ),
            registry_task(
                "Raced, same", id="raced-same", registry="same.example.com", type="public"
            ),
            registry_task(
                "Raced, other",
                id="raced-other",
                registry="other.example.com",
                type="public",
                enable_ci=False,
            ),
            registry_task(
                "Name in use", id="newcomer", registry="shared.example.com", type="public"
            ),
        ],
    )
    retried, raced_same, raced_other, name_in_use = steps

    assert retried.result["changed"] is True
    assert retried.calls == [
        f"GET {path_of('retried')}",
        f"POST {REGISTRIES}",
        f"POST {REGISTRIES}",
        f"GET {path_of('retried')}",
    ]
    assert retried.statuses == [404, 503, 409, 200]
    assert retried.result["registry"] == retried.registries["retried"]
    assert retried.result["diff"]["before"] == {}
    assert [r for r in retried.registries.values() if r["registry"] == "r.example.com"] == [
        retried.registries["retried"]
    ]

    assert raced_same.result["changed"] is False
    assert raced_same.statuses == [404, 409, 200]
    assert raced_same.result["registry"] == raced_same.registries["raced-same"]

    assert raced_other.result["changed"] is True
    assert raced_other.calls[-1] == f"PATCH {path_of('raced-other')}"
    assert raced_other.statuses == [404, 409, 200, 200]
    assert raced_other.registries["raced-other"]["enable_ci"] is False
    assert raced_other.result["registry"] == raced_other.registries["raced-other"]

    assert name_in_use.result["failed"] is True
    assert name_in_use.result["changed"] is False
    assert '"owner"' in name_in_use.result["msg"]
    assert name_in_use.result["status"] == 409
    assert name_in_use.calls == [
        f"GET {path_of('newcomer')}",
        f"POST {REGISTRIES}",
        f"GET {path_of('newcomer')}",
        f"GET {REGISTRIES}",
    ]
    assert "newcomer" not in name_in_use.registries


# --- The built-in registry ----------------------------------------------------------------


def test_builtin_registry_matches_but_is_never_changed_or_deleted(emulator):
    builtin = emulator.registries()["humanitec"]
    same = {"id": "humanitec", "registry": builtin["registry"], "type": builtin["type"]}
    _run, steps = run_steps(
        emulator,
        [
            registry_task("Matching task", **same, enable_ci=False),
            registry_task("Change", id="humanitec", enable_ci=True),
            registry_task("Change (check mode)", check=True, id="humanitec", type="public"),
            registry_task("Delete", id="humanitec", state="absent"),
            registry_task("Delete (check mode)", check=True, id="humanitec", state="absent"),
        ],
    )
    matching, change, check_change, delete, check_delete = steps
    assert matching.result["changed"] is False
    assert matching.result["registry"] == builtin
    assert matching.calls == [f"GET {path_of('humanitec')}"]

    for step in (change, check_change):
        assert step.result["failed"] is True
        assert 'built-in registry "humanitec" cannot be changed' in step.result["msg"]
        assert step.calls == [f"GET {path_of('humanitec')}"]
    for step in (delete, check_delete):
        assert step.result["failed"] is True
        assert 'built-in registry "humanitec" cannot be deleted' in step.result["msg"]
        assert step.requests == []
    for step in steps:
        assert step.registries["humanitec"] == builtin


# --- Secrecy ------------------------------------------------------------------------------


def test_passwords_appear_nowhere_even_at_the_highest_verbosity(emulator):
    rid = "harbor"
    given = {"id": rid, "registry": "harbor.example.com", "type": "basic"}
    emulator.fault(method="GET", path=path_of(rid, creds=True), status=403)
    run, steps = run_steps(
        emulator,
        [
            registry_task("Create (check mode)", **given, creds=creds(), check=True),
            registry_task("Create", **given, creds=creds()),
            registry_task("Creds unreadable", **given, creds=creds()),
            registry_task("Same creds", **given, creds=creds()),
            *check_then_apply("New password", **given, creds=creds(NEW_PASSWORD)),
            registry_task("Bad type", **{**given, "type": "nope"}, creds=creds(NEW_PASSWORD)),
            registry_task("Delete", id=rid, state="absent"),
        ],
        args=("-vvvv", "--diff"),
    )
    changed = [step.result["changed"] for step in steps]
    assert changed == [True, True, True, False, True, True, False, True]
    assert steps[-2].result["failed"] is True
    assert steps[2].creds[rid] == creds(expires=None)
    assert steps[5].creds[rid] == creds(NEW_PASSWORD, expires=None)
    results = json.dumps([step.result for step in steps])
    for secret in (PASSWORD, NEW_PASSWORD, emulator.token):
        assert secret not in results
        assert secret not in run.stdout
        assert secret not in run.stderr
    assert "<localhost> EXEC" in run.stdout  # the run really was at -vvvv
    assert_masked_password_change(steps[5].result["diff"])


# --- Bad input ----------------------------------------------------------------------------

VALID = {"id": "harbor", "registry": "harbor.example.com", "type": "basic", "org_id": ORG_ID}
BAD_INPUT = {
    "invalid-id": ({**VALID, "id": "Harbor_Main"}, "id must match"),
    "too-short-id": ({**VALID, "id": "ab"}, "id must match"),
    "unknown-type": ({**VALID, "type": "quay"}, "value of type must be one of"),
    "expires-with-offset": (
        {**VALID, "creds": creds(expires="2027-01-31T00:00:00+01:00")},
        "creds.expires",
    ),
    "expires-not-a-timestamp": ({**VALID, "creds": creds(expires="tomorrow")}, "creds.expires"),
    "secret-without-namespace": (
        {**VALID, "secrets": {"prod": {"secret": "pull"}}},
        "secrets['prod'].namespace",
    ),
    "secret-without-secret": (
        {**VALID, "secrets": {"prod": {"namespace": "ns"}}},
        "secrets['prod'].secret",
    ),
    "secret-with-unknown-key": (
        {**VALID, "secrets": {"prod": {"namespace": "ns", "secret": "s", "password": "x"}}},
        "secrets['prod'] has unknown keys password",
    ),
    "secret-not-a-dict": ({**VALID, "secrets": {"prod": "pull"}}, "secrets['prod']"),
    "creds-without-password": (
        {**VALID, "creds": {"username": USERNAME}},
        "missing required arguments: password found in creds",
    ),
    "empty-token": ({**VALID, "api_token": ""}, "api_token must not be empty"),
    "org-id-missing": (
        {key: value for key, value in VALID.items() if key != "org_id"},
        "missing required arguments: org_id",
    ),
}


def test_bad_input_fails_before_any_request_naming_the_option(emulator):
    # One playbook for every case. HUMANITEC_ORG is left out of the environment so that
    # org_id can be missing; the other cases give it.
    tasks = [registry_task(case, **options) for case, (options, _fragment) in BAD_INPUT.items()]
    connection = {"HUMANITEC_API_PREFIX": emulator.url, "HUMANITEC_TOKEN": emulator.token}
    run = run_tasks(None, tasks, env=connection)
    assert len(run.results) == len(tasks), run.output

    for (case, (_options, fragment)), result in zip(BAD_INPUT.items(), run.results, strict=True):
        assert result["failed"] is True, case
        assert result["changed"] is False, case
        assert fragment in result["msg"], (case, result["msg"])
    assert emulator.requests() == []
    assert PASSWORD not in run.output and PASSWORD not in json.dumps(run.results)
