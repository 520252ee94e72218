# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The bridge between AnsibleModule and the API client. Internal to this collection.

It holds the connection options shared by every module, builds the client from them, and is
the one place where a HumanitecApiError becomes a task failure.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.humanitec.platform.plugins.module_utils._client import (
    REQUESTS_IMPORT_ERROR,
    HumanitecApiError,
    HumanitecClient,
    RegistriesApi,
)

DEFAULT_API_URL = "https://api.humanitec.io"

# What most often causes each status, shown after the API's own message.
STATUS_HINTS = {
    401: "check that api_token (HUMANITEC_TOKEN) is a valid Humanitec API token",
    403: "check that the token's user may do this in the organization",
}


def secret_values(argument_spec: dict, params: dict) -> set[str]:
    """The values of no_log options and sub-options, as given, however malformed.

    A parent that should be a dictionary but is not (such as "user:password", or a list) is
    a secret as a whole, and so is each item of it.
    """
    secrets = set()
    for name, spec in argument_spec.items():
        value = params.get(name)
        if value is None or value == "":
            continue
        if spec.get("no_log"):
            secrets.add(str(value))
        sub_spec = spec.get("options")
        if sub_spec and any(option.get("no_log") for option in sub_spec.values()):
            if isinstance(value, dict):
                secrets.update(secret_values(sub_spec, value))
            elif isinstance(value, (list, tuple)):
                secrets.update(str(item) for item in value if item not in (None, ""))
            else:
                secrets.add(str(value))
    return secrets


class HumanitecModule(AnsibleModule):
    """AnsibleModule that masks secrets in every failure, including argument errors.

    ansible-core collects the no_log values while validating the arguments, and stops
    collecting at the first malformed dictionary option: the error it then reports would
    show the token and the password.
    """

    def fail_json(self, msg, **kwargs):
        self.no_log_values.update(secret_values(self.argument_spec, self.params))
        super().fail_json(msg, **kwargs)


def connection_argument_spec() -> dict:
    """The options every module of the collection takes to reach the API."""
    return {
        "api_url": {
            "type": "str",
            "default": DEFAULT_API_URL,
            "fallback": (env_fallback, ["HUMANITEC_API_PREFIX"]),
        },
        "api_token": {
            "type": "str",
            "required": True,
            "no_log": True,
            "fallback": (env_fallback, ["HUMANITEC_TOKEN"]),
        },
        "org_id": {
            "type": "str",
            "required": True,
            "fallback": (env_fallback, ["HUMANITEC_ORG"]),
        },
        "validate_certs": {"type": "bool", "default": True},
        "request_timeout": {"type": "float", "default": 30},
        "max_retries": {"type": "int", "default": 5},
    }


def connection_problems(params: dict) -> list[str]:
    """Reasons why the connection options cannot work; empty when they are fine."""
    problems = []
    parts = urlsplit(params["api_url"])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(
            f"api_url must be an http:// or https:// URL with a host, got {params['api_url']!r}"
        )
    if not params["api_token"].strip():
        problems.append("api_token must not be empty (set it or HUMANITEC_TOKEN)")
    if not params["org_id"].strip():
        problems.append("org_id must not be empty (set it or HUMANITEC_ORG)")
    if params["request_timeout"] <= 0:
        problems.append(
            f"request_timeout must be a positive number of seconds, got "
            f"{params['request_timeout']:g}"
        )
    if not 0 <= params["max_retries"] <= 20:
        problems.append(f"max_retries must be between 0 and 20, got {params['max_retries']}")
    return problems


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def fail_on_problems(module, problems: list[str]) -> None:
    """Fail the task before any request when its options are wrong."""
    if problems:
        module.fail_json(msg="Invalid options: " + "; ".join(problems))


def registries_api(module, pool_size: int = 4) -> RegistriesApi:
    """Check the connection options and build the registry API of the task's organization."""
    if REQUESTS_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)

    params = module.params
    fail_on_problems(module, connection_problems(params))

    parts = urlsplit(params["api_url"])
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        module.warn(
            f"api_url uses plain http to {parts.hostname}: the API token travels unencrypted. "
            "Use https."
        )

    client = HumanitecClient(
        params["api_url"],
        params["api_token"],
        validate_certs=params["validate_certs"],
        timeout=params["request_timeout"],
        max_retries=params["max_retries"],
        pool_size=pool_size,
    )
    return RegistriesApi(client, params["org_id"])


def fail_api_error(module, action: str, error: HumanitecApiError, **result) -> None:
    """Turn an API error into the one failure message the collection uses everywhere."""
    message = f"Could not {action}: {error}"
    hint = STATUS_HINTS.get(error.status)
    if hint:
        message = f"{message} ({hint})"
    module.fail_json(msg=message, status=error.status, api_error=error.api_message, **result)
