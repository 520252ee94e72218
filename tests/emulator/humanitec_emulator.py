"""Local emulator of the Humanitec registry HTTP API (OpenAPI "Humanitec API" 0.28.37).

It serves the five registry operations of the published API over real HTTP/1.1 (optionally
TLS) on 127.0.0.1, with bearer-token auth, the spec's validation rules and its
ErrorInfoResponse bodies, so that the collection's demo and tests can run without the real
service::

    python tests/emulator/humanitec_emulator.py --port 0 --token TOKEN --org acme

The first (and only) line printed on stdout is the base URL. State lives in memory and,
with ``--state-file``, is persisted atomically before every acknowledged write.

The ``/_emulator/...`` endpoints (health, fault injection, request log, connection stats,
state dump/seed, reset, latency config) exist only for tests: they need no token, are not
part of the Humanitec API, and expose stored credentials verbatim.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import hmac
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

LOOPBACK = "127.0.0.1"
HOOK_PREFIX = "/_emulator"
# Patterns and enum copied from the OpenAPI document (RegistryRequest / AccountCredsRequest).
ID_PATTERN = "^[a-z0-9][a-z0-9-]+[a-z0-9]$"
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z$"
ID_RE = re.compile(ID_PATTERN)
TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
REGISTRY_TYPES = ("public", "basic", "google_gcr", "amazon_ecr", "secret_ref")
BUILTIN_ID = "humanitec"
BUILTIN_RECORD: dict[str, Any] = {
    "id": BUILTIN_ID,
    "registry": "registry.humanitec.io",
    "type": "basic",
    "enable_ci": False,
    "secrets": {},
    "created_at": "2020-05-22T14:53:27.000Z",
    "created_by": "humanitec",
}
# Statuses that must not carry a body, Content-Type or Content-Length (RFC 9110, 8.6).
NO_BODY_STATUSES = frozenset({204, 304})
MAX_BODY_BYTES = 64 * 1024 * 1024
# Idle keep-alive connections are dropped after this, so abandoned clients free their thread.
IDLE_TIMEOUT_SECONDS = 300.0

Org = dict[str, dict[str, dict[str, Any]]]


class ApiError(Exception):
    """An error answered as an ErrorInfoResponse: ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.message}, headers=self.headers)


