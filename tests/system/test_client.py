# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP transport against the emulator: retries, timeouts, error messages, headers."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import yaml
from harness import API_TOKEN, ORG_ID, REPO_ROOT
from urllib3.util.retry import RequestHistory

from ansible_collections.humanitec.platform.plugins.module_utils import _client
from ansible_collections.humanitec.platform.plugins.module_utils._client import (
    HumanitecApiError,
    HumanitecClient,
    RegistriesApi,
    _BackoffRetry,
)

LIST_PATH = f"/orgs/{ORG_ID}/registries"
WRONG_TOKEN = "tok-wrong-0c1d2e3f"
ID_PATTERN = "^[a-z0-9][a-z0-9-]+[a-z0-9]$"

# Each retryable fault, the status the emulator logs for it, and the error once retries run out.
# Retry-After: 0 keeps the 429 case as fast as the others (urllib3 then falls back to backoff).
RETRYABLE_FAULTS = [
    pytest.param(
        {"status": 429, "retry_after": "0"}, 429, "returned 429: Injected fault: HTTP 429", id="429"
    ),
    pytest.param({"status": 502}, 502, "returned 502: Injected fault: HTTP 502", id="502"),
    pytest.param({"status": 503}, 503, "returned 503: Injected fault: HTTP 503", id="503"),
    pytest.param({"status": 504}, 504, "returned 504: Injected fault: HTTP 504", id="504"),
    pytest.param({"kind": "reset"}, "reset", "failed: connection reset by the server", id="reset"),
]


@pytest.fixture
def connect(emulator):
    """Build clients to the emulator (retries and timeout as each test needs); close them after."""
    clients = []

    def build(max_retries: int = 0, timeout: float = 5.0, token: str = API_TOKEN):
        client = HumanitecClient(emulator.url, token, timeout=timeout, max_retries=max_retries)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def short_backoff(monkeypatch):
    """For tests about how many requests are sent, not how long they wait: 50 ms first wait."""
    monkeypatch.setattr(_client, "BACKOFF_FIRST_WAIT", 0.05)


def logged_statuses(emulator) -> list:
    return [entry["status"] for entry in emulator.requests()]


def ids_of(records: list[dict]) -> list[str]:
    return [record["id"] for record in records]


def assert_no_token(error: HumanitecApiError, *tokens: str) -> None:
    for token in (API_TOKEN, *tokens):
        assert token not in str(error)
        assert token not in repr(error)
        assert token not in error.api_message


def raised_by(call, *args) -> HumanitecApiError:
    with pytest.raises(HumanitecApiError) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(("fault", "logged_status", "_outcome"), RETRYABLE_FAULTS)
@pytest.mark.usefixtures("short_backoff")
def test_fewer_faults_than_retries_succeed(emulator, connect, fault, logged_status, _outcome):
    emulator.fault(**fault, path=LIST_PATH, times=1)

    registries = connect(max_retries=2).request("GET", LIST_PATH)

    assert ids_of(registries) == ["humanitec"]
    assert logged_statuses(emulator) == [logged_status, 200]


@pytest.mark.parametrize(("fault", "logged_status", "outcome"), RETRYABLE_FAULTS)
@pytest.mark.usefixtures("short_backoff")
def test_more_faults_than_retries_fail(emulator, connect, fault, logged_status, outcome):
    emulator.fault(**fault, path=LIST_PATH, times=2)

    error = raised_by(connect(max_retries=1).request, "GET", LIST_PATH)

    assert str(error) == f"GET {LIST_PATH} {outcome}"
    assert "\n" not in str(error)
    assert error.status == (None if logged_status == "reset" else logged_status)
    assert logged_statuses(emulator) == [logged_status, logged_status]
    assert_no_token(error)


def test_retry_after_is_honoured(emulator, connect):
    emulator.fault(status=429, retry_after="1", path=LIST_PATH)
    client = connect(max_retries=1)

    started = time.monotonic()
    registries = client.request("GET", LIST_PATH)
    elapsed = time.monotonic() - started

    # The backoff alone would wait at most 0.625 s before the first retry.
    assert elapsed >= 0.95
    assert ids_of(registries) == ["humanitec"]
    assert logged_statuses(emulator) == [429, 200]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3600", 60.0),
        ("61", 60.0),
        ("60", 60.0),
        ("2", 2.0),
        (None, None),
        # Malformed: the backoff applies instead.
        ("soon", None),
        ("-1", None),
    ],
)
def test_retry_after_is_capped(header, expected):
    headers = {} if header is None else {"Retry-After": header}
    response = SimpleNamespace(headers=headers)

    assert _BackoffRetry(total=1).get_retry_after(response) == expected


@pytest.mark.usefixtures("short_backoff")
def test_malformed_retry_after_is_still_retried(emulator, connect):
    emulator.fault(status=503, retry_after="soon", path=LIST_PATH)

    registries = connect(max_retries=1).request("GET", LIST_PATH)

    assert ids_of(registries) == ["humanitec"]
    assert logged_statuses(emulator) == [503, 200]


@pytest.mark.parametrize(
    ("failures", "shortest", "longest"),
    [(0, 0.0, 0.0), (1, 0.375, 0.625), (2, 0.75, 1.25), (3, 1.5, 2.5), (10, 22.5, 37.5)],
)
def test_backoff_doubles_with_jitter_up_to_a_cap(failures, shortest, longest):
    history = tuple(
        RequestHistory("GET", LIST_PATH, None, 503, None) for _attempt in range(failures)
    )

    wait = _BackoffRetry(total=20, history=history).get_backoff_time()

    assert shortest <= wait <= longest


