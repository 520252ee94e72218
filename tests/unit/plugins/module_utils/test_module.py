# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.humanitec.platform.plugins.module_utils._module import (
    connection_argument_spec,
    connection_problems,
    secret_values,
)

SPEC = {
    **connection_argument_spec(),
    "creds": {
        "type": "dict",
        "options": {
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
        },
    },
    "secrets": {"type": "dict", "no_log": False},
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"api_token": "tok", "creds": {"username": "u", "password": "pw"}}, {"tok", "pw"}),
        ({"api_token": "tok", "creds": "u:pw"}, {"tok", "u:pw"}),
        ({"api_token": "tok", "creds": ["pw", None]}, {"tok", "pw"}),
        ({"api_token": "tok", "creds": 5}, {"tok", "5"}),
        ({"api_token": "", "creds": None}, set()),
        ({"api_token": "tok", "secrets": {"*": {"namespace": "n", "secret": "s"}}}, {"tok"}),
    ],
    ids=["dict", "string", "list", "number", "nothing", "secret-names-are-not-secrets"],
)
def test_secret_values_however_malformed(params, expected):
    assert secret_values(SPEC, params) == expected


def connection(**options):
    params = {
        "api_url": "https://api.humanitec.io",
        "api_token": "tok",
        "org_id": "acme",
        "request_timeout": 30,
        "max_retries": 5,
    }
    params.update(options)
    return params


@pytest.mark.parametrize(
    ("options", "option_named"),
    [
        ({}, None),
        ({"api_url": "http://127.0.0.1:8080"}, None),
        ({"api_url": "api.humanitec.io"}, "api_url"),
        ({"api_url": "ftp://api.humanitec.io"}, "api_url"),
        ({"api_token": "  "}, "api_token"),
        ({"org_id": ""}, "org_id"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 21}, "max_retries"),
    ],
)
def test_connection_problems_name_the_option(options, option_named):
    problems = connection_problems(connection(**options))

    if option_named is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(option_named)
