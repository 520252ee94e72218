# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HTTP transport for the Humanitec API. Internal to this collection; not a public API.

This layer knows nothing about AnsibleModule: it returns data or raises HumanitecApiError.
"""

from __future__ import annotations

import random
import traceback
from urllib.parse import quote

REQUESTS_IMPORT_ERROR: str | None
try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry
except ImportError:
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    Retry = object
else:
    REQUESTS_IMPORT_ERROR = None

COLLECTION_VERSION = "0.1.0"
USER_AGENT = f"humanitec.platform-ansible-collection/{COLLECTION_VERSION}"

# Retry policy. Every method is retried, writes included, and that is safe for this API:
# the registry id is chosen by the client, so a POST repeated after it already succeeded is
# answered 409 (the registry module resolves that by re-reading the record), and PATCH always
# sends a complete record, so applying it twice gives the same result.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_FIRST_WAIT = 0.5
BACKOFF_MAX_WAIT = 30.0
RETRY_AFTER_MAX_WAIT = 60.0


class HumanitecApiError(Exception):
    """A request failed: the API answered an error status, or no answer came at all."""

    def __init__(self, method: str, path: str, status: int | None, api_message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.api_message = api_message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.status is None:
            return f"{self.method} {self.path} failed: {self.api_message}"
        return f"{self.method} {self.path} returned {self.status}: {self.api_message}"


class _BackoffRetry(Retry):
    """urllib3 Retry with exponential backoff and jitter, and a capped Retry-After."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

    def get_backoff_time(self) -> float:
        failures = len(self.history)
        if failures == 0:
            return 0.0
        wait = min(BACKOFF_FIRST_WAIT * 2 ** (failures - 1), BACKOFF_MAX_WAIT)
        return wait * random.uniform(0.75, 1.25)

    def get_retry_after(self, response) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            # A malformed Retry-After must not turn a retryable answer into a failure.
            return None
        if seconds is None:
            return None
        return min(max(seconds, 0.0), RETRY_AFTER_MAX_WAIT)


def _retry_policy(max_retries: int) -> Retry:
    return _BackoffRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def error_message_from_body(response) -> str:
    """The API's own words: the body's message, else its error, else the start of the text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str) and body[key].strip():
                return body[key].strip()
    text = " ".join(response.text.split())[:200]
    return text or response.reason or "no message"


def _describe_transport_error(error: Exception, timeout: float) -> str:
    """A short cause for a request that got no answer, free of headers and credentials."""
    text = str(error)
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS certificate verification failed (see validate_certs)"
    if isinstance(error, requests.exceptions.Timeout) or "timed out" in text.lower():
        return f"no answer within request_timeout ({timeout:g} s)"
    if "reset" in text.lower() or "aborted" in text.lower() or "RemoteDisconnected" in text:
        return "connection reset by the server"
    if "refused" in text.lower():
        return "connection refused"
    return f"connection failed ({type(error).__name__})"


class HumanitecClient:
    """One keep-alive session to the Humanitec API, with bearer auth and retries."""

    def __init__(
        self,
        api_url: str,
        token: str,
        validate_certs: bool = True,
        timeout: float = 30,
        max_retries: int = 5,
        pool_size: int = 4,
    ) -> None:
        self.base_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries_used = 0
        # Passed with each request: a Session-level verify=False loses to REQUESTS_CA_BUNDLE.
        # None lets requests use REQUESTS_CA_BUNDLE or its own bundle.
        self.verify = None if validate_certs else False
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )
        adapter = HTTPAdapter(
            max_retries=_retry_policy(max_retries), pool_connections=1, pool_maxsize=pool_size
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        allow_404: bool = False,
        expect: type | None = None,
    ):
        """Send one request (retried as the policy says) and return the decoded JSON body.

        Returns None for 204, and for 404 when allow_404 is set. With `expect` (dict or list),
        a body of another shape is an error too. Raises HumanitecApiError.
        """
        try:
            response = self.session.request(
                method, self.base_url + path, json=body, timeout=self.timeout, verify=self.verify
            )
        except requests.exceptions.RequestException as error:
            raise HumanitecApiError(
                method, path, None, _describe_transport_error(error, self.timeout)
            ) from None

        self.retries_used = _retries_of(response)

        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 400:
            raise HumanitecApiError(
                method, path, response.status_code, error_message_from_body(response)
            )
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            raise HumanitecApiError(
                method, path, response.status_code, "the answer is not valid JSON"
            ) from None
        if expect is not None and not _has_shape(data, expect):
            raise HumanitecApiError(
                method, path, response.status_code, f"the answer is not {SHAPE_NAMES[expect]}"
            )
        return data

    def close(self) -> None:
        self.session.close()


# A proxy or a broken deployment can answer 200 with JSON of another shape; the modules
# would otherwise fail on it with a Python error instead of a message.
SHAPE_NAMES = {dict: "a JSON object", list: "a JSON array of objects"}


def _has_shape(data, expect: type) -> bool:
    if expect is list:
        return isinstance(data, list) and all(isinstance(item, dict) for item in data)
    return isinstance(data, expect)


def _retries_of(response) -> int:
    retry_state = getattr(response.raw, "retries", None)
    return len(getattr(retry_state, "history", ()) or ())


class RegistriesApi:
    """The registry endpoints of one organization."""

    def __init__(self, client: HumanitecClient, org_id: str) -> None:
        self.client = client
        self.org_id = org_id
        self.base_path = f"/orgs/{quote(org_id, safe='')}/registries"

    def path_of(self, registry_id: str | None = None, creds: bool = False) -> str:
        if registry_id is None:
            return self.base_path
        path = f"{self.base_path}/{quote(registry_id, safe='')}"
        return f"{path}/creds" if creds else path

    def list(self) -> list:
        return self.client.request("GET", self.path_of(), expect=list)

    def get(self, registry_id: str) -> dict | None:
        return self.client.request("GET", self.path_of(registry_id), allow_404=True, expect=dict)

    def get_creds(self, registry_id: str) -> dict | None:
        path = self.path_of(registry_id, creds=True)
        return self.client.request("GET", path, allow_404=True, expect=dict)

    def create(self, record: dict) -> dict:
        return self.client.request("POST", self.path_of(), body=record, expect=dict)

    def update(self, registry_id: str, record: dict) -> dict:
        path = self.path_of(registry_id)
        return self.client.request("PATCH", path, body=record, expect=dict)

    def delete(self, registry_id: str) -> bool:
        """Delete a registry; False when it was already gone."""
        try:
            self.client.request("DELETE", self.path_of(registry_id))
        except HumanitecApiError as error:
            if error.status == 404:
                return False
            raise
        return True