@dataclass
class Reply:
    """One HTTP answer: a JSON document, or a raw body when ``raw`` is set."""

    status: int
    payload: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        if self.status in NO_BODY_STATUSES:
            return b""
        if self.raw is not None:
            return self.raw
        return json.dumps(self.payload).encode("utf-8")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def utc_timestamp() -> str:
    """Now in the API's format, e.g. ``2024-01-31T12:00:00.123Z``."""
    now = datetime.now(UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def _reject_constant(name: str) -> Any:
    # json accepts NaN/Infinity by default; they are not JSON and could not be echoed back.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Decode a request body, answering 400 when it is absent or not JSON."""
    if not raw.strip():
        raise bad_request("Request body is empty; expected a JSON object")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad_request("Request body is not valid JSON") from None


# --- RegistryRequest validation ----------------------------------------------------------


@dataclass
class RegistryInput:
    """A validated RegistryRequest; optional fields are None when absent from the body."""

    id: str
    registry: str
    type: str
    enable_ci: bool | None
    secrets: dict[str, dict[str, str]] | None
    creds: dict[str, Any] | None


def _required_string(body: dict[str, Any], name: str) -> str:
    if name not in body:
        raise bad_request(f'Missing required field "{name}"')
    value = body[name]
    if not isinstance(value, str):
        raise bad_request(f'Invalid field "{name}": must be a string')
    if not value:
        raise bad_request(f'Invalid field "{name}": must not be empty')
    return value


def _validate_secrets(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise bad_request('Invalid field "secrets": must be an object of cluster id to secret')
    secrets: dict[str, dict[str, str]] = {}
    for cluster, ref in value.items():
        if not isinstance(ref, dict) or "namespace" not in ref or "secret" not in ref:
            raise bad_request(f'Secret for cluster "{cluster}" requires "namespace" and "secret"')
        for key in ("namespace", "secret"):
            if not isinstance(ref[key], str):
                raise bad_request(f'Invalid field "secrets.{cluster}.{key}": must be a string')
        # Keep only the spec's fields so responses match ClusterSecretResponse.
        secrets[cluster] = {"namespace": ref["namespace"], "secret": ref["secret"]}
    return secrets


def _validate_creds(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request('Invalid field "creds": must be an object')
    if "username" not in value or "password" not in value:
        raise bad_request('Field "creds" requires "username" and "password"')
    for key in ("username", "password"):
        # Name the field only: the value may be a secret and must never be echoed.
        if not isinstance(value[key], str):
            raise bad_request(f'Invalid field "creds.{key}": must be a string')
    expires = value.get("expires")
    if expires is not None and not (isinstance(expires, str) and TIMESTAMP_RE.fullmatch(expires)):
        raise bad_request(
            f'Invalid field "creds.expires": must be null or match {TIMESTAMP_PATTERN}'
        )
    return {"username": value["username"], "password": value["password"], "expires": expires}


def validate_registry_request(body: Any) -> RegistryInput:
    """Check a POST/PATCH body against RegistryRequest; unknown top-level fields are ignored."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    reg_id, registry, reg_type = (
        _required_string(body, name) for name in ("id", "registry", "type")
    )
    # fullmatch, not match: "$" alone would accept a trailing newline.
    if not ID_RE.fullmatch(reg_id):
        raise bad_request(f'Invalid field "id": must match {ID_PATTERN}')
    if reg_type not in REGISTRY_TYPES:
        raise bad_request(f'Invalid field "type": must be one of {", ".join(REGISTRY_TYPES)}')
    enable_ci = body.get("enable_ci")
    if "enable_ci" in body and not isinstance(enable_ci, bool):
        raise bad_request('Invalid field "enable_ci": must be a boolean')
    secrets = _validate_secrets(body["secrets"]) if "secrets" in body else None
    creds = _validate_creds(body["creds"]) if "creds" in body else None
    return RegistryInput(reg_id, registry, reg_type, enable_ci, secrets, creds)


# --- State --------------------------------------------------------------------------------


def new_org() -> Org:
    return {"registries": {BUILTIN_ID: copy.deepcopy(BUILTIN_RECORD)}, "creds": {}}


def _object_at(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be an object")
    return value


def _normalize_record(reg_id: str, record: Any, user: str, where: str) -> dict[str, Any]:
    """Validate one seeded record (the map key wins as id) and fill in the defaults."""
    record = _object_at(record, where)
    try:
        valid = validate_registry_request({**record, "id": reg_id})
    except ApiError as error:
        raise ValueError(f"{where}: {error.message}") from None
    created_at = record.get("created_at", utc_timestamp())
    if not isinstance(created_at, str) or not TIMESTAMP_RE.fullmatch(created_at):
        raise ValueError(f'{where}: "created_at" must match {TIMESTAMP_PATTERN}')
    created_by = record.get("created_by", user)
    if not isinstance(created_by, str):
        raise ValueError(f'{where}: "created_by" must be a string')
    return {
        "id": reg_id,
        "registry": valid.registry,
        "type": valid.type,
        "enable_ci": bool(valid.enable_ci),
        "secrets": valid.secrets or {},
        "created_at": created_at,
        "created_by": created_by,
    }


def _normalize_creds(reg_id: str, creds: Any, registries: dict[str, Any], where: str) -> Any:
    if reg_id not in registries:
        raise ValueError(f'{where}: no registry "{reg_id}" to attach credentials to')
    try:
        return _validate_creds(creds)
    except ApiError as error:
        raise ValueError(f"{where}: {error.message}") from None


def _normalize_org(name: str, org: Any, user: str) -> Org:
    where = f"orgs.{name}"
    org = _object_at(org, where)
    registries = {
        reg_id: _normalize_record(reg_id, record, user, f"{where}.registries.{reg_id}")
        for reg_id, record in _object_at(org.get("registries"), f"{where}.registries").items()
    }
    creds = {
        reg_id: _normalize_creds(reg_id, value, registries, f"{where}.creds.{reg_id}")
        for reg_id, value in _object_at(org.get("creds", {}), f"{where}.creds").items()
    }
    return {"registries": registries, "creds": creds}


def normalize_state(document: Any, user: str) -> dict[str, Org]:
    """Turn a ``{"orgs": {...}}`` document (state file or PUT body) into validated state."""
    orgs = _object_at(_object_at(document, "state").get("orgs"), "orgs")
    return {name: _normalize_org(name, org, user) for name, org in orgs.items()}


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; some filesystems refuse to open directories.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path: str, text: str) -> None:
    """Replace ``path`` so that readers (and a crash) see either the old or the new content."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    _fsync_directory(directory)


class RegistryStore:
    """All organizations' registries and credentials, guarded by one lock.

    Every write is persisted (when a state file is configured) while the lock is still
    held and before the caller answers, so an acknowledged write survives a kill -9.
    """

    def __init__(self, user: str, state_file: str | None) -> None:
        self._lock = threading.Lock()
        self._orgs: dict[str, Org] = {}
        self._user = user
        self._state_file = state_file

    def load(self, org_names: Iterable[str]) -> None:
        """Read the state file if it exists, then add any missing ``--org``."""
        with self._lock:
            loaded = False
            if self._state_file and os.path.exists(self._state_file):
                with open(self._state_file, encoding="utf-8") as handle:
                    self._orgs = normalize_state(json.load(handle), self._user)
                loaded = True
            missing = [name for name in org_names if name not in self._orgs]
            for name in missing:
                self._orgs[name] = new_org()
            if missing or not loaded:
                self._persist()

    def _persist(self) -> None:
        if self._state_file:
            write_atomically(self._state_file, json.dumps({"orgs": self._orgs}, indent=1))

    def _org(self, org: str) -> Org:
        if org not in self._orgs:
            raise ApiError(404, f'Organization "{org}" not found')
        return self._orgs[org]

    @staticmethod
    def _record(org_state: Org, org: str, reg_id: str) -> dict[str, Any]:
        if reg_id not in org_state["registries"]:
            raise ApiError(404, f'Registry "{reg_id}" not found in organization "{org}"')
        return org_state["registries"][reg_id]

    @staticmethod
    def _check_name_free(org_state: Org, name: str, own_id: str) -> None:
        for other_id, other in org_state["registries"].items():
            if other["registry"] == name and other_id != own_id:
                raise ApiError(
                    409, f'Registry name "{name}" is already used by registry "{other_id}"'
                )

    def list_registries(self, org: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._org(org)["registries"].values()))

    def get_registry(self, org: str, reg_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._record(self._org(org), org, reg_id))

    def get_creds(self, org: str, reg_id: str) -> dict[str, Any]:
        """RegistryCredsResponse: the only API answer that carries credentials."""
        with self._lock:
            org_state = self._org(org)
            record = self._record(org_state, org, reg_id)
            creds = org_state["creds"].get(reg_id, {})
            return {
                "registry": record["registry"],
                "username": creds.get("username", ""),
                "password": creds.get("password", ""),
                "expires": creds.get("expires"),
                "secrets": copy.deepcopy(record["secrets"]),
            }

    def create(self, org: str, raw: bytes) -> dict[str, Any]:
        with self._lock:
            org_state = self._org(org)
            request = validate_registry_request(parse_json(raw))
            if request.id in org_state["registries"]:
                raise ApiError(409, f'Registry with id "{request.id}" already exists')
            self._check_name_free(org_state, request.registry, request.id)
            record = {
                "id": request.id,
                "registry": request.registry,
                "type": request.type,
                "enable_ci": bool(request.enable_ci),
                "secrets": request.secrets or {},
                "created_at": utc_timestamp(),
                "created_by": self._user,
            }
            org_state["registries"][request.id] = record
            if request.creds is not None:
                org_state["creds"][request.id] = request.creds
            self._persist()
            return copy.deepcopy(record)

    def update(self, org: str, reg_id: str, raw: bytes) -> dict[str, Any]:
        """PATCH: registry and type replaced; enable_ci, secrets, creds only when given."""
        with self._lock:
            org_state = self._org(org)
            record = self._record(org_state, org, reg_id)
            request = validate_registry_request(parse_json(raw))
            if request.id != reg_id:
                raise bad_request(f'Invalid field "id": must equal the registry id "{reg_id}"')
            if reg_id == BUILTIN_ID:
                raise ApiError(403, "Built-in 'humanitec' registry can't be changed.")
            self._check_name_free(org_state, request.registry, reg_id)
            record.update(registry=request.registry, type=request.type)
            if request.enable_ci is not None:
                record["enable_ci"] = request.enable_ci
            if request.secrets is not None:
                record["secrets"] = request.secrets
            if request.creds is not None:
                org_state["creds"][reg_id] = request.creds
            self._persist()
            return copy.deepcopy(record)

    def delete(self, org: str, reg_id: str) -> None:
        with self._lock:
            org_state = self._org(org)
            self._record(org_state, org, reg_id)
            if reg_id == BUILTIN_ID:
                raise ApiError(403, "Built-in 'humanitec' registry can't be deleted.")
            del org_state["registries"][reg_id]
            org_state["creds"].pop(reg_id, None)
            self._persist()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"orgs": copy.deepcopy(self._orgs)}

    def replace(self, document: Any) -> None:
        try:
            orgs = normalize_state(document, self._user)
        except ValueError as error:
            raise bad_request(f"Invalid state: {error}") from None
        with self._lock:
            self._orgs = orgs
            self._persist()

    def reset(self) -> None:
        with self._lock:
            self._orgs = {name: new_org() for name in self._orgs}
            self._persist()


# --- Fault injection (test hook) ----------------------------------------------------------

FAULT_KINDS = ("status", "reset", "delay")


@dataclass
class Fault:  # pylint: disable=too-many-instance-attributes  # mirrors the hook's JSON
    """One queued fault from POST /_emulator/faults.

    kind "status" answers ``status``/``body`` instead of the real answer, "reset" drops the
    connection with a TCP reset, "delay" sleeps ``seconds`` before sending the real answer.
    With ``apply`` the request is processed first (the write lands, its answer is lost).
    """

    kind: str
    method: str | None
    path: re.Pattern[str] | None
    times: int
    status: int
    retry_after: str | None
    body: str | None
    content_type: str
    seconds: float
    apply: bool

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path.fullmatch(path) is not None

    def reply(self) -> Reply:
        headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        raw = None if self.body is None else self.body.encode("utf-8")
        payload = {"error": f"Injected fault: HTTP {self.status}"}
        return Reply(self.status, payload, raw, self.content_type, headers)

    def describe(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "path": self.path and self.path.pattern}


def _spec_value(spec: dict[str, Any], key: str, kinds: tuple[type, ...], default: Any) -> Any:
    value = spec.get(key)
    if value is None:
        return default
    # bool is an int subclass: only accept it where a boolean is wanted.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(kind.__name__ for kind in kinds)
        raise bad_request(f'Invalid fault field "{key}": must be {names}')
    return value


def _header_value(spec: dict[str, Any], key: str) -> str | None:
    value = _spec_value(spec, key, (str, int), None)
    text = None if value is None else str(value)
    if text is not None and ("\r" in text or "\n" in text):
        raise bad_request(f'Invalid fault field "{key}": must not contain line breaks')
    return text


def _compile_path(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise bad_request(f'Invalid fault field "path": {error}') from None


def parse_fault(spec: Any) -> Fault:
    """Validate one fault object from POST /_emulator/faults."""
    if not isinstance(spec, dict):
        raise bad_request("Each fault must be a JSON object")
    kind = _spec_value(spec, "kind", (str,), "status")
    if kind not in FAULT_KINDS:
        raise bad_request(f'Invalid fault field "kind": must be one of {", ".join(FAULT_KINDS)}')
    method = _spec_value(spec, "method", (str,), None)
    times = _spec_value(spec, "times", (int,), 1)
    status = _spec_value(spec, "status", (int,), 503)
    seconds = float(_spec_value(spec, "seconds", (int, float), 1.0))
    if times < 1 or not 200 <= status <= 599 or seconds < 0:
        raise bad_request("Invalid fault: need times >= 1, 200 <= status <= 599, seconds >= 0")
    return Fault(
        kind=kind,
        method=None if method is None else method.upper(),
        path=_compile_path(_spec_value(spec, "path", (str,), None)),
        times=times,
        status=status,
        retry_after=_header_value(spec, "retry_after"),
        body=_spec_value(spec, "body", (str,), None),
        content_type=_header_value(spec, "content_type") or "application/json",
        seconds=seconds,
        apply=_spec_value(spec, "apply", (bool,), False),
    )


class FaultQueue:
    """FIFO of faults; each request consumes at most one (the first that matches)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]


# --- Emulator: configuration, request log and counters ------------------------------------


class Stats:
    """Connection and request counters for GET/DELETE /_emulator/stats.

    ``connections`` counts the TCP connections that carried API requests (hook calls made
    by the test itself would otherwise inflate it); ``accepted`` counts every accepted one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"connections": 0, "requests": 0, "accepted": 0}
        # Bumped by a reset so that connections already counted are counted again.
        self._generation = 0

    def count_accept(self) -> None:
        with self._lock:
            self._counts["accepted"] += 1

    def count_api_request(self, counted_generation: int) -> int:
        """Count a request, and its connection unless counted since the last reset.

        Returns the generation for the connection to remember.
        """
        with self._lock:
            self._counts["requests"] += 1
            if counted_generation != self._generation:
                self._counts["connections"] += 1
            return self._generation

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)
            self._generation += 1


