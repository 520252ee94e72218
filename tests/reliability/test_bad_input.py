# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A catalogue of invalid inputs to both modules and the registries role.

Every case must fail with a message that names the offending option, and none may send a
request: the emulator's request log is checked after all cases have run. The only requests
allowed are the single reads of a create that lacks registry or type (the module cannot know
that the registry is missing without reading it). All cases run as hosts of one
ansible-playbook run with -vvvv and --diff, whose whole output is scanned for the secrets.
"""

from __future__ import annotations

import json

from harness import REPO_ROOT, Emulator
from rel_support import (
    NEW_PASSWORD,
    builtin_record,
    is_one_line_failure,
    module_task,
    record_outcome,
    run_hosts,
    scan_for_leaks,
)

ROLE_DIR = REPO_ROOT / "roles" / "registries"
HAS_ROLE = (ROLE_DIR / "meta" / "argument_specs.yml").exists()
DROP = object()  # leave the option out
READ_ORG = "refused-after-a-read"
REFUSALS_ORG = "refusals"

REGISTRY = {"id": "app-images", "registry": "registry.example.com/app", "type": "basic"}
CREDS = {"username": "robot", "password": NEW_PASSWORD}
SECRET_REF = {"namespace": "registry-secrets", "secret": "app-pull"}

# (case, options changed from a valid task, words the failure message must contain[, note]).
REGISTRY_CASES = [
    ("id missing", {"id": DROP}, ["id"]),
    ("id with upper case", {"id": "App-Images"}, ["id must match"]),
    ("id too short", {"id": "ab"}, ["id must match"]),
    ("id ending with a dash", {"id": "app-"}, ["id must match"]),
    ("id with a slash", {"id": "team/app"}, ["id must match"]),
    ("state unknown", {"state": "gone"}, ["state"]),
    ("type unknown", {"type": "quay"}, ["type"]),
    ("type empty", {"type": ""}, ["type"]),
    ("enable_ci not a boolean", {"enable_ci": "maybe"}, ["enable_ci"]),
    ("registry empty", {"registry": ""}, ["registry must not be empty"]),
    ("registry blank", {"registry": "   "}, ["registry must not be empty"]),
    ("creds without password", {"creds": {"username": "robot"}}, ["password", "creds"]),
    ("creds without username", {"creds": {"password": NEW_PASSWORD}}, ["username", "creds"]),
    ("creds with an unknown key", {"creds": {**CREDS, "token": "abc"}}, ["creds.token"]),
    ("creds.expires a word", {"creds": {**CREDS, "expires": "tomorrow"}}, ["creds.expires"]),
    ("creds.expires a date", {"creds": {**CREDS, "expires": "2027-01-31"}}, ["creds.expires"]),
    (
        "creds.expires with an offset",
        {"creds": {**CREDS, "expires": "2027-01-31T00:00:00+01:00"}},
        ["creds.expires"],
    ),
    (
        "creds.expires with microseconds",
        {"creds": {**CREDS, "expires": "2027-01-31T00:00:00.123456Z"}},
        ["creds.expires"],
    ),
    ("update_creds unknown", {"update_creds": "sometimes"}, ["update_creds"]),
    ("secrets a list", {"secrets": ["regcred"]}, ["secrets"]),
    ("secrets entry a string", {"secrets": {"*": "regcred"}}, ["secrets['*']"]),
    (
        "secrets entry without secret",
        {"secrets": {"*": {"namespace": "default"}}},
        ["secrets['*'].secret"],
    ),
    (
        "secrets entry with an unknown key",
        {"secrets": {"*": {**SECRET_REF, "name": "x"}}},
        ["secrets['*']", "unknown keys name"],
    ),
    (
        "secrets entry with an empty namespace",
        {"secrets": {"prod": {**SECRET_REF, "namespace": ""}}},
        ["secrets['prod'].namespace"],
    ),
    ("purge_secrets not a boolean", {"purge_secrets": "sometimes"}, ["purge_secrets"]),
    ("unknown option", {"name": "app-images"}, ["name"]),
    (
        "built-in registry with state absent",
        {"id": "humanitec", "state": "absent"},
        ['built-in registry "humanitec"'],
    ),
    ("api_url not a URL", {"api_url": "not a url"}, ["api_url"]),
    ("api_url with an ftp scheme", {"api_url": "ftp://127.0.0.1/"}, ["api_url"]),
    ("api_url without a host", {"api_url": "https://"}, ["api_url"]),
    ("api_token empty", {"api_token": ""}, ["api_token"]),
    ("api_token blank", {"api_token": "   "}, ["api_token"]),
    ("api_token missing", {"api_token": DROP}, ["api_token"]),
    ("org_id empty", {"org_id": ""}, ["org_id"]),
    ("org_id missing", {"org_id": DROP}, ["org_id"]),
    ("request_timeout zero", {"request_timeout": 0}, ["request_timeout"]),
    ("request_timeout a word", {"request_timeout": "soon"}, ["request_timeout"]),
    ("max_retries negative", {"max_retries": -1}, ["max_retries"]),
    ("max_retries too large", {"max_retries": 50}, ["max_retries"]),
    ("validate_certs not a boolean", {"validate_certs": "perhaps"}, ["validate_certs"]),
]

# A `creds` that is no dictionary meets ansible-core's validator before the module: it is
# refused without naming the option (a scalar even crashes the validator), and the failed
# validation leaves the no_log values unmasked, so -vvvv prints the api_token in the
# invocation. Kept apart, so that the main catalogue's scan must find no leak at all.
CORE_CASES = [
    ("creds a list of strings", {"creds": ["robot"]}, ["dictionary requested"], "core"),
    ("creds a plain string", {"creds": "robot"}, ["dictionary requested"], "core"),
    ("creds a number", {"creds": 42}, ["not iterable"], "core"),
]
INFO_CASES = [
    ("include_creds not a boolean", {"include_creds": "please"}, ["include_creds"]),
    ("id malformed", {"id": "Harbor_Main"}, ["id"]),
    ("unknown option", {"ids": ["app-images"]}, ["ids"]),
    ("api_url malformed", {"api_url": "127.0.0.1:8080"}, ["api_url"]),
    ("api_token empty", {"api_token": ""}, ["api_token"]),
    ("org_id missing", {"org_id": DROP}, ["org_id"]),
    ("request_timeout negative", {"request_timeout": -5}, ["request_timeout"]),
    ("max_retries a word", {"max_retries": "many"}, ["max_retries"]),
]

# Refused only once a read has shown what the task would do: a create without registry or
# type, or a change to the built-in registry. Each may send that one read, nothing more.
READ_FIRST_CASES = [
    ("create without registry", {"id": "no-registry", "registry": DROP}, ["registry"]),
    ("create without type", {"id": "no-type", "type": DROP}, ["type"]),
    (
        "create without registry and type",
        {"id": "no-both", "registry": DROP, "type": DROP},
        ["registry and type"],
    ),
    (
        "built-in registry changed",
        {"id": "humanitec", "enable_ci": True},
        ['built-in registry "humanitec" cannot be changed'],
    ),
]

ITEM = {"id": "app-images", "registry": "registry.example.com/app", "type": "public"}
ROLE_CASES = [
    ("humanitec_registries a dictionary", {"humanitec_registries": ITEM}, ["humanitec_registries"]),
    ("item without id", {"humanitec_registries": [{"type": "public"}]}, ["id"]),
    ("item with an unknown key", {"humanitec_registries": [{**ITEM, "name": "x"}]}, ["name"]),
    ("item type unknown", {"humanitec_registries": [{**ITEM, "type": "quay"}]}, ["type"]),
    ("item state unknown", {"humanitec_registries": [{**ITEM, "state": "gone"}]}, ["state"]),
    (
        "item enable_ci not a boolean",
        {"humanitec_registries": [{**ITEM, "enable_ci": "maybe"}]},
        ["enable_ci"],
    ),
    (
        "item creds without password",
        {"humanitec_registries": [{**ITEM, "creds": {"username": "robot"}}]},
        ["password"],
    ),
    (
        "item creds.expires malformed",
        {"humanitec_registries": [{**ITEM, "creds": {**CREDS, "expires": "soon"}}]},
        ["creds.expires"],
    ),
    (
        "item secrets entry a string",
        {"humanitec_registries": [{**ITEM, "secrets": {"*": "regcred"}}]},
        ["secrets"],
    ),
    ("item id malformed", {"humanitec_registries": [{**ITEM, "id": "App"}]}, ["id must match"]),
    ("ids listed twice", {"humanitec_registries": [ITEM, ITEM]}, ["app-images", "more than once"]),
    (
        "humanitec_registries_exclusive not a boolean",
        {"humanitec_registries_exclusive": "perhaps"},
        ["humanitec_registries_exclusive"],
    ),
    ("humanitec_api_token empty", {"humanitec_api_token": ""}, ["humanitec_api_token"]),
    ("humanitec_org_id empty", {"humanitec_org_id": ""}, ["humanitec_org_id"]),
    (
        "humanitec_api_url malformed",
        {"humanitec_api_url": "not a url", "humanitec_registries": [ITEM]},
        ["api_url"],
    ),
]

CASE_TASKS = [
    module_task(
        "humanitec.platform.humanitec_registry",
        "registry_result",
        extra_options=("name",),
        when="case_target == 'humanitec_registry'",
        ignore_errors=True,
    ),
    module_task(
        "humanitec.platform.humanitec_registry_info",
        "info_result",
        extra_options=("ids",),
        when="case_target == 'humanitec_registry_info'",
        ignore_errors=True,
    ),
    {
        "name": "The role",
        "when": "case_target == 'role registries'",
        "block": [
            {
                "name": "Apply the role",
                "ansible.builtin.include_role": {"name": "humanitec.platform.registries"},
            },
            {"name": "The role passed", "ansible.builtin.set_fact": {"role_result": {}}},
        ],
        "rescue": [
            {
                "name": "Keep the failure",
                "ansible.builtin.set_fact": {
                    "role_result": {
                        "failed": True,
                        "msg": "{{ ansible_failed_result.msg }}",
                        "task": "{{ ansible_failed_task.name }}",
                    }
                },
            }
        ],
    },
    {
        "name": "Keep the result of the case",
        "ansible.builtin.set_fact": {
            "case_result": "{{ {'humanitec_registry': registry_result, "
            "'humanitec_registry_info': info_result, "
            "'role registries': role_result | default({})}[case_target] }}"
        },
    },
]


def slug(target: str, case: str) -> str:
    return f"{target} {case}".replace(" ", "_").replace(".", "_").replace("'", "")


def module_hosts(emulator: Emulator, target: str, base: dict, cases: list, org: str) -> dict:
    connection = {"api_url": emulator.url, "api_token": emulator.token, "org_id": org}
    hosts = {}
    for case, changes, *_expected in cases:
        merged = {**connection, **base, **changes}
        args = {option: value for option, value in merged.items() if value is not DROP}
        hosts[slug(target, case)] = {"case_target": target, "case_args": args}
    return hosts


def role_hosts(emulator: Emulator) -> dict:
    connection = {
        "humanitec_api_url": emulator.url,
        "humanitec_api_token": emulator.token,
        "humanitec_org_id": REFUSALS_ORG,
    }
    return {
        slug("role registries", case): {
            "case_target": "role registries",
            **connection,
            "humanitec_registries": [],
            **changes,
        }
        for case, changes, *_expected in ROLE_CASES
    }


def catalogue(emulator: Emulator) -> tuple[dict, dict]:
    """Inventory hosts, and each host's target, case, expected words and note."""
    hosts = {
        **module_hosts(emulator, "humanitec_registry", REGISTRY, REGISTRY_CASES, REFUSALS_ORG),
        **module_hosts(emulator, "humanitec_registry_info", {}, INFO_CASES, REFUSALS_ORG),
        **module_hosts(emulator, "humanitec_registry", REGISTRY, READ_FIRST_CASES, READ_ORG),
    }
    tables = [
        ("humanitec_registry", REGISTRY_CASES),
        ("humanitec_registry_info", INFO_CASES),
        ("humanitec_registry", READ_FIRST_CASES),
    ]
    if HAS_ROLE:
        hosts.update(role_hosts(emulator))
        tables.append(("role registries", ROLE_CASES))
    return hosts, expectations(tables)


