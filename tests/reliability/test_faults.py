# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every retryable fault, injected into every request step of create, update, delete and info.

Each case gets its own organization in the emulator, so that all cases are seeded and all
faults queued at once and the cases run side by side: in threads through the modules' own
run_module() (the matrix), and as one host each in a single ansible-playbook run with -vvvv
and --diff (a subset, to check what Ansible itself prints).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from harness import API_TOKEN, Emulator
from rel_support import (
    NEW_PASSWORD,
    OLD_PASSWORD,
    READBACK_PASSWORD,
    InProcessModule,
    builtin_record,
    is_one_line_failure,
    module_task,
    org_view,
    record_outcome,
    run_hosts,
    run_many_in_process,
    scan_for_leaks,
)

from ansible_collections.humanitec.platform.plugins.modules import (
    humanitec_registry,
    humanitec_registry_info,
)

MAX_RETRIES = 2
REQUEST_TIMEOUT = 1
REG_ID = "app-images"
SEED_RECORD = {
    "registry": "registry.example.com/app",
    "type": "basic",
    "enable_ci": False,
    "secrets": {"*": {"namespace": "default", "secret": "old-pull"}},
    "created_at": "2026-01-05T10:00:00.000Z",
    "created_by": "seed@example.com",
}
SEED_CREDS = {"username": "robot", "password": OLD_PASSWORD, "expires": "2026-12-31T00:00:00.000Z"}
NEW_SECRETS = {"*": {"namespace": "registry-secrets", "secret": "app-pull"}}
MIRROR = {"registry": "mirror.example.com", "type": "public", "enable_ci": True, "secrets": {}}


@dataclass(frozen=True)
class Operation:
    """A module task, the organization it starts from and the one it must leave behind."""

    module: str
    args: dict
    initial: dict
    desired: dict
    changed: bool


def _org(registries: dict, creds: dict | None = None) -> dict:
    return {"registries": registries, "creds": creds or {}}


def _managed(record: dict) -> dict:
    return {name: record[name] for name in ("registry", "type", "enable_ci", "secrets")}


OPERATIONS = {
    "create": Operation(
        "registry",
        {
            "id": REG_ID,
            "registry": SEED_RECORD["registry"],
            "type": "basic",
            "enable_ci": True,
            "secrets": NEW_SECRETS,
            "creds": {
                "username": "robot",
                "password": NEW_PASSWORD,
                "expires": "2027-01-31T00:00:00Z",
            },
        },
        _org({}),
        _org(
            {REG_ID: {**_managed(SEED_RECORD), "enable_ci": True, "secrets": NEW_SECRETS}},
            {
                REG_ID: {
                    "username": "robot",
                    "password": NEW_PASSWORD,
                    "expires": "2027-01-31T00:00:00Z",
                }
            },
        ),
        True,
    ),
    "update": Operation(
        "registry",
        {
            "id": REG_ID,
            "registry": "registry.example.com/app-v2",
            "enable_ci": True,
            "secrets": NEW_SECRETS,
            "creds": {"username": "robot", "password": NEW_PASSWORD},
        },
        _org({REG_ID: SEED_RECORD}, {REG_ID: SEED_CREDS}),
        _org(
            {
                REG_ID: {
                    **_managed(SEED_RECORD),
                    "registry": "registry.example.com/app-v2",
                    "enable_ci": True,
                    "secrets": NEW_SECRETS,
                }
            },
            {REG_ID: {**SEED_CREDS, "password": NEW_PASSWORD}},
        ),
        True,
    ),
    "delete": Operation(
        "registry",
        {"id": REG_ID, "state": "absent"},
        _org({REG_ID: SEED_RECORD}, {REG_ID: SEED_CREDS}),
        _org({}),
        True,
    ),
    "info": Operation(
        "info",
        {"include_creds": True},
        _org(
            {REG_ID: SEED_RECORD, "mirror": MIRROR},
            {REG_ID: {**SEED_CREDS, "password": READBACK_PASSWORD}},
        ),
        _org(
            {REG_ID: SEED_RECORD, "mirror": MIRROR},
            {REG_ID: {**SEED_CREDS, "password": READBACK_PASSWORD}},
        ),
        False,
    ),
}