class Emulator:
    """What the request handlers share: token, store, faults, request log and counters."""

    def __init__(self, token: str, latency_ms: float, store: RegistryStore) -> None:
        self.store = store
        self.faults = FaultQueue()
        # A float is swapped atomically by the interpreter; readers need no lock.
        self.latency_ms = latency_ms
        self._token = token.encode("utf-8")
        self._lock = threading.Lock()
        self._log: list[dict[str, Any]] = []
        self.stats = Stats()

    def check_auth(self, authorization: str | None) -> None:
        scheme, _space, credential = (authorization or "").strip().partition(" ")
        given = credential.strip().encode("utf-8")
        # compare_digest: constant time, so the token cannot be guessed byte by byte.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, self._token):
            raise ApiError(
                401,
                "Missing or invalid bearer token in the Authorization header",
                {"WWW-Authenticate": 'Bearer realm="humanitec-emulator"'},
            )

    def log_arrival(self, method: str, path: str, raw: bytes) -> dict[str, Any]:
        try:
            body = parse_json(raw)
        except ApiError:
            body = None
        entry = {"method": method, "path": path, "status": None, "body": body}
        with self._lock:
            self._log.append(entry)
        return entry

    def log_status(self, entry: dict[str, Any], status: int | str) -> None:
        with self._lock:
            entry["status"] = status

    def request_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def reset(self) -> None:
        self.store.reset()
        self.faults.clear()
        self.clear_log()