def expectations(tables: list[tuple[str, list]]) -> dict:
    return {
        slug(target, case): (target, case, words, note)
        for target, table in tables
        for case, _changes, words, *note in table
    }


def check_refusal(result: dict, words: list[str], target: str, note: list) -> list[str]:
    msg = str(result.get("msg", ""))
    if not result.get("failed"):
        return [f"not refused: {result}"]
    # The role's argument validation lists its errors on several lines, by design.
    if target != "role registries" and not note and not is_one_line_failure(result):
        return [f"not a clean one-line failure: {result}"]
    return [f"message lacks {word!r}: {msg}" for word in words if word not in msg]


def check_requests(log: list[dict], read_first_cases: list) -> list[str]:
    """Only the read-first cases may have sent a request: one read each of their registry."""
    allowed = {
        ("GET", f"/orgs/{READ_ORG}/registries/{changes['id']}")
        for _case, changes, *_expected in read_first_cases
    }
    sent = [(entry["method"], entry["path"]) for entry in log]
    problems = [f"request sent: {call}" for call in sent if call not in allowed]
    problems += [f"not read exactly once: {call}" for call in allowed if sent.count(call) != 1]
    return problems


def run_catalogue(emulator: Emulator, hosts: dict, expected: dict, read_first_cases=()) -> tuple:
    """Run every case as a host with -vvvv and --diff; the run, and what went wrong."""
    # No emulator: the connection comes from each case alone, never from HUMANITEC_*.
    run = run_hosts(None, hosts, CASE_TASKS, forks=4, args=("-vvvv", "--diff"))
    log = emulator.requests()
    record_outcome("bad_input_requests", sent=len(log), read_first=len(read_first_cases))
    problems = check_requests(log, list(read_first_cases))
    for host, (target, case, words, note) in expected.items():
        found = check_refusal(run.results.get(host, {"missing": True}), words, target, note)
        record_outcome(
            "bad_input",
            target=target,
            case=case,
            refused=bool(run.results.get(host, {}).get("failed")),
            named=not found and not note,
            worded_by_core=bool(note),
            ok=not found,
        )
        problems += [f"{target} / {case}: {problem}" for problem in found]
    if "Traceback" in run.output:
        problems.append("a traceback in the output")
    return run, problems


