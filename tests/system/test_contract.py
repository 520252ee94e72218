# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Contract test: what the modules send and read matches the published OpenAPI document.

Every request body the modules send (taken from the emulator's request log) must validate
against RegistryRequest, and every answer they read (list, get, creds) against its response
schema. The emulator is checked too: it must answer what the document promises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
import requests
from harness import ORG_ID, REPO_ROOT, Emulator, run_tasks
from jsonschema import Draft202012Validator

SPEC_PATH = REPO_ROOT.parent / "shared" / "humanitec-registry-openapi.json"
REGISTRY = "humanitec.platform.humanitec_registry"
INFO = "humanitec.platform.humanitec_registry_info"
LIST_PATH = f"/orgs/{ORG_ID}/registries"
HARBOR_SECRETS = {"*": {"namespace": "dev-secrets", "secret": "harbor-pull"}}
MIRROR_SECRETS = {
    "prod-eu": {"namespace": "registry-secrets", "secret": "mirror-pull"},
    "*": {"namespace": "default", "secret": "mirror-pull"},
}

# Creates and updates that between them send every field of RegistryRequest.
TASKS = [
    {
        REGISTRY: {
            "id": "harbor-main",
            "registry": "harbor.example.com/platform",
            "type": "basic",
            "enable_ci": True,
            "secrets": HARBOR_SECRETS,
            "creds": {
                "username": "robot$platform",
                "password": "harbor-secret-1",
                "expires": "2027-01-31T00:00:00Z",
            },
        }
    },
    {
        REGISTRY: {
            "id": "private-mirror",
            "registry": "mirror.example.com",
            "type": "secret_ref",
            "secrets": MIRROR_SECRETS,
        }
    },
    {REGISTRY: {"id": "dockerhub", "registry": "docker.io", "type": "public"}},
    {
        REGISTRY: {
            "id": "harbor-main",
            "enable_ci": False,
            # No expiry given: the module sends the one the API holds.
            "creds": {"username": "robot$platform", "password": "harbor-secret-2"},
        }
    },
    {
        REGISTRY: {
            "id": "private-mirror",
            "secrets": {"prod-us": {"namespace": "registry-secrets", "secret": "mirror-us"}},
            "purge_secrets": False,
        }
    },
    {
        REGISTRY: {
            "id": "dockerhub",
            "type": "basic",
            "creds": {
                "username": "ci-bot",
                "password": "dockerhub-token",
                "expires": "2027-06-30T12:00:00.000Z",
            },
        }
    },
    {INFO: {"include_creds": True}},
    {INFO: {"id": "harbor-main"}},
    {INFO: {"id": "no-such-registry"}},
]


def json_schema(node):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable: true` also allows null."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        converted["type"] = [node["type"], "null"]
    return converted


class Contract:
    """Validators for the schemas of the OpenAPI document, $refs resolved in the document."""

    def __init__(self, document: dict) -> None:
        self.document = document
        self.components = json_schema(document["components"])

    def validator(self, schema: dict) -> Draft202012Validator:
        root = {**schema, "components": self.components}
        Draft202012Validator.check_schema(root)
        return Draft202012Validator(root)

    def errors(self, schema: dict, instance) -> list[str]:
        validator = self.validator(json_schema(schema))
        return sorted(
            f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message}"
            for error in validator.iter_errors(instance)
        )

    def named(self, name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        """The path template and operation object that a concrete request path belongs to."""
        for template, operations in self.document["paths"].items():
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
                return template, operations[method.lower()]
        raise AssertionError(f"{method} {path} is not an operation of the document")

    def response_schema(self, method: str, path: str, status: int) -> dict:
        _template, operation = self.operation(method, path)
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {path} answered {status}, not documented"
        return response["content"]["application/json"]["schema"]


@pytest.fixture(scope="module")
def contract() -> Contract:
    if not SPEC_PATH.exists():
        pytest.skip(f"the OpenAPI document is not at {SPEC_PATH}")
    return Contract(json.loads(SPEC_PATH.read_text()))


@dataclass
class ContractRun:
    """The requests the tasks sent, and the answers the API gives to their GETs afterwards."""

    sent: list[dict]
    answers: dict[str, requests.Response]


@pytest.fixture(scope="module")
def contract_run(emulator_process) -> ContractRun:
    emulator = Emulator(emulator_process)
    emulator.reset()
    run = run_tasks(emulator, TASKS)
    assert run.returncode == 0, run.output
    assert [result["msg"] for result in run.results if result.get("failed")] == []
    assert [result["changed"] for result in run.results[:6]] == [True] * 6

    logged = emulator.requests()
    # The log keeps requests, not answers: ask the same questions again of the final state.
    paths = sorted({entry["path"] for entry in logged if entry["method"] == "GET"})
    return ContractRun(logged, {path: emulator.api("GET", path) for path in paths})


def test_validation_catches_what_breaks_the_contract(contract):
    """The checks below are only worth something if a bad body fails them."""
    bad_body = {"id": "Not_Valid", "registry": 5, "creds": {"username": "u", "expires": "soon"}}
    good_body = {
        "id": "abc",
        "registry": "r.io",
        "type": "basic",
        "creds": {"username": "u", "password": "p", "expires": None},
    }

    assert contract.errors(contract.named("RegistryRequest"), bad_body) == [
        "<body>: 'type' is a required property",
        "creds/expires: 'soon' does not match "
        "'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]{3})?Z$'",
        "creds: 'password' is a required property",
        "id: 'Not_Valid' does not match '^[a-z0-9][a-z0-9-]+[a-z0-9]$'",
        "registry: 5 is not of type 'string'",
    ]
    assert contract.errors(contract.named("RegistryRequest"), good_body) == []


def test_every_request_body_matches_registry_request(contract, contract_run):
    writes = [entry for entry in contract_run.sent if entry["method"] in ("POST", "PATCH")]

    assert [(entry["method"], entry["path"]) for entry in writes] == [
        ("POST", LIST_PATH),
        ("POST", LIST_PATH),
        ("POST", LIST_PATH),
        ("PATCH", f"{LIST_PATH}/harbor-main"),
        ("PATCH", f"{LIST_PATH}/private-mirror"),
        ("PATCH", f"{LIST_PATH}/dockerhub"),
    ]
    schema = contract.named("RegistryRequest")
    for entry in writes:
        where = f"{entry['method']} {entry['path']}"
        assert contract.errors(schema, entry["body"]) == [], where


def test_request_bodies_send_only_documented_fields(contract, contract_run):
    schemas = contract.document["components"]["schemas"]
    record_fields = set(schemas["RegistryRequest"]["properties"])
    creds_fields = set(schemas["AccountCredsRequest"]["properties"])
    writes = [entry for entry in contract_run.sent if entry["method"] in ("POST", "PATCH")]
    bodies = [entry["body"] for entry in writes]

    assert {key for body in bodies for key in body} == record_fields
    assert {key for body in bodies for key in body.get("creds", {})} == creds_fields
    reads = [entry for entry in contract_run.sent if entry not in writes]
    assert {(entry["method"], entry["body"]) for entry in reads} == {("GET", None)}


def test_every_answer_the_modules_read_matches_its_schema(contract, contract_run):
    templates = set()
    for path, response in contract_run.answers.items():
        schema = contract.response_schema("GET", path, response.status_code)
        assert contract.errors(schema, response.json()) == [], f"GET {path}"
        if response.status_code == 200:
            templates.add(contract.operation("GET", path)[0])

    assert templates == {
        "/orgs/{orgId}/registries",
        "/orgs/{orgId}/registries/{regId}",
        "/orgs/{orgId}/registries/{regId}/creds",
    }


def test_error_answers_match_error_info_response(contract, emulator):
    emulator.seed({"id": "abc", "registry": "r.io", "type": "public"})
    answers = [
        emulator.api("GET", f"{LIST_PATH}/no-such-registry"),
        emulator.api("GET", "/orgs/nope/registries"),
        emulator.api("POST", LIST_PATH, {"id": "abc", "registry": "other.io", "type": "public"}),
        emulator.api("DELETE", f"{LIST_PATH}/humanitec"),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 409, 403]
    for answer in answers:
        method, path = answer.request.method, answer.request.path_url
        schema = contract.response_schema(method, path, answer.status_code)
        assert schema == contract.named("ErrorInfoResponse")
        assert contract.errors(schema, answer.json()) == [], f"{method} {path}"