# --- Routes -------------------------------------------------------------------------------

ApiHandler = Callable[[RegistryStore, tuple[str, ...], bytes], Reply]
HookHandler = Callable[[Emulator, bytes], Reply]


def _store_call(status: int, operation: Callable[..., Any], with_body: bool = False) -> ApiHandler:
    """Route target calling ``operation(store, *path_params[, body])``; its result is the reply."""

    def handler(store: RegistryStore, params: tuple[str, ...], raw: bytes) -> Reply:
        args = (*params, raw) if with_body else params
        return Reply(status, operation(store, *args))

    return handler


# Matched with fullmatch against the raw path, so a trailing slash is a 404.
API_ROUTES: tuple[tuple[re.Pattern[str], dict[str, ApiHandler]], ...] = (
    (
        re.compile(r"/orgs/([^/]+)/registries"),
        {
            "GET": _store_call(200, RegistryStore.list_registries),
            "POST": _store_call(201, RegistryStore.create, with_body=True),
        },
    ),
    (
        re.compile(r"/orgs/([^/]+)/registries/([^/]+)"),
        {
            "GET": _store_call(200, RegistryStore.get_registry),
            "PATCH": _store_call(200, RegistryStore.update, with_body=True),
            "DELETE": _store_call(204, RegistryStore.delete),
        },
    ),
    (
        re.compile(r"/orgs/([^/]+)/registries/([^/]+)/creds"),
        {"GET": _store_call(200, RegistryStore.get_creds)},
    ),
)


