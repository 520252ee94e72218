# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Registry records: validation, normalisation, comparison and masking.

Internal to this collection; not a public API. Pure functions, no I/O.
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]+[a-z0-9]$")
TIMESTAMP_PATTERN = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z$"
)
REGISTRY_TYPES = ("public", "basic", "google_gcr", "amazon_ecr", "secret_ref")
BUILTIN_REGISTRY_ID = "humanitec"
SECRET_REF_KEYS = ("namespace", "secret")

# The fields a task manages, in the order they are shown, and the fields returned to users.
MANAGED_FIELDS = ("id", "registry", "type", "enable_ci", "secrets")
RETURNED_FIELDS = MANAGED_FIELDS + ("created_at", "created_by")

# Stands in for a password in diffs; a different placeholder marks a password that changes.
PASSWORD_MASK = "<hidden>"
PASSWORD_CHANGED_MASK = "<hidden, changed>"


def normalise_timestamp(value: str | None) -> str | None:
    """The API writes timestamps with or without milliseconds; compare them with."""
    if not value:
        return None
    if TIMESTAMP_PATTERN.match(value) and "." not in value:
        return f"{value[:-1]}.000Z"
    return value


def normalise_secrets(secrets: dict | None) -> dict:
    """Absent secrets mean the same as an empty map; keep only the two known keys."""
    return {
        cluster: {key: (ref or {}).get(key) for key in SECRET_REF_KEYS}
        for cluster, ref in (secrets or {}).items()
    }


def record_view(api_record: dict | None) -> dict:
    """The documented, normalised fields of an API record; {} for an absent one."""
    if not api_record:
        return {}
    view = {field: api_record.get(field) for field in RETURNED_FIELDS}
    view["enable_ci"] = bool(view["enable_ci"])
    view["secrets"] = normalise_secrets(view["secrets"])
    view["created_at"] = normalise_timestamp(view["created_at"])
    return view


def secrets_problems(secrets: dict | None) -> list[str]:
    """Reasons why a secrets option is malformed; empty when it is fine."""
    problems = []
    for cluster, ref in (secrets or {}).items():
        where = f"secrets[{cluster!r}]"
        if not isinstance(ref, dict):
            problems.append(f"{where} must be a dictionary with namespace and secret")
            continue
        unknown = sorted(set(ref) - set(SECRET_REF_KEYS))
        if unknown:
            problems.append(f"{where} has unknown keys {', '.join(unknown)}")
        for key in SECRET_REF_KEYS:
            if not isinstance(ref.get(key), str) or not ref.get(key):
                problems.append(f"{where}.{key} must be a non-empty string")
    return problems


def id_problems(registry_id: str | None) -> list[str]:
    """Why a registry id is malformed; empty when it is fine or not given."""
    if registry_id is None or ID_PATTERN.match(registry_id):
        return []
    return [f"id must match {ID_PATTERN.pattern}, got {registry_id!r}"]


def params_problems(params: dict) -> list[str]:
    """Everything wrong with a humanitec_registry task's options that argument_spec misses."""
    problems = id_problems(params["id"])
    if params.get("registry") is not None and not params["registry"].strip():
        problems.append("registry must not be empty")
    problems.extend(secrets_problems(params.get("secrets")))
    expires = (params.get("creds") or {}).get("expires")
    if expires is not None and not TIMESTAMP_PATTERN.match(expires):
        problems.append(
            "creds.expires must be a UTC timestamp such as 2027-01-31T00:00:00Z or "
            f"2027-01-31T00:00:00.000Z, got {expires!r}"
        )
    return problems


def desired_secrets(current: dict, given: dict | None, purge: bool) -> dict:
    """The secrets map a task asks for: unmanaged, replaced, or merged into the current one."""
    if given is None:
        return current
    wanted = normalise_secrets(given)
    return wanted if purge else {**current, **wanted}


def desired_record(current: dict, params: dict) -> dict:
    """The managed fields of the record once the task has been applied to `current`."""
    desired = {field: current.get(field) for field in MANAGED_FIELDS}
    desired["id"] = params["id"]
    for field in ("registry", "type", "enable_ci"):
        if params.get(field) is not None:
            desired[field] = params[field]
    desired["enable_ci"] = bool(desired["enable_ci"])
    desired["secrets"] = desired_secrets(
        current.get("secrets") or {}, params.get("secrets"), params.get("purge_secrets", True)
    )
    return desired


def changed_fields(current: dict, desired: dict) -> list[str]:
    """The managed fields whose normalised values differ."""
    return [field for field in MANAGED_FIELDS if current.get(field) != desired.get(field)]


def creds_differ(stored: dict | None, given: dict) -> bool:
    """Whether the creds a task gives differ from those the API holds.

    `expires` is compared only when the task gives it: otherwise it is not managed.
    """
    if not stored:
        return True
    if stored.get("username") != given["username"]:
        return True
    if stored.get("password") != given["password"]:
        return True
    if given.get("expires") is None:
        return False
    return normalise_timestamp(stored.get("expires")) != normalise_timestamp(given["expires"])


def creds_body(given: dict, stored: dict | None) -> dict:
    """The creds to send; an unmanaged expiry keeps the value the API holds, when known."""
    body = {"username": given["username"], "password": given["password"]}
    expires = given.get("expires") or (stored or {}).get("expires")
    if expires:
        body["expires"] = expires
    return body


def masked_creds(creds: dict | None, password_changed: bool = False) -> dict:
    """Creds fit for a diff: the username and expiry as they are, the password never."""
    if not creds:
        return {}
    return {
        "username": creds.get("username"),
        "password": PASSWORD_CHANGED_MASK if password_changed else PASSWORD_MASK,
        "expires": normalise_timestamp(creds.get("expires")),
    }


def diff_side(record: dict, creds: dict | None = None, password_changed: bool = False) -> dict:
    """One side of a diff: the managed fields, plus masked creds when the task manages them."""
    if not record:
        return {}
    side = {field: record.get(field) for field in MANAGED_FIELDS}
    if creds is not None:
        side["creds"] = masked_creds(creds, password_changed)
    return side


def write_body(desired: dict, creds: dict | None = None) -> dict:
    """A complete request body; whole records keep PATCH right whether it merges or replaces."""
    body = {field: desired[field] for field in MANAGED_FIELDS if desired[field] is not None}
    if creds is not None:
        body["creds"] = creds
    return body