# Step name: (operation, method, which path).
STEPS = {
    "create GET": ("create", "GET", "record"),
    "create POST": ("create", "POST", "collection"),
    "update GET": ("update", "GET", "record"),
    "update GET creds": ("update", "GET", "creds"),
    "update PATCH": ("update", "PATCH", "record"),
    "delete GET": ("delete", "GET", "record"),
    "delete DELETE": ("delete", "DELETE", "record"),
    "info GET list": ("info", "GET", "collection"),
    "info GET creds": ("info", "GET", "creds"),
}
WRITE_STEPS = ("create POST", "update PATCH", "delete DELETE")

# Fault kind: (fault fields, what the failure message says once retries are exhausted).
KINDS = {
    "429 (Retry-After: 1)": ({"kind": "status", "status": 429, "retry_after": "1"}, "returned 429"),
    "429 (Retry-After: 0)": ({"kind": "status", "status": 429, "retry_after": "0"}, "returned 429"),
    "502": ({"kind": "status", "status": 502}, "returned 502"),
    "503": ({"kind": "status", "status": 503}, "returned 503"),
    "504": ({"kind": "status", "status": 504}, "returned 504"),
    "connection reset": ({"kind": "reset"}, "connection reset by the server"),
    "read timeout": (
        {"kind": "delay", "seconds": REQUEST_TIMEOUT + 0.5},
        f"no answer within request_timeout ({REQUEST_TIMEOUT} s)",
    ),
}

ECHO = "API error echoing the secrets"
HTML_PAGE = (
    "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
    "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
)
# Answers no API should give: (step, fault fields, times, what the message must say).
BAD_BODIES = {
    "HTML 502 from a proxy": (
        "create GET",
        {"status": 502, "body": HTML_PAGE, "content_type": "text/html"},
        MAX_RETRIES + 1,
        "returned 502: <html> <head><title>502 Bad Gateway",
    ),
    "HTML 400": (
        "update PATCH",
        {"status": 400, "body": HTML_PAGE.replace("502 Bad Gateway", "400 Bad Request")},
        1,
        "returned 400: <html>",
    ),
    "truncated JSON 200": (
        "update GET",
        {"status": 200, "body": '{"id": "app-images", "registry": "regi'},
        1,
        "returned 200: the answer is not valid JSON",
    ),
    "empty 200": ("info GET list", {"status": 200, "body": ""}, 1, "not valid JSON"),
    "empty 200 on creds": ("update GET creds", {"status": 200, "body": ""}, 1, "not valid JSON"),
    "truncated JSON 201 (applied)": (
        "create POST",
        {"status": 201, "body": '{"id": "app-im', "apply": True},
        1,
        "returned 201: the answer is not valid JSON",
    ),
    "JSON object for a list": (
        "info GET list",
        {"status": 200, "body": '{"registries": []}'},
        1,
        "returned 200: the answer is not a JSON array of objects",
    ),
    "JSON array for a record": (
        "update GET",
        {"status": 200, "body": '["app-images"]'},
        1,
        "returned 200: the answer is not a JSON object",
    ),
    # Only through ansible-playbook: AnsibleModule masks no_log values in whatever it prints.
    ECHO: (
        "update PATCH",
        {"status": 400, "body": json.dumps({"error": f"bad {NEW_PASSWORD} for {API_TOKEN}"})},
        1,
        "returned 400: bad ******** for ********",
    ),
}