def _method_not_allowed(method: str, path: str, allowed: Iterable[str]) -> ApiError:
    allow = ", ".join(allowed)
    message = f'Method "{method}" is not allowed on "{path}"; allowed: {allow}'
    return ApiError(405, message, {"Allow": allow})


def resolve_api_route(method: str, path: str) -> tuple[ApiHandler, tuple[str, ...]]:
    for pattern, handlers in API_ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if method not in handlers:
            raise _method_not_allowed(method, path, handlers)
        return handlers[method], tuple(unquote(group) for group in match.groups())
    raise ApiError(404, f'No API endpoint at "{path}"')


def _internal_error(error: Exception) -> Reply:
    # A bug in the emulator: keep serving, but leave the traceback where a human will look.
    traceback.print_exception(error, file=sys.stderr)
    return Reply(500, {"error": f"Internal emulator error ({type(error).__name__})"})


def serve_api(
    emulator: Emulator, method: str, path: str, authorization: str | None, raw: bytes
) -> Reply:
    """The real answer of an API request: 401, then 404/405, then the handler's checks."""
    try:
        emulator.check_auth(authorization)
        handler, params = resolve_api_route(method, path)
        return handler(emulator.store, params, raw)
    except ApiError as error:
        return error.reply()
    except Exception as error:  # pylint: disable=broad-exception-caught
        return _internal_error(error)