@pytest.mark.usefixtures("short_backoff")
def test_read_timeout_is_retried(emulator, connect):
    emulator.fault(kind="delay", seconds=1.5, path=LIST_PATH)

    registries = connect(max_retries=1, timeout=0.5).request("GET", LIST_PATH)

    assert ids_of(registries) == ["humanitec"]
    # The delayed request was processed (status 200) but its answer came too late.
    assert logged_statuses(emulator) == [200, 200]


def test_read_timeout_without_retries_fails(emulator, connect):
    emulator.fault(kind="delay", seconds=1.5, path=LIST_PATH)

    error = raised_by(connect(max_retries=0, timeout=0.5).request, "GET", LIST_PATH)

    assert str(error) == f"GET {LIST_PATH} failed: no answer within request_timeout (0.5 s)"
    assert error.status is None
    assert_no_token(error)


HTML_PREFIX = "<html> <head><title>500 Internal Server Error</title></head> <body> "
HTML_PAGE = HTML_PREFIX.replace(" ", "\n  ") + "lorem ipsum " * 30 + "</body></html>"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        pytest.param(
            '{"message": "from message", "error": "from error"}',
            "application/json",
            "from message",
            id="message",
        ),
        pytest.param('{"error": "from error"}', "application/json", "from error", id="error"),
        pytest.param(
            HTML_PAGE,
            "text/html",
            (HTML_PREFIX + "lorem ipsum " * 30)[:200],
            id="html-start",
        ),
        pytest.param("", "text/plain", "Internal Server Error", id="empty-reason"),
    ],
)
def test_error_message_from_body(emulator, connect, body, content_type, expected):
    emulator.fault(status=500, body=body, content_type=content_type, path=LIST_PATH)

    error = raised_by(connect().request, "GET", LIST_PATH)

    assert error.api_message == expected
    assert str(error) == f"GET {LIST_PATH} returned 500: {expected}"
    assert_no_token(error)


def create_invalid(api: RegistriesApi):
    api.create({"id": "Not_Valid", "registry": "r.example.com", "type": "public"})


def create_duplicate(api: RegistriesApi):
    api.create({"id": "humanitec", "registry": "other.example.com", "type": "public"})


@pytest.mark.parametrize(
    ("org", "token", "call", "method", "path", "status", "message"),
    [
        pytest.param(
            ORG_ID,
            API_TOKEN,
            create_invalid,
            "POST",
            LIST_PATH,
            400,
            f'Invalid field "id": must match {ID_PATTERN}',
            id="400",
        ),
        pytest.param(
            ORG_ID,
            WRONG_TOKEN,
            RegistriesApi.list,
            "GET",
            LIST_PATH,
            401,
            "Missing or invalid bearer token in the Authorization header",
            id="401",
        ),
        pytest.param(
            ORG_ID,
            API_TOKEN,
            lambda api: api.delete("humanitec"),
            "DELETE",
            f"{LIST_PATH}/humanitec",
            403,
            "Built-in 'humanitec' registry can't be deleted.",
            id="403",
        ),
        pytest.param(
            "nope",
            API_TOKEN,
            RegistriesApi.list,
            "GET",
            "/orgs/nope/registries",
            404,
            'Organization "nope" not found',
            id="404",
        ),
        pytest.param(
            ORG_ID,
            API_TOKEN,
            create_duplicate,
            "POST",
            LIST_PATH,
            409,
            'Registry with id "humanitec" already exists',
            id="409",
        ),
    ],
)
def test_api_errors(emulator, connect, org, token, call, method, path, status, message):
    api = RegistriesApi(connect(max_retries=2, token=token), org)

    error = raised_by(call, api)

    assert (error.method, error.path, error.status) == (method, path, status)
    assert error.api_message == message
    assert str(error) == f"{method} {path} returned {status}: {message}"
    assert_no_token(error, WRONG_TOKEN)
    # Client errors are answered for good: never retried.
    assert logged_statuses(emulator) == [status]


def test_missing_records_are_none_and_delete_reports_whether_it_deleted(emulator, connect):
    emulator.seed({"id": "harbor-main", "registry": "harbor.example.com", "type": "public"})
    emulator.clear_requests()
    api = RegistriesApi(connect(), ORG_ID)

    assert api.get("missing") is None
    assert api.get_creds("missing") is None
    assert api.delete("harbor-main") is True
    assert api.delete("harbor-main") is False
    assert logged_statuses(emulator) == [404, 404, 204, 404]


def test_requests_share_one_keep_alive_connection(emulator, connect):
    api = RegistriesApi(connect(), ORG_ID)

    api.list()
    api.get("humanitec")
    api.get_creds("humanitec")
    api.get("missing")

    stats = emulator.hook("GET", "stats")
    assert (stats["connections"], stats["requests"]) == (1, 4)


class _HeaderCapture(BaseHTTPRequestHandler):
    """Answers every GET with an empty list and keeps the request headers."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.seen_headers.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *_args) -> None:
        """Stay quiet."""


@pytest.fixture
def header_capture():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HeaderCapture)
    server.daemon_threads = True
    server.seen_headers = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_headers_sent(header_capture):
    version = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]
    client = HumanitecClient(f"http://127.0.0.1:{header_capture.server_address[1]}", API_TOKEN)

    assert client.request("GET", LIST_PATH) == []
    client.close()

    [headers] = header_capture.seen_headers
    assert headers["User-Agent"] == f"humanitec.platform-ansible-collection/{version}"
    assert headers["Authorization"] == f"Bearer {API_TOKEN}"
    assert headers["Accept"] == "application/json"
