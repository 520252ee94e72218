"""Tests for the Humanitec registry API emulator (tests/emulator/humanitec_emulator.py).

Every test talks to a real emulator process over HTTP, the way the collection's tests and
demo use it. The contract test at the end checks the answers against the published OpenAPI
document in ``<repo root>/../shared/`` and is skipped when that file is absent.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

EMULATOR = Path(__file__).with_name("humanitec_emulator.py")
SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared" / "humanitec-registry-openapi.json"
)
TOKEN = "tok-3f9a1c7e-emulator-test"
PASSWORD = "pw-5b2d8e0a-secret"
ORG = "acme"
OTHER_ORG = "other"
REGISTRIES = f"/orgs/{ORG}/registries"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
ID_PATTERN = "^[a-z0-9][a-z0-9-]+[a-z0-9]$"
TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
BUILTIN = {
    "id": "humanitec",
    "registry": "registry.humanitec.io",
    "type": "basic",
    "enable_ci": False,
    "secrets": {},
    "created_at": "2020-05-22T14:53:27.000Z",
    "created_by": "humanitec",
}
SECRETS = {"*": {"namespace": "dev-secrets", "secret": "custom-regcred"}}
CREDS = {"username": "robot", "password": PASSWORD, "expires": "2030-01-01T00:00:00.000Z"}


def assert_no_secret(response: requests.Response, path: str) -> None:
    """Neither the token nor a password may ever come back, except passwords from /creds."""
    assert TOKEN not in response.text
    if response.status_code >= 400 or not path.endswith("/creds"):
        assert PASSWORD not in response.text


class EmulatorProcess:
    """A running emulator subprocess and helpers to call it."""

    def __init__(self, args: list[str], stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        with stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(EMULATOR), *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.url = self._read_url()

    def _read_url(self) -> str:
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            self.stop()
            pytest.fail(f"emulator printed no URL within {START_TIMEOUT} s")
        if not line:
            self.stop()
            pytest.fail(f"emulator exited before printing its URL: {self.stderr()}")
        return line.rstrip("\n")

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.rsplit("//", 1)[1].split(":")
        return host, int(port)

    def api(
        self,
        method: str,
        path: str,
        token: str | None = TOKEN,
        session: requests.Session | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 10)
        client = session or requests
        response = client.request(method, self.url + path, headers=headers, **kwargs)
        assert_no_secret(response, path)
        return response

    def hook(self, method: str, name: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.request(method, f"{self.url}/_emulator/{name}", **kwargs)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Stop by pid, bounded in time: the signal first, SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
        return self.proc.returncode


Spawn = Callable[..., EmulatorProcess]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start dedicated emulators (``spawn(*extra_args)``); all are stopped afterwards."""
    started: list[EmulatorProcess] = []

    def start(*args: str | Path) -> EmulatorProcess:
        argv = ["--port", "0", "--token", TOKEN, *map(str, args)]
        emulator = EmulatorProcess(argv, tmp_path / f"stderr-{len(started)}.log")
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
        if emulator.proc.stdout:
            emulator.proc.stdout.close()


@pytest.fixture(scope="module")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    stderr = tmp_path_factory.mktemp("emulator") / "stderr.log"
    args = ["--port", "0", "--token", TOKEN, "--org", ORG, "--org", OTHER_ORG]
    emulator = EmulatorProcess(args, stderr)
    yield emulator
    emulator.stop()
    if emulator.proc.stdout:
        emulator.proc.stdout.close()


@pytest.fixture
def emu(shared_emulator: EmulatorProcess) -> EmulatorProcess:
    """The shared emulator, reset to the built-in registries with no faults, log or latency."""
    assert shared_emulator.hook("POST", "reset").status_code == 204
    assert shared_emulator.hook("DELETE", "stats").status_code == 204
    assert shared_emulator.hook("POST", "config", json={"latency_ms": 0}).ok
    return shared_emulator


def body(reg_id: str = "my-reg", registry: str = "registry.example.com", **extra: Any) -> dict:
    return {"id": reg_id, "registry": registry, "type": "basic", **extra}


def create(emulator: EmulatorProcess, org: str = ORG, **fields: Any) -> dict[str, Any]:
    response = emulator.api("POST", f"/orgs/{org}/registries", json=body(**fields))
    assert response.status_code == 201, response.text
    return response.json()