def _hook_health(_emulator: Emulator, _raw: bytes) -> Reply:
    return Reply(200, {"ok": True})


def _hook_list_faults(emulator: Emulator, _raw: bytes) -> Reply:
    return Reply(200, emulator.faults.describe())


def _hook_add_faults(emulator: Emulator, raw: bytes) -> Reply:
    document = parse_json(raw)
    specs = document if isinstance(document, list) else [document]
    # Parse all first so that one bad entry queues nothing.
    emulator.faults.add([parse_fault(spec) for spec in specs])
    return Reply(200, emulator.faults.describe())


def _hook_clear_faults(emulator: Emulator, _raw: bytes) -> Reply:
    emulator.faults.clear()
    return Reply(204)


def _hook_requests(emulator: Emulator, _raw: bytes) -> Reply:
    return Reply(200, emulator.request_log())


def _hook_clear_requests(emulator: Emulator, _raw: bytes) -> Reply:
    emulator.clear_log()
    return Reply(204)


def _hook_stats(emulator: Emulator, _raw: bytes) -> Reply:
    return Reply(200, emulator.stats.snapshot())


def _hook_clear_stats(emulator: Emulator, _raw: bytes) -> Reply:
    emulator.stats.reset()
    return Reply(204)


def _hook_get_state(emulator: Emulator, _raw: bytes) -> Reply:
    return Reply(200, emulator.store.snapshot())


def _hook_put_state(emulator: Emulator, raw: bytes) -> Reply:
    emulator.store.replace(parse_json(raw))
    return Reply(204)


def _hook_reset(emulator: Emulator, _raw: bytes) -> Reply:
    emulator.reset()
    return Reply(204)


def _hook_get_config(emulator: Emulator, _raw: bytes) -> Reply:
    return Reply(200, {"latency_ms": emulator.latency_ms})