def seed_orgs(emulator: Emulator) -> None:
    """The organizations the cases name, each with only its built-in registry."""
    fresh = {"registries": {"humanitec": builtin_record(emulator)}, "creds": {}}
    emulator.hook("PUT", "state", {"orgs": {REFUSALS_ORG: fresh, READ_ORG: fresh}})


def test_bad_inputs_are_refused_before_any_request(emulator):
    seed_orgs(emulator)
    hosts, expected = catalogue(emulator)
    record_outcome("bad_input_role", present=HAS_ROLE)
    assert len(expected) >= 40
    run, problems = run_catalogue(emulator, hosts, expected, READ_FIRST_CASES)

    texts = {"stdout": run.stdout, "stderr": run.stderr, "results": json.dumps(run.results)}
    leaks = scan_for_leaks("bad inputs, ansible-playbook -vvvv --diff", texts)
    assert not problems, "\n".join(problems)
    assert not leaks, leaks


def test_creds_that_are_no_dictionary(emulator):
    """Refused before any request, in ansible-core's words; -vvvv shows neither token nor
    password, although ansible-core stops collecting no_log values at such an option."""
    seed_orgs(emulator)
    hosts = module_hosts(emulator, "humanitec_registry", REGISTRY, CORE_CASES, REFUSALS_ORG)
    run, problems = run_catalogue(
        emulator, hosts, expectations([("humanitec_registry", CORE_CASES)])
    )

    texts = {"stdout": run.stdout, "stderr": run.stderr, "results": json.dumps(run.results)}
    leaks = scan_for_leaks("creds no dictionary, -vvvv --diff", texts)
    assert not problems, "\n".join(problems)
    assert not leaks, leaks