def error_of(response: requests.Response, status: int) -> str:
    """Assert an ErrorInfoResponse with ``status`` and return its message."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    assert list(document) == ["error"] and isinstance(document["error"], str)
    return document["error"]


def queue_faults(emulator: EmulatorProcess, *faults: dict[str, Any]) -> None:
    response = emulator.hook("POST", "faults", json=list(faults))
    assert response.status_code == 200, response.text


# --- Start-up and HTTP behaviour ---------------------------------------------------------


def test_prints_url_and_writes_url_file(spawn: Spawn, tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    emulator = spawn("--url-file", url_file)
    assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+", emulator.url)
    assert url_file.read_text().strip() == emulator.url
    assert emulator.hook("GET", "health").json() == {"ok": True}


def test_http11_keep_alive_and_content_length(emu: EmulatorProcess) -> None:
    connection = http.client.HTTPConnection(*emu.address, timeout=5)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for _attempt in range(2):
        connection.request("GET", REGISTRIES, headers=auth)
        response = connection.getresponse()
        payload = response.read()
        assert response.version == 11
        assert int(response.getheader("Content-Length")) == len(payload)
        assert response.getheader("Content-Type") == "application/json"
    create(emu)
    connection.request("DELETE", f"{REGISTRIES}/my-reg", headers=auth)
    response = connection.getresponse()
    assert (response.status, response.read()) == (204, b"")
    assert response.getheader("Content-Length") is None
    connection.close()
    # create() used its own connection; the three requests above shared one.
    assert emu.hook("GET", "stats").json()["connections"] == 2


def test_unknown_paths_and_methods(emu: EmulatorProcess) -> None:
    assert "No API endpoint" in error_of(emu.api("GET", "/orgs"), 404)
    assert "No API endpoint" in error_of(emu.api("GET", f"{REGISTRIES}/"), 404)
    assert "No API endpoint" in error_of(emu.api("GET", f"{REGISTRIES}/x/creds/y"), 404)
    response = emu.api("PUT", REGISTRIES, json=body())
    assert "PUT" in error_of(response, 405)
    assert response.headers["Allow"] == "GET, POST"
    assert emu.api("DELETE", f"{REGISTRIES}/humanitec/creds").status_code == 405
    error_of(emu.hook("GET", "nope"), 404)
    error_of(emu.hook("PATCH", "health"), 405)


# --- Happy paths ---------------------------------------------------------------------------


def test_every_org_starts_with_the_builtin_registry(emu: EmulatorProcess) -> None:
    for org in (ORG, OTHER_ORG):
        response = emu.api("GET", f"/orgs/{org}/registries")
        assert response.status_code == 200
        assert response.json() == [BUILTIN]
    assert emu.api("GET", f"{REGISTRIES}/humanitec").json() == BUILTIN


def test_create_get_and_list(emu: EmulatorProcess) -> None:
    response = emu.api("POST", REGISTRIES, json=body(enable_ci=True, secrets=SECRETS, creds=CREDS))
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    created = response.json()
    assert TIMESTAMP_RE.fullmatch(created.pop("created_at"))
    assert created == {
        "id": "my-reg",
        "registry": "registry.example.com",
        "type": "basic",
        "enable_ci": True,
        "secrets": SECRETS,
        "created_by": "ansible@example.com",
    }
    record = emu.api("GET", f"{REGISTRIES}/my-reg").json()
    assert record == {**created, "created_at": record["created_at"]}
    assert emu.api("GET", REGISTRIES).json() == [BUILTIN, record]
    assert emu.api("GET", f"/orgs/{OTHER_ORG}/registries").json() == [BUILTIN]


def test_create_defaults_and_ignores_unknown_fields(emu: EmulatorProcess) -> None:
    record = create(emu, type="public", created_by="someone", extra={"x": 1})
    assert record["enable_ci"] is False and record["secrets"] == {}
    assert record["created_by"] == "ansible@example.com"
    assert "extra" not in record


def test_created_by_follows_user_flag(spawn: Spawn) -> None:
    emulator = spawn("--user", "bot@example.org")
    assert create(emulator)["created_by"] == "bot@example.org"


def test_patch_replaces_registry_and_type_and_keeps_the_rest(emu: EmulatorProcess) -> None:
    created = create(emu, enable_ci=True, secrets=SECRETS, creds=CREDS)
    patch = {"id": "my-reg", "registry": "new.example.com", "type": "public"}
    response = emu.api("PATCH", f"{REGISTRIES}/my-reg", json=patch)
    assert response.status_code == 200
    assert response.json() == {**created, "registry": "new.example.com", "type": "public"}
    creds = emu.api("GET", f"{REGISTRIES}/my-reg/creds").json()
    assert (creds["username"], creds["password"]) == ("robot", PASSWORD)


def test_patch_replaces_optional_fields_when_given(emu: EmulatorProcess) -> None:
    create(emu, enable_ci=True, secrets=SECRETS, creds=CREDS)
    new_secrets = {"c1": {"namespace": "ns", "secret": "s"}}
    new_creds = {"username": "other", "password": PASSWORD + "2"}
    patch = body(enable_ci=False, secrets=new_secrets, creds=new_creds)
    record = emu.api("PATCH", f"{REGISTRIES}/my-reg", json=patch).json()
    assert (record["enable_ci"], record["secrets"]) == (False, new_secrets)
    creds = emu.api("GET", f"{REGISTRIES}/my-reg/creds").json()
    assert creds == {
        "registry": "registry.example.com",
        "username": "other",
        "password": PASSWORD + "2",
        "expires": None,
        "secrets": new_secrets,
    }


def test_delete(emu: EmulatorProcess) -> None:
    create(emu, creds=CREDS)
    response = emu.api("DELETE", f"{REGISTRIES}/my-reg")
    assert (response.status_code, response.content) == (204, b"")
    assert "Content-Length" not in response.headers
    error_of(emu.api("GET", f"{REGISTRIES}/my-reg"), 404)
    error_of(emu.api("GET", f"{REGISTRIES}/my-reg/creds"), 404)
    assert "my-reg" not in emu.hook("GET", "state").json()["orgs"][ORG]["creds"]
    assert emu.api("GET", REGISTRIES).json() == [BUILTIN]


def test_creds_only_from_the_creds_endpoint(emu: EmulatorProcess) -> None:
    create(emu, secrets=SECRETS, creds=CREDS)
    create(emu, reg_id="no-creds", registry="plain.example.com")
    creds = emu.api("GET", f"{REGISTRIES}/my-reg/creds").json()
    assert creds == {"registry": "registry.example.com", "secrets": SECRETS, **CREDS}
    assert emu.api("GET", f"{REGISTRIES}/no-creds/creds").json() == {
        "registry": "plain.example.com",
        "username": "",
        "password": "",
        "expires": None,
        "secrets": {},
    }
    assert emu.api("GET", f"{REGISTRIES}/humanitec/creds").json()["registry"] == (
        "registry.humanitec.io"
    )
    # assert_no_secret() in api() also checks that PASSWORD is absent from these answers.
    records = [*emu.api("GET", REGISTRIES).json(), emu.api("GET", f"{REGISTRIES}/my-reg").json()]
    assert all(set(record) == set(BUILTIN) for record in records)


@pytest.mark.parametrize(
    "expires", [None, "2024-02-29T23:59:59Z", "2024-02-29T23:59:59.123Z"], ids=str
)
def test_valid_expires_values(emu: EmulatorProcess, expires: str | None) -> None:
    create(emu, creds={"username": "u", "password": PASSWORD, "expires": expires})
    assert emu.api("GET", f"{REGISTRIES}/my-reg/creds").json()["expires"] == expires


def test_path_parameters_are_percent_decoded(emu: EmulatorProcess) -> None:
    create(emu)
    assert emu.api("GET", "/orgs/ac%6De/registries/my%2Dreg").json()["id"] == "my-reg"


# --- Errors ----------------------------------------------------------------------------------


def _without(key: str) -> dict[str, Any]:
    document = body()
    del document[key]
    return document


ID_ERROR = f'Invalid field "id": must match {ID_PATTERN}'
TYPE_ERROR = (
    'Invalid field "type": must be one of public, basic, google_gcr, amazon_ecr, secret_ref'
)
CI_ERROR = 'Invalid field "enable_ci": must be a boolean'
SECRET_ERROR = 'Secret for cluster "c1" requires "namespace" and "secret"'
CREDS_ERROR = 'Field "creds" requires "username" and "password"'
EXPIRES_ERROR = 'Invalid field "creds.expires": must be null or match '
INVALID_BODIES = [
    pytest.param(b"{not json", "Request body is not valid JSON", id="not-json"),
    pytest.param(b'{"id": NaN}', "Request body is not valid JSON", id="nan"),
    pytest.param(b"\xff\xfe", "Request body is not valid JSON", id="not-utf8"),
    pytest.param(b"", "Request body is empty; expected a JSON object", id="empty"),
    pytest.param([body()], "Request body must be a JSON object", id="array"),
    pytest.param(_without("id"), 'Missing required field "id"', id="no-id"),
    pytest.param(_without("registry"), 'Missing required field "registry"', id="no-registry"),
    pytest.param(_without("type"), 'Missing required field "type"', id="no-type"),
    pytest.param(body(reg_id=7), 'Invalid field "id": must be a string', id="id-int"),
    pytest.param(body(registry=""), 'Invalid field "registry": must not be empty', id="reg-empty"),
    pytest.param(body(registry=None), 'Invalid field "registry": must be a string', id="reg-null"),
    pytest.param(body(reg_id="My-Reg"), ID_ERROR, id="id-upper"),
    pytest.param(body(reg_id="ab"), ID_ERROR, id="id-short"),
    pytest.param(body(reg_id="-abc"), ID_ERROR, id="id-leading-dash"),
    pytest.param(body(reg_id="abc-"), ID_ERROR, id="id-trailing-dash"),
    pytest.param(body(reg_id="abc\n"), ID_ERROR, id="id-newline"),
    pytest.param({**body(), "type": "docker"}, TYPE_ERROR, id="type-unknown"),
    pytest.param(body(enable_ci="yes"), CI_ERROR, id="enable-ci-string"),
    pytest.param(body(enable_ci=None), CI_ERROR, id="enable-ci-null"),
    pytest.param(body(secrets=[]), 'Invalid field "secrets": must be an object', id="secrets"),
    pytest.param(body(secrets={"c1": {"secret": "s"}}), SECRET_ERROR, id="secret-no-namespace"),
    pytest.param(body(secrets={"c1": {"namespace": "n"}}), SECRET_ERROR, id="secret-no-secret"),
    pytest.param(body(secrets={"c1": "n/s"}), SECRET_ERROR, id="secret-string"),
    pytest.param(
        body(secrets={"c1": {"namespace": 1, "secret": "s"}}),
        'Invalid field "secrets.c1.namespace": must be a string',
        id="secret-namespace-int",
    ),
    pytest.param(body(creds="u:p"), 'Invalid field "creds": must be an object', id="creds-str"),
    pytest.param(body(creds={"username": "u"}), CREDS_ERROR, id="creds-no-password"),
    pytest.param(body(creds={"password": PASSWORD}), CREDS_ERROR, id="creds-no-username"),
    pytest.param(
        body(creds={"username": 5, "password": PASSWORD}),
        'Invalid field "creds.username": must be a string',
        id="creds-username-int",
    ),
    pytest.param(
        body(creds={"username": "u", "password": [PASSWORD]}),
        'Invalid field "creds.password": must be a string',
        id="creds-password-list",
    ),
    *(
        pytest.param(
            body(creds={"username": "u", "password": PASSWORD, "expires": expires}),
            EXPIRES_ERROR,
            id=f"expires-{expires}",
        )
        for expires in ("2024-01-01", "2024-01-01T00:00:00.12Z", "2024-01-01T00:00:00+00:00", 5)
    ),
]


def _send_body(emulator: EmulatorProcess, method: str, path: str, payload: Any):
    if isinstance(payload, bytes):
        headers = {"Content-Type": "application/json"}
        return emulator.api(method, path, data=payload, headers=headers)
    return emulator.api(method, path, json=payload)


@pytest.mark.parametrize(("payload", "message"), INVALID_BODIES)
def test_post_validation(emu: EmulatorProcess, payload: Any, message: str) -> None:
    assert error_of(_send_body(emu, "POST", REGISTRIES, payload), 400).startswith(message)
    assert emu.api("GET", REGISTRIES).json() == [BUILTIN]


@pytest.mark.parametrize(("payload", "message"), INVALID_BODIES)
def test_patch_validation(emu: EmulatorProcess, payload: Any, message: str) -> None:
    created = create(emu)
    response = _send_body(emu, "PATCH", f"{REGISTRIES}/my-reg", payload)
    assert error_of(response, 400).startswith(message)
    assert emu.api("GET", f"{REGISTRIES}/my-reg").json() == created


def test_patch_body_id_must_match_path(emu: EmulatorProcess) -> None:
    create(emu)
    create(emu, reg_id="second", registry="second.example.com")
    response = emu.api("PATCH", f"{REGISTRIES}/my-reg", json=body(reg_id="second"))
    assert error_of(response, 400).startswith('Invalid field "id"')


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", "Bearer"],
)
def test_unauthorized(emu: EmulatorProcess, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    calls = [
        ("GET", REGISTRIES),
        ("POST", REGISTRIES),
        ("GET", f"{REGISTRIES}/humanitec"),
        ("PATCH", f"{REGISTRIES}/humanitec"),
        ("DELETE", f"{REGISTRIES}/humanitec"),
        ("GET", f"{REGISTRIES}/humanitec/creds"),
        ("GET", "/orgs/nope/registries"),  # 401 comes before 404
        ("PUT", REGISTRIES),  # ... and before 405
    ]
    for method, path in calls:
        response = emu.api(method, path, token=None, headers=dict(headers), json=[1])
        message = error_of(response, 401)
        assert "wrong-token" not in response.text and "Bearer" not in message
    assert emu.api("GET", REGISTRIES).json() == [BUILTIN]


def test_scheme_is_case_insensitive(emu: EmulatorProcess) -> None:
    headers = {"Authorization": f"bearer {TOKEN}"}
    assert emu.api("GET", REGISTRIES, token=None, headers=headers).status_code == 200


def test_unknown_org(emu: EmulatorProcess) -> None:
    message = 'Organization "nope" not found'
    base = "/orgs/nope/registries"
    assert error_of(emu.api("GET", base), 404) == message
    # 404 comes before 400: the invalid body is not even looked at.
    assert error_of(emu.api("POST", base, data=b"{oops"), 404) == message
    for method in ("GET", "PATCH", "DELETE"):
        assert error_of(emu.api(method, f"{base}/humanitec", json=body()), 404) == message
    assert error_of(emu.api("GET", f"{base}/humanitec/creds"), 404) == message


def test_unknown_registry(emu: EmulatorProcess) -> None:
    message = 'Registry "ghost" not found in organization "acme"'
    path = f"{REGISTRIES}/ghost"
    assert error_of(emu.api("GET", path), 404) == message
    assert error_of(emu.api("PATCH", path, json={"bad": True}), 404) == message
    assert error_of(emu.api("DELETE", path), 404) == message
    assert error_of(emu.api("GET", f"{path}/creds"), 404) == message


def test_conflicting_id(emu: EmulatorProcess) -> None:
    create(emu)
    response = emu.api("POST", REGISTRIES, json=body(registry="elsewhere.example.com"))
    assert error_of(response, 409) == 'Registry with id "my-reg" already exists'
    response = emu.api("POST", REGISTRIES, json=body(reg_id="humanitec", registry="x.example"))
    assert error_of(response, 409) == 'Registry with id "humanitec" already exists'
    # 400 comes before 409.
    error_of(emu.api("POST", REGISTRIES, json=body(type="nope")), 400)
    # Ids are per organization.
    assert create(emu, org=OTHER_ORG)["id"] == "my-reg"


def test_conflicting_registry_name_names_the_other_id(emu: EmulatorProcess) -> None:
    create(emu, reg_id="first-reg")
    expected = 'Registry name "registry.example.com" is already used by registry "first-reg"'
    response = emu.api("POST", REGISTRIES, json=body(reg_id="second"))
    assert error_of(response, 409) == expected
    create(emu, reg_id="second", registry="second.example.com")
    response = emu.api("PATCH", f"{REGISTRIES}/second", json=body(reg_id="second"))
    assert error_of(response, 409) == expected
    # Keeping one's own name is no conflict.
    patch = body(reg_id="first-reg", type="public")
    assert emu.api("PATCH", f"{REGISTRIES}/first-reg", json=patch).status_code == 200
    response = emu.api("POST", REGISTRIES, json=body(reg_id="third", registry=BUILTIN["registry"]))
    assert error_of(response, 409).endswith('used by registry "humanitec"')


def test_builtin_registry_is_read_only(emu: EmulatorProcess) -> None:
    path = f"{REGISTRIES}/humanitec"
    patch = body(reg_id="humanitec", registry="registry.humanitec.io")
    message = error_of(emu.api("PATCH", path, json=patch), 403)
    assert message == "Built-in 'humanitec' registry can't be changed."
    message = error_of(emu.api("DELETE", path), 403)
    assert message == "Built-in 'humanitec' registry can't be deleted."
    # 400 comes before 403.
    error_of(emu.api("PATCH", path, json=body(reg_id="humanitec", type="x")), 400)
    assert emu.api("GET", path).json() == BUILTIN


def test_token_and_password_never_echoed(emu: EmulatorProcess) -> None:
    create(emu, creds=CREDS)
    creds_bad_expiry = {**CREDS, "expires": PASSWORD}
    attempts = [
        emu.api("POST", REGISTRIES, json=body(reg_id=PASSWORD)),
        emu.api("POST", REGISTRIES, json=body(creds=creds_bad_expiry)),
        emu.api("POST", REGISTRIES, json=body(reg_id="x2y", creds={"password": PASSWORD})),
        emu.api("POST", REGISTRIES, json=body(creds=CREDS)),
        emu.api("PATCH", f"{REGISTRIES}/my-reg", json=body(type=PASSWORD, creds=CREDS)),
        emu.api("GET", REGISTRIES, token=None, headers={"Authorization": f"Basic {TOKEN}"}),
        emu.api("GET", REGISTRIES, token=PASSWORD),
        emu.api("PUT", REGISTRIES, json=CREDS),
    ]
    for response in attempts:
        assert response.status_code >= 400
        assert TOKEN not in response.text and PASSWORD not in response.text


# --- Fault injection -------------------------------------------------------------------------


def test_status_fault_with_retry_after(emu: EmulatorProcess) -> None:
    fault = {"method": "GET", "path": REGISTRIES, "kind": "status", "status": 503}
    queue_faults(emu, {**fault, "retry_after": "2"})
    response = emu.api("GET", REGISTRIES)
    assert response.headers["Retry-After"] == "2"
    assert "503" in error_of(response, 503)
    assert emu.api("GET", REGISTRIES).status_code == 200
    assert emu.hook("GET", "faults").json() == []


def test_status_fault_with_raw_body(emu: EmulatorProcess) -> None:
    html = "<html><body>Bad gateway</body></html>"
    queue_faults(emu, {"status": 502, "body": html, "content_type": "text/html"})
    response = emu.api("GET", REGISTRIES)
    assert (response.status_code, response.text) == (502, html)
    assert response.headers["Content-Type"] == "text/html"
    assert "Retry-After" not in response.headers


def test_faults_match_by_method_and_path_in_fifo_order(emu: EmulatorProcess) -> None:
    queue_faults(
        emu,
        {"path": r"/orgs/acme/registries/[^/]+/creds", "status": 500, "times": 2},
        {"method": "post", "status": 429},
        {"status": 502},
    )
    listed = emu.hook("GET", "faults").json()
    assert [(f["status"], f["times"], f["method"]) for f in listed] == [
        (500, 2, None),
        (429, 1, "POST"),
        (502, 1, None),
    ]
    assert emu.api("GET", REGISTRIES).status_code == 502
    creds = f"{REGISTRIES}/humanitec/creds"
    assert [emu.api("GET", creds).status_code for _attempt in range(3)] == [500, 500, 200]
    assert emu.api("POST", REGISTRIES, json=body()).status_code == 429
    assert emu.hook("GET", "faults").json() == []
    assert emu.api("POST", REGISTRIES, json=body()).status_code == 201


def test_clear_faults(emu: EmulatorProcess) -> None:
    queue_faults(emu, {"status": 500, "times": 5})
    assert emu.hook("DELETE", "faults").status_code == 204
    assert emu.hook("GET", "faults").json() == []
    assert emu.api("GET", REGISTRIES).status_code == 200


def test_status_fault_applied_after_processing(emu: EmulatorProcess) -> None:
    queue_faults(emu, {"method": "POST", "status": 502, "apply": True})
    error_of(emu.api("POST", REGISTRIES, json=body()), 502)
    # The write landed although its answer was lost.
    assert emu.api("GET", f"{REGISTRIES}/my-reg").status_code == 200
    error_of(emu.api("POST", REGISTRIES, json=body()), 409)


def test_status_fault_without_apply_does_not_process(emu: EmulatorProcess) -> None:
    queue_faults(emu, {"method": "POST", "status": 500})
    error_of(emu.api("POST", REGISTRIES, json=body()), 500)
    error_of(emu.api("GET", f"{REGISTRIES}/my-reg"), 404)


def test_reset_fault(emu: EmulatorProcess) -> None:
    queue_faults(emu, {"method": "GET", "kind": "reset"})
    connection = http.client.HTTPConnection(*emu.address, timeout=5)
    connection.request("GET", REGISTRIES, headers={"Authorization": f"Bearer {TOKEN}"})
    # A reset (RST), not an orderly close, which http.client reports as RemoteDisconnected.
    with pytest.raises(ConnectionResetError):
        connection.getresponse()
    connection.close()
    assert emu.api("GET", REGISTRIES).status_code == 200
    statuses = [entry["status"] for entry in emu.hook("GET", "requests").json()]
    assert statuses == ["reset", 200]


def test_reset_fault_applied_after_processing(emu: EmulatorProcess) -> None:
    queue_faults(emu, {"method": "POST", "kind": "reset", "apply": True})
    with pytest.raises(requests.ConnectionError):
        emu.api("POST", REGISTRIES, json=body())
    assert emu.api("GET", f"{REGISTRIES}/my-reg").status_code == 200


def test_delay_fault(emu: EmulatorProcess) -> None:
    queue_faults(emu, {"method": "POST", "kind": "delay", "seconds": 0.3})
    started = time.monotonic()
    response = emu.api("POST", REGISTRIES, json=body())
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 201


def test_delay_fault_client_gives_up(emu: EmulatorProcess) -> None:
    queue_faults(emu, {"method": "POST", "kind": "delay", "seconds": 0.4})
    with pytest.raises(requests.ReadTimeout):
        emu.api("POST", REGISTRIES, json=body(), timeout=0.1)
    # The write was processed; the late answer goes nowhere, quietly.
    assert emu.api("GET", f"{REGISTRIES}/my-reg").status_code == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "explode"},
        {"times": 0},
        {"times": True},
        {"status": 99},
        {"path": "("},
        {"seconds": -1, "kind": "delay"},
        {"retry_after": "1\r\nX-Evil: 1"},
        "status",
    ],
    ids=str,
)
def test_invalid_fault_specs_queue_nothing(emu: EmulatorProcess, fault: Any) -> None:
    response = emu.hook("POST", "faults", json=[{"status": 500}, fault])
    error_of(response, 400)
    assert emu.hook("GET", "faults").json() == []


# --- Request log, stats, state and config hooks ----------------------------------------------


def test_request_log(emu: EmulatorProcess) -> None:
    emu.api("GET", REGISTRIES)
    emu.api("POST", REGISTRIES, json=body())
    emu.api("POST", REGISTRIES, data=b"{nope")
    emu.api("DELETE", f"{REGISTRIES}/my-reg", token="bad")
    emu.hook("GET", "health")  # hooks are not logged
    assert emu.hook("GET", "requests").json() == [
        {"method": "GET", "path": REGISTRIES, "status": 200, "body": None},
        {"method": "POST", "path": REGISTRIES, "status": 201, "body": body()},
        {"method": "POST", "path": REGISTRIES, "status": 400, "body": None},
        {"method": "DELETE", "path": f"{REGISTRIES}/my-reg", "status": 401, "body": None},
    ]
    assert emu.hook("DELETE", "requests").status_code == 204
    assert emu.hook("GET", "requests").json() == []


def test_stats_count_connections_and_requests(emu: EmulatorProcess) -> None:
    with requests.Session() as session:
        for _attempt in range(2):
            assert emu.api("GET", REGISTRIES, session=session).status_code == 200
    stats = emu.hook("GET", "stats").json()
    assert (stats["connections"], stats["requests"]) == (1, 2)
    emu.api("GET", REGISTRIES)
    emu.api("GET", REGISTRIES)
    stats = emu.hook("GET", "stats").json()
    assert (stats["connections"], stats["requests"]) == (3, 4)
    assert stats["accepted"] >= 3
    assert emu.hook("DELETE", "stats").status_code == 204
    # "accepted" counts every socket, including the one this very hook call came on.
    assert emu.hook("GET", "stats").json() == {"connections": 0, "requests": 0, "accepted": 1}


def test_state_dump_includes_creds(emu: EmulatorProcess) -> None:
    record = create(emu, creds=CREDS)
    state = emu.hook("GET", "state").json()
    assert set(state["orgs"]) == {ORG, OTHER_ORG}
    assert state["orgs"][ORG] == {
        "registries": {"humanitec": BUILTIN, "my-reg": record},
        "creds": {"my-reg": CREDS},
    }


def _seed_state(count: int) -> dict[str, Any]:
    registries: dict[str, Any] = {"humanitec": BUILTIN}
    for index in range(count):
        reg_id = f"reg-{index:04d}"
        registries[reg_id] = {"registry": f"{reg_id}.example.com", "type": "basic"}
    creds = {"reg-0001": {"username": "u", "password": PASSWORD}}
    return {"orgs": {ORG: {"registries": registries, "creds": creds}}}


def test_put_state_seeds_many_registries(emu: EmulatorProcess) -> None:
    started = time.monotonic()
    assert emu.hook("PUT", "state", json=_seed_state(2000)).status_code == 204
    listed = emu.api("GET", REGISTRIES).json()
    assert time.monotonic() - started < 5
    assert len(listed) == 2001
    assert listed[2]["id"] == "reg-0001" and listed[2]["enable_ci"] is False
    assert listed[2]["created_by"] == "ansible@example.com"
    assert TIMESTAMP_RE.fullmatch(listed[2]["created_at"])
    creds = emu.api("GET", f"{REGISTRIES}/reg-0001/creds").json()
    assert (creds["password"], creds["expires"]) == (PASSWORD, None)
    # PUT replaces the whole state: the other org is gone.
    error_of(emu.api("GET", f"/orgs/{OTHER_ORG}/registries"), 404)


@pytest.mark.parametrize(
    "state",
    [
        [],
        {"orgs": []},
        {"orgs": {ORG: {"registries": []}}},
        {"orgs": {ORG: {"registries": {"Bad_Id": {"registry": "r", "type": "basic"}}}}},
        {"orgs": {ORG: {"registries": {}, "creds": {"ghost": {"username": "u"}}}}},
    ],
    ids=str,
)
def test_put_state_rejects_bad_documents(emu: EmulatorProcess, state: Any) -> None:
    assert error_of(emu.hook("PUT", "state", json=state), 400).startswith("Invalid state")
    assert emu.api("GET", REGISTRIES).json() == [BUILTIN]


def test_reset_hook(emu: EmulatorProcess) -> None:
    create(emu, creds=CREDS)
    queue_faults(emu, {"status": 500, "path": "/never"})
    assert emu.hook("POST", "reset").status_code == 204
    assert emu.api("GET", REGISTRIES).json() == [BUILTIN]
    assert emu.hook("GET", "state").json()["orgs"][ORG]["creds"] == {}
    assert emu.hook("GET", "faults").json() == []
    assert len(emu.hook("GET", "requests").json()) == 1  # only the GET above


def _elapsed(call: Callable[[], requests.Response]) -> float:
    started = time.monotonic()
    assert call().status_code == 200
    return time.monotonic() - started


def test_latency_config_at_runtime(emu: EmulatorProcess) -> None:
    response = emu.hook("POST", "config", json={"latency_ms": 200})
    assert response.json() == {"latency_ms": 200}
    assert _elapsed(lambda: emu.api("GET", REGISTRIES)) >= 0.2
    # Test hooks are never slowed down.
    assert _elapsed(lambda: emu.hook("GET", "health")) < 0.15
    emu.hook("POST", "config", json={"latency_ms": 0})
    assert _elapsed(lambda: emu.api("GET", REGISTRIES)) < 0.15
    error_of(emu.hook("POST", "config", json={"latency_ms": -1}), 400)


def test_latency_flag(spawn: Spawn) -> None:
    emulator = spawn("--latency-ms", "150")
    assert _elapsed(lambda: emulator.api("GET", REGISTRIES)) >= 0.15
    assert emulator.hook("GET", "config").json() == {"latency_ms": 150}


# --- Persistence, signals, TLS -----------------------------------------------------------


def test_state_file_survives_restart(spawn: Spawn, tmp_path: Path) -> None:
    state_file = tmp_path / "state" / "emulator.json"
    state_file.parent.mkdir()
    first = spawn("--state-file", state_file)
    create(first, creds=CREDS, secrets=SECRETS)
    first.api("PATCH", f"{REGISTRIES}/my-reg", json=body(type="public"))
    create(first, reg_id="gone", registry="gone.example.com")
    assert first.api("DELETE", f"{REGISTRIES}/gone").status_code == 204
    before = first.hook("GET", "state").json()
    assert first.stop() == 0
    second = spawn("--state-file", state_file, "--org", ORG, "--org", "newcomer")
    after = second.hook("GET", "state").json()
    assert after["orgs"][ORG] == before["orgs"][ORG]
    assert after["orgs"]["newcomer"]["registries"] == {"humanitec": BUILTIN}
    assert second.api("GET", f"{REGISTRIES}/my-reg/creds").json()["password"] == PASSWORD
    assert os.listdir(state_file.parent) == ["emulator.json"]


def test_acknowledged_writes_survive_kill_9(spawn: Spawn, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    first = spawn("--state-file", state_file)
    for index in range(5):
        create(first, reg_id=f"reg-{index}", registry=f"r{index}.example.com")
    first.stop(signal.SIGKILL)
    second = spawn("--state-file", state_file)
    ids = [record["id"] for record in second.api("GET", REGISTRIES).json()]
    assert ids == ["humanitec", *(f"reg-{index}" for index in range(5))]


def test_state_hooks_persist(spawn: Spawn, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    first = spawn("--state-file", state_file)
    assert first.hook("PUT", "state", json=_seed_state(3)).status_code == 204
    first.stop(signal.SIGKILL)
    second = spawn("--state-file", state_file)
    assert len(second.api("GET", REGISTRIES).json()) == 4
    assert second.hook("POST", "reset").status_code == 204
    second.stop(signal.SIGKILL)
    assert json.loads(state_file.read_text())["orgs"][ORG]["registries"] == {"humanitec": BUILTIN}


def test_unreadable_state_file_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text("{broken")
    argv = [sys.executable, str(EMULATOR), "--port", "0", "--state-file", str(state_file)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert "state file" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_quiet_and_clean_exit(spawn: Spawn, signum: int) -> None:
    emulator = spawn()
    emulator.api("GET", REGISTRIES)
    emulator.api("GET", REGISTRIES, token="wrong")
    emulator.api("GET", "/nowhere")
    queue_faults(emulator, {"kind": "reset", "times": 1}, {"kind": "delay", "seconds": 0.2})
    with pytest.raises(requests.ConnectionError):
        emulator.api("GET", REGISTRIES)
    with pytest.raises(requests.ReadTimeout):
        emulator.api("GET", REGISTRIES, timeout=0.05)
    with socket.create_connection(emulator.address, timeout=5) as raw:
        raw.sendall(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b"".join(iter(lambda: raw.recv(4096), b""))  # until the server closes
    assert answer.startswith(b"HTTP/1.1 501 ") and b'{"error": ' in answer
    time.sleep(0.25)  # let the delayed answer hit the closed connection
    assert emulator.stop(signum) == 0
    assert emulator.proc.stdout is not None and emulator.proc.stdout.read() == ""
    assert emulator.stderr() == ""


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def test_tls(spawn: Spawn, tmp_path: Path) -> None:
    cert, key = _self_signed_cert(tmp_path)
    emulator = spawn("--tls-cert", cert, "--tls-key", key)
    assert re.fullmatch(r"https://127\.0\.0\.1:[0-9]+", emulator.url)
    # verify= per request: REQUESTS_CA_BUNDLE in the environment would override session.verify.
    with requests.Session() as session:
        for _attempt in range(2):
            response = emulator.api("GET", REGISTRIES, session=session, verify=str(cert))
            assert response.json() == [BUILTIN]
    assert emulator.hook("GET", "stats", verify=str(cert)).json()["connections"] == 1
    with pytest.raises(requests.exceptions.SSLError):
        emulator.api("GET", REGISTRIES)  # not trusted without the certificate
    with pytest.raises(requests.ConnectionError):
        requests.get(emulator.url.replace("https:", "http:") + REGISTRIES, timeout=5)
    assert emulator.hook("GET", "health", verify=str(cert)).json() == {"ok": True}
    assert emulator.stop() == 0
    assert emulator.stderr() == ""


# --- Contract: every answer matches the published OpenAPI document --------------------------


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        pytest.skip(f"OpenAPI document not found at {SPEC_PATH} (shared/ is not beside the repo)")
    return json.loads(SPEC_PATH.read_text())


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` becomes a JSON Schema type that also allows null."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False) and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


def _response_schema(spec: dict[str, Any], template: str, method: str, status: int) -> Any:
    """The documented schema (None: no body); undocumented 401s fall back to ErrorInfo."""
    responses = spec["paths"][template][method.lower()]["responses"]
    documented = responses.get(str(status))
    if documented is None:
        # The spec lists 401 for POST and /creds only; the emulator, like the real API,
        # checks the token on every operation and answers with the same error schema.
        assert status == 401, f"{method} {template} answered undocumented {status}"
        return {"$ref": "#/components/schemas/ErrorInfoResponse"}
    content = documented.get("content")
    return None if content is None else content["application/json"]["schema"]


def _contract_calls() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, spec path template, path, request kwargs) covering happy and error paths."""
    lst, one = "/orgs/{orgId}/registries", "/orgs/{orgId}/registries/{regId}"
    creds = "/orgs/{orgId}/registries/{regId}/creds"
    full = body(enable_ci=True, secrets=SECRETS, creds=CREDS)
    return [
        ("POST", lst, REGISTRIES, {"json": full}),
        ("POST", lst, REGISTRIES, {"json": body(reg_id="plain", registry="plain.example")}),
        ("GET", lst, REGISTRIES, {}),
        ("GET", one, f"{REGISTRIES}/my-reg", {}),
        ("GET", one, f"{REGISTRIES}/humanitec", {}),
        ("GET", creds, f"{REGISTRIES}/my-reg/creds", {}),
        ("GET", creds, f"{REGISTRIES}/plain/creds", {}),
        ("PATCH", one, f"{REGISTRIES}/my-reg", {"json": body(type="public")}),
        ("POST", lst, REGISTRIES, {"json": body(type="nope")}),
        ("POST", lst, REGISTRIES, {"json": full}),
        ("POST", lst, REGISTRIES, {"json": body(reg_id="dup", registry="plain.example")}),
        ("PATCH", one, f"{REGISTRIES}/my-reg", {"json": body(registry="plain.example")}),
        ("PATCH", one, f"{REGISTRIES}/my-reg", {"json": {"id": "my-reg"}}),
        ("PATCH", one, f"{REGISTRIES}/humanitec", {"json": body(reg_id="humanitec")}),
        ("DELETE", one, f"{REGISTRIES}/humanitec", {}),
        ("GET", lst, "/orgs/nope/registries", {}),
        ("POST", lst, "/orgs/nope/registries", {"json": full}),
        ("GET", one, f"{REGISTRIES}/ghost", {}),
        ("PATCH", one, f"{REGISTRIES}/ghost", {"json": body(reg_id="ghost")}),
        ("DELETE", one, f"{REGISTRIES}/ghost", {}),
        ("GET", creds, f"{REGISTRIES}/ghost/creds", {}),
        *((method, lst, REGISTRIES, {"token": "bad"}) for method in ("GET", "POST")),
        *((method, one, f"{REGISTRIES}/my-reg", {"token": None}) for method in ("GET", "PATCH")),
        ("DELETE", one, f"{REGISTRIES}/my-reg", {"token": "bad"}),
        ("GET", creds, f"{REGISTRIES}/my-reg/creds", {"token": None}),
        ("DELETE", one, f"{REGISTRIES}/plain", {}),
    ]


def _check_answer(spec: dict[str, Any], template: str, method: str, response: Any) -> None:
    """Validate one answer against the schema documented for its operation and status."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = _response_schema(spec, template, method, response.status_code)
    if schema is None:
        assert response.content == b""
        return
    document = response.json()
    validator = jsonschema.Draft202012Validator({**schema, "components": spec["components"]})
    validator.validate(document)
    if response.ok and not template.endswith("/creds"):
        # The spec does not forbid extra fields; the emulator must not add any (creds!).
        allowed = spec["components"]["schemas"]["RegistryResponse"]["properties"]
        for record in document if isinstance(document, list) else [document]:
            assert set(record) <= set(allowed)


def test_contract_with_openapi_document(emu: EmulatorProcess, openapi: dict[str, Any]) -> None:
    spec = _openapi_to_json_schema(copy.deepcopy(openapi))
    statuses = set()
    for method, template, path, kwargs in _contract_calls():
        response = emu.api(method, path, **kwargs)
        _check_answer(spec, template, method, response)
        statuses.add(response.status_code)
    assert statuses == {200, 201, 204, 400, 401, 403, 404, 409}