def _hook_set_config(emulator: Emulator, raw: bytes) -> Reply:
    config = parse_json(raw)
    if not isinstance(config, dict):
        raise bad_request("Config must be a JSON object")
    latency = config.get("latency_ms", emulator.latency_ms)
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
        raise bad_request('Invalid field "latency_ms": must be a number >= 0')
    emulator.latency_ms = latency
    return _hook_get_config(emulator, raw)


HOOK_ROUTES: dict[str, dict[str, HookHandler]] = {
    f"{HOOK_PREFIX}/health": {"GET": _hook_health},
    f"{HOOK_PREFIX}/faults": {
        "GET": _hook_list_faults,
        "POST": _hook_add_faults,
        "DELETE": _hook_clear_faults,
    },
    f"{HOOK_PREFIX}/requests": {"GET": _hook_requests, "DELETE": _hook_clear_requests},
    f"{HOOK_PREFIX}/stats": {"GET": _hook_stats, "DELETE": _hook_clear_stats},
    f"{HOOK_PREFIX}/state": {"GET": _hook_get_state, "PUT": _hook_put_state},
    f"{HOOK_PREFIX}/reset": {"POST": _hook_reset},
    f"{HOOK_PREFIX}/config": {"GET": _hook_get_config, "POST": _hook_set_config},
}


def serve_hook(emulator: Emulator, method: str, path: str, raw: bytes) -> Reply:
    try:
        handlers = HOOK_ROUTES.get(path)
        if handlers is None:
            raise ApiError(404, f'No emulator hook at "{path}"')
        if method not in handlers:
            raise _method_not_allowed(method, path, handlers)
        return handlers[method](emulator, raw)
    except ApiError as error:
        return error.reply()
    except Exception as error:  # pylint: disable=broad-exception-caught
        return _internal_error(error)


def is_hook_path(path: str) -> bool:
    return path == HOOK_PREFIX or path.startswith(f"{HOOK_PREFIX}/")


# --- HTTP plumbing ------------------------------------------------------------------------