@dataclass(frozen=True)
class FaultCase:
    kind: str
    step: str
    variant: str  # recover, exhaust, apply-recover, apply-exhaust or bad-body

    @property
    def org(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", f"{self.kind} {self.step} {self.variant}".lower())

    @property
    def operation(self) -> Operation:
        return OPERATIONS[STEPS[self.step][0]]

    @property
    def method(self) -> str:
        return STEPS[self.step][1]

    @property
    def path(self) -> str:
        collection = f"/orgs/{self.org}/registries"
        which = STEPS[self.step][2]
        if which == "collection":
            return collection
        return f"{collection}/{REG_ID}" + ("/creds" if which == "creds" else "")

    @property
    def applies(self) -> bool:
        """Whether the faulted request itself is processed (its write lands)."""
        if self.variant == "bad-body":
            return bool(BAD_BODIES[self.kind][1].get("apply"))
        return self.variant.startswith("apply") or self.kind == "read timeout"

    def fault(self) -> dict:
        if self.variant == "bad-body":
            fields, times = BAD_BODIES[self.kind][1], BAD_BODIES[self.kind][2]
            fields = {"kind": "status", **fields}
        else:
            fields = KINDS[self.kind][0]
            times = MAX_RETRIES + (1 if self.variant.endswith("exhaust") else 0)
        spec = {**fields, "method": self.method, "path": re.escape(self.path), "times": times}
        return {**spec, "apply": self.applies and fields.get("kind") != "delay"}

    def args(self, emulator: Emulator) -> dict:
        return {
            **self.operation.args,
            "api_url": emulator.url,
            "api_token": emulator.token,
            "org_id": self.org,
            "max_retries": MAX_RETRIES,
            "request_timeout": REQUEST_TIMEOUT,
        }

    def expected_failure(self) -> str | None:
        if self.variant == "bad-body":
            return BAD_BODIES[self.kind][3]
        if self.variant.endswith("exhaust"):
            return KINDS[self.kind][1]
        return None

    def expected_state(self) -> dict:
        """The organization as org_view() shows it (without the built-in registry)."""
        landed = self.expected_failure() is None or (self.step in WRITE_STEPS and self.applies)
        org = self.operation.desired if landed else self.operation.initial
        registries = {reg_id: _managed(record) for reg_id, record in org["registries"].items()}
        return {"registries": registries, "creds": org["creds"]}


def matrix_cases() -> list[FaultCase]:
    cases = [
        FaultCase(kind, step, variant)
        for kind in KINDS
        for step in STEPS
        for variant in ("recover", "exhaust")
    ]
    cases += [
        FaultCase(kind, step, variant)
        for kind in KINDS
        if kind != "read timeout"  # a delayed request is always processed already
        for step in WRITE_STEPS
        for variant in ("apply-recover", "apply-exhaust")
    ]
    cases += [
        FaultCase(kind, BAD_BODIES[kind][0], "bad-body") for kind in BAD_BODIES if kind != ECHO
    ]
    return cases


def seed(emulator: Emulator, cases: list[FaultCase]) -> None:
    builtin = builtin_record(emulator)
    orgs = {}
    for case in cases:
        initial = case.operation.initial
        registries = {"humanitec": builtin, **initial["registries"]}
        orgs[case.org] = {"registries": registries, "creds": initial["creds"]}
    emulator.hook("PUT", "state", {"orgs": orgs})
    emulator.hook("POST", "faults", [case.fault() for case in cases])
    emulator.clear_requests()


def check_success(case: FaultCase, result: dict, log: list[dict]) -> list[str]:
    problems = []
    calls = [(item["method"], item["path"].rsplit("/", 1)[-1], item["status"]) for item in log]
    if result.get("failed"):
        return [f"failed: {result.get('msg')}; requests: {calls}"]
    if result.get("changed") is not case.operation.changed:
        problems.append(f"changed is {result.get('changed')}")
    if case.operation.module == "info":
        found = {item["id"]: item for item in result.get("registries", [])}
        if sorted(found) != sorted(["humanitec", REG_ID, "mirror"]):
            problems.append(f"info listed {sorted(found)}")
        elif found[REG_ID].get("creds", {}).get("password") != READBACK_PASSWORD:
            problems.append("info did not return the stored creds")
    if case.variant == "apply-recover":
        problems += check_lost_answer(case.step, [(item["method"], item["status"]) for item in log])
    return problems


def check_lost_answer(step: str, calls: list[tuple]) -> list[str]:
    """A write landed but its answer was lost: the retry meets the new state and copes."""
    if step == "create POST" and (("POST", 409) not in calls or calls[-1] != ("GET", 200)):
        return [f"no 409 resolved by re-reading: {calls}"]
    if step == "delete DELETE" and ("DELETE", 404) not in calls:
        return [f"no DELETE answered 404 after the retry: {calls}"]
    return []


def check_failure(case: FaultCase, result: dict, expected: str) -> list[str]:
    msg = str(result.get("msg"))
    if not is_one_line_failure(result) or result.get("crashed"):
        return [f"not a clean one-line failure: {result}"]
    wanted = ["Could not ", f'of organization "{case.org}"', f"{case.method} {case.path}", expected]
    return [f"message lacks {part!r}: {msg}" for part in wanted if part not in msg]


def check_case(case: FaultCase, result: dict, org_state: dict, log: list[dict]) -> list[str]:
    expected = case.expected_failure()
    problems = (
        check_success(case, result, log)
        if expected is None
        else check_failure(case, result, expected)
    )
    stored = org_view(org_state)
    stored["registries"].pop("humanitec")
    if stored != case.expected_state():
        problems.append(f"stored state is {stored}")
    return problems


def verify(emulator: Emulator, cases: list[FaultCase], results: dict, runner: str) -> list:
    state = emulator.hook("GET", "state")["orgs"]
    log = emulator.requests()
    # A fault left in the queue was never met: its step is not a request the module sends.
    problems = [f"fault never met: {fault}" for fault in emulator.hook("GET", "faults")]
    for case in cases:
        org_log = [entry for entry in log if entry["path"].startswith(f"/orgs/{case.org}/")]
        found = check_case(case, results[case.org], state[case.org], org_log)
        record_outcome(
            "fault",
            runner=runner,
            kind=case.kind,
            step=case.step,
            variant=case.variant,
            ok=not found,
        )
        problems += [f"{case.org}: {problem}" for problem in found]
    return problems


def test_fault_matrix_in_process(emulator, monkeypatch):
    """All fault kinds x steps x variants, through run_module() in threads, side by side."""
    for module in (humanitec_registry, humanitec_registry_info):
        monkeypatch.setattr(module, "HumanitecModule", InProcessModule)
    cases = matrix_cases()
    seed(emulator, cases)

    runners = {"registry": humanitec_registry, "info": humanitec_registry_info}
    jobs = [(runners[case.operation.module].run_module, case.args(emulator)) for case in cases]
    outcomes = run_many_in_process(jobs, workers=len(jobs))
    results = {case.org: result for case, result in zip(cases, outcomes, strict=True)}

    problems = verify(emulator, cases, results, "in-process")
    texts = {case.org: json.dumps(results[case.org]) for case in cases if case.step[:4] != "info"}
    leaks = scan_for_leaks("fault matrix, module results", texts)
    assert not problems, "\n".join(problems)
    assert not leaks, leaks


def test_retry_after_is_honoured(emulator, monkeypatch):
    """A 429 with Retry-After: 1 makes the client wait about a second before each retry."""
    monkeypatch.setattr(humanitec_registry_info, "HumanitecModule", InProcessModule)
    case = FaultCase("429 (Retry-After: 1)", "info GET list", "recover")
    seed(emulator, [case])
    started = time.monotonic()
    result = run_many_in_process([(humanitec_registry_info.run_module, case.args(emulator))])[0]
    elapsed = time.monotonic() - started
    assert not result["failed"], result
    assert elapsed >= MAX_RETRIES * 0.95, elapsed


# What ansible-playbook itself prints, with -vvvv and --diff: a few recovered and exhausted
# kinds, a write whose answer is lost, and each bad body (one echoing the secrets).
PLAYBOOK_CASES = [
    FaultCase("429 (Retry-After: 0)", "create POST", "recover"),
    FaultCase("connection reset", "update GET creds", "recover"),
    FaultCase("read timeout", "update PATCH", "exhaust"),
    FaultCase("503", "delete DELETE", "exhaust"),
    FaultCase("504", "info GET creds", "exhaust"),
    FaultCase("502", "create POST", "apply-recover"),
    *(FaultCase(kind, BAD_BODIES[kind][0], "bad-body") for kind in BAD_BODIES),
]

CASE_TASKS = [
    module_task(
        "humanitec.platform.humanitec_registry",
        "registry_result",
        when="case_module == 'registry'",
        ignore_errors=True,
    ),
    module_task(
        "humanitec.platform.humanitec_registry_info",
        "info_result",
        when="case_module == 'info'",
        ignore_errors=True,
    ),
    {
        "name": "Keep the result of the case",
        "ansible.builtin.set_fact": {
            "case_result": "{{ registry_result if case_module == 'registry' else info_result }}"
        },
    },
]


def test_faults_through_ansible_playbook(emulator):
    """The same checks on real module runs, plus a 400 whose body echoes the secrets."""
    cases = PLAYBOOK_CASES
    seed(emulator, cases)
    hosts = {
        case.org: {"case_module": case.operation.module, "case_args": case.args(emulator)}
        for case in cases
    }
    run = run_hosts(emulator, hosts, CASE_TASKS, forks=6, args=("-vvvv", "--diff"))

    assert run.returncode == 0, run.output[-3000:]
    assert "Traceback" not in run.output
    problems = verify(emulator, cases, run.results, "ansible-playbook")
    texts = {"stdout": run.stdout, "stderr": run.stderr, "results": json.dumps(run.results)}
    leaks = scan_for_leaks("fault cases, ansible-playbook -vvvv --diff", texts)
    assert not problems, "\n".join(problems)
    assert not leaks, leaks
