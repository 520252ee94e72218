# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emulator's error answers never echo a token or a password back.

Only the creds endpoint returns a password, on purpose, and only the test hooks expose the
stored state; neither is an error answer.
"""

from __future__ import annotations

import json

from harness import ORG_ID
from rel_support import NEW_PASSWORD, OLD_PASSWORD, scan_for_leaks

WRONG_TOKEN = "tok-wrong-5d1e9a77-reliability"
COLLECTION = f"/orgs/{ORG_ID}/registries"
RECORD = {"id": "echo-check", "registry": "echo.example.com", "type": "basic"}
CREDS = {"username": "robot", "password": NEW_PASSWORD}


def bad_requests() -> list[tuple[str, str, str, object, dict]]:
    """(case, method, path, body, headers): each must be refused."""
    return [
        ("bad expiry", "POST", COLLECTION, {**RECORD, "creds": {**CREDS, "expires": "x"}}, {}),
        (
            "username not a string",
            "POST",
            COLLECTION,
            {**RECORD, "creds": {**CREDS, "username": 1}},
            {},
        ),
        (
            "creds without username",
            "POST",
            COLLECTION,
            {**RECORD, "creds": {"password": NEW_PASSWORD}},
            {},
        ),
        ("type unknown", "POST", COLLECTION, {**RECORD, "type": "x", "creds": CREDS}, {}),
        ("id mismatch", "PATCH", f"{COLLECTION}/other", {**RECORD, "creds": CREDS}, {}),
        ("duplicate id", "POST", COLLECTION, {**RECORD, "creds": CREDS}, {}),
        ("not JSON", "POST", COLLECTION, f'{{"creds": {{"password": "{NEW_PASSWORD}"', {}),
        ("method not allowed", "PUT", COLLECTION, {**RECORD, "creds": CREDS}, {}),
        ("no such endpoint", "POST", f"{COLLECTION}/echo-check/x", {"password": NEW_PASSWORD}, {}),
        ("wrong token", "GET", COLLECTION, None, {"Authorization": f"Bearer {WRONG_TOKEN}"}),
        ("token as basic auth", "GET", COLLECTION, None, {"Authorization": "Basic {token}"}),
        ("token without scheme", "GET", COLLECTION, None, {"Authorization": "{token}"}),
    ]


def test_error_answers_echo_no_secret(emulator):
    emulator.seed({**RECORD, "creds": {**CREDS, "password": OLD_PASSWORD}})
    texts, refused = {}, []
    for case, method, path, body, headers in bad_requests():
        headers = {"Authorization": f"Bearer {emulator.token}", **headers}
        headers = {name: value.format(token=emulator.token) for name, value in headers.items()}
        data = body if isinstance(body, str) else json.dumps(body)
        response = emulator.http.request(
            method,
            emulator.url + path,
            data=None if body is None else data,
            headers={**headers, "Content-Type": "application/json"},
            timeout=10,
        )
        texts[case] = f"{response.status_code} {dict(response.headers)} {response.text}"
        if response.status_code < 400:
            refused.append(f"{case}: answered {response.status_code}")
    leaks = scan_for_leaks(
        "emulator error answers", texts, more_secrets={"wrong token": WRONG_TOKEN}
    )
    assert not refused, refused
    assert not leaks, leaks