class EmulatorHandler(BaseHTTPRequestHandler):
    """One instance per TCP connection; handles its keep-alive requests in turn."""

    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    server_version = "humanitec-emulator"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK could add ~40 ms to every keep-alive exchange.
    disable_nagle_algorithm = True

    # Stats generation in which this connection was last counted; -1: never.
    _counted_generation = -1

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake was deferred at accept() so a slow client cannot stall the
            # accept loop; do it here, in this connection's own thread.
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Stay quiet: no per-request lines on stderr."""

    def send_error(self, code: int, message: str | None = None, explain: Any = None) -> None:
        """Protocol-level errors (bad request line, unknown method...) as JSON, then close."""
        del explain
        self.close_connection = True
        self._send(Reply(code, {"error": message or HTTPStatus(code).phrase}))

    def _handle(self) -> None:
        path = self.path.partition("?")[0]
        try:
            raw = self._read_body()
        except ApiError as error:
            # The rest of the body is still unread, so the connection cannot be reused.
            self.close_connection = True
            self._send(error.reply())
            return
        if is_hook_path(path):
            self._send(serve_hook(self.server.emulator, self.command, path, raw))
        else:
            self._serve_api_request(path, raw)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def _serve_api_request(self, path: str, raw: bytes) -> None:
        emulator = self.server.emulator
        self._counted_generation = emulator.stats.count_api_request(self._counted_generation)
        entry = emulator.log_arrival(self.command, path, raw)
        time.sleep(emulator.latency_ms / 1000)
        fault = emulator.faults.take(self.command, path)
        reply = self._answer(fault, path, raw)
        emulator.log_status(entry, "reset" if reply is None else reply.status)
        if reply is None:
            self._reset_connection()
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        self._send(reply)

    def _answer(self, fault: Fault | None, path: str, raw: bytes) -> Reply | None:
        """The reply to send, or None to reset the connection instead."""
        processed = fault is None or fault.kind == "delay" or fault.apply
        emulator, authorization = self.server.emulator, self.headers.get("Authorization")
        real = serve_api(emulator, self.command, path, authorization, raw) if processed else None
        if fault is None or fault.kind == "delay":
            return real
        return fault.reply() if fault.kind == "status" else None

    def _reset_connection(self) -> None:
        """Drop the connection so that the client sees a TCP reset, not a clean close."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            # Linger on with a zero timeout makes close() send RST instead of FIN.
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        # rfile (a socket.makefile) holds a reference to the socket: close() only frees the
        # descriptor, and so sends the RST, once it is closed too. wfile holds none, and
        # the base class still flushes it after this handler returns.
        self.rfile.close()
        self.connection.close()

    def _read_body(self) -> bytes:
        if "Transfer-Encoding" in self.headers:
            # No client of this API streams its small JSON bodies; keep the parser simple.
            raise ApiError(411, "Send the request body with a Content-Length header")
        header = self.headers.get("Content-Length")
        if header is None:
            return b""
        try:
            length = int(header)
        except ValueError:
            raise bad_request("Invalid Content-Length header") from None
        if length < 0:
            raise bad_request("Invalid Content-Length header")
        if length > MAX_BODY_BYTES:
            raise ApiError(413, f"Request body exceeds {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _send(self, reply: Reply) -> None:
        body = reply.body()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status not in NO_BODY_STATUSES:
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            # The client went away (e.g. it timed out during an injected delay): nothing
            # left to tell it, and nothing worth logging.
            self.close_connection = True


class EmulatorServer(ThreadingHTTPServer):
    """HTTP/1.1 server on 127.0.0.1, one daemon thread per connection, optional TLS."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops connections when more clients connect at
    # once; the client only sees them a SYN retransmit (1 s or more) later, or times out.
    request_queue_size = 128

    def __init__(self, emulator: Emulator, port: int, tls: ssl.SSLContext | None) -> None:
        self.emulator = emulator
        self._tls = tls
        super().__init__((LOOPBACK, port), EmulatorHandler)

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{LOOPBACK}:{self.server_address[1]}"

    def server_bind(self) -> None:
        # HTTPServer.server_bind() also resolves the host's FQDN, a reverse DNS lookup that
        # can stall start-up for seconds and is useless on loopback.
        socketserver.TCPServer.server_bind(self)
        self.server_name = LOOPBACK
        self.server_port = self.server_address[1]

    def server_activate(self) -> None:
        super().server_activate()
        if self._tls is not None:
            self.socket = self._tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def process_request(self, request: Any, client_address: Any) -> None:
        self.emulator.stats.count_accept()
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up, timing out or failing the TLS handshake are routine here;
        # anything else is an emulator bug and keeps the default traceback.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


# --- Command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="emulator-token", help="accepted bearer token")
    parser.add_argument("--org", action="append", help="organization id (repeatable)")
    parser.add_argument("--state-file", help="JSON file to load from and persist to")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per API request")
    parser.add_argument("--user", default="ansible@example.com", help="created_by of records")
    parser.add_argument("--tls-cert", help="PEM certificate; serve HTTPS (needs --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--url-file", help="also write the base URL to this file")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key must be given together")
    if args.latency_ms < 0:
        parser.error("--latency-ms must be >= 0")
    args.org = args.org or ["acme"]
    return args


def build_tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def install_signal_handlers(server: EmulatorServer) -> None:
    def stop(_signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever(), which runs in this (main) thread: calling it
        # here directly would deadlock.
        threading.Thread(target=server.shutdown, daemon=True).start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    store = RegistryStore(args.user, args.state_file)
    try:
        store.load(args.org)
    except (OSError, ValueError) as error:
        print(f"humanitec_emulator: cannot use state file: {error}", file=sys.stderr)
        return 2
    try:
        tls = build_tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
        server = EmulatorServer(Emulator(args.token, args.latency_ms, store), args.port, tls)
    except OSError as error:  # includes ssl.SSLError (bad PEM files) and bind failures
        print(f"humanitec_emulator: cannot start: {error}", file=sys.stderr)
        return 2
    install_signal_handlers(server)
    if args.url_file:
        write_atomically(args.url_file, server.url)
    print(server.url, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
