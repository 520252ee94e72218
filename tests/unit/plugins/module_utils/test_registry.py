# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.humanitec.platform.plugins.module_utils import _registry as registry

CURRENT = {
    "id": "harbor",
    "registry": "harbor.example.com",
    "type": "basic",
    "enable_ci": False,
    "secrets": {"*": {"namespace": "default", "secret": "pull"}},
    "created_at": "2026-01-01T00:00:00.000Z",
    "created_by": "someone@example.com",
}


def task(**options):
    params = {
        "id": "harbor",
        "registry": None,
        "type": None,
        "enable_ci": None,
        "creds": None,
        "secrets": None,
        "purge_secrets": True,
    }
    params.update(options)
    return params


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-31T00:00:00Z", "2027-01-31T00:00:00.000Z"),
        ("2027-01-31T00:00:00.000Z", "2027-01-31T00:00:00.000Z"),
        ("2027-01-31T00:00:00.123Z", "2027-01-31T00:00:00.123Z"),
        (None, None),
        ("", None),
    ],
)
def test_normalise_timestamp(value, expected):
    assert registry.normalise_timestamp(value) == expected


@pytest.mark.parametrize(
    ("api_record", "expected"),
    [
        (None, {}),
        ({}, {}),
        (
            {**CURRENT, "secrets": None, "creds": {"password": "x"}, "extra": 1},
            {**CURRENT, "secrets": {}},
        ),
        (
            {**CURRENT, "created_at": "2026-01-01T00:00:00Z"},
            CURRENT,
        ),
    ],
    ids=["none", "empty", "whitelisted-and-secrets-defaulted", "timestamp-normalised"],
)
def test_record_view(api_record, expected):
    assert registry.record_view(api_record) == expected


# The comparison matrix: each option missing from the task, the same as stored, or different.
@pytest.mark.parametrize(
    ("options", "changed"),
    [
        ({}, []),
        ({"registry": "harbor.example.com"}, []),
        ({"registry": "other.example.com"}, ["registry"]),
        ({"type": "basic"}, []),
        ({"type": "public"}, ["type"]),
        ({"enable_ci": False}, []),
        ({"enable_ci": True}, ["enable_ci"]),
        ({"secrets": {"*": {"namespace": "default", "secret": "pull"}}}, []),
        ({"secrets": {"*": {"namespace": "other", "secret": "pull"}}}, ["secrets"]),
        ({"secrets": {}}, ["secrets"]),
        ({"secrets": {}, "purge_secrets": False}, []),
        (
            {"secrets": {"c1": {"namespace": "n", "secret": "s"}}, "purge_secrets": False},
            ["secrets"],
        ),
        (
            {"registry": "x.io", "type": "public", "enable_ci": True},
            ["registry", "type", "enable_ci"],
        ),
    ],
)
def test_changed_fields(options, changed):
    current = registry.record_view(CURRENT)
    desired = registry.desired_record(current, task(**options))

    assert registry.changed_fields(current, desired) == changed


def test_secrets_merge_keeps_unlisted_clusters():
    current = registry.record_view(CURRENT)
    given = {"c1": {"namespace": "n", "secret": "s"}}

    desired = registry.desired_record(current, task(secrets=given, purge_secrets=False))

    assert desired["secrets"] == {**CURRENT["secrets"], **given}


def test_desired_record_of_a_new_registry_defaults_enable_ci_to_false():
    desired = registry.desired_record({}, task(registry="r.io", type="public"))

    assert desired == {
        "id": "harbor",
        "registry": "r.io",
        "type": "public",
        "enable_ci": False,
        "secrets": {},
    }


STORED_CREDS = {"username": "u", "password": "p", "expires": "2027-01-31T00:00:00.000Z"}


@pytest.mark.parametrize(
    ("stored", "given", "differ"),
    [
        (None, {"username": "u", "password": "p"}, True),
        (STORED_CREDS, {"username": "u", "password": "p"}, False),
        (STORED_CREDS, {"username": "u", "password": "p", "expires": None}, False),
        (
            STORED_CREDS,
            {"username": "u", "password": "p", "expires": "2027-01-31T00:00:00Z"},
            False,
        ),
        (STORED_CREDS, {"username": "u", "password": "p", "expires": "2028-01-31T00:00:00Z"}, True),
        (STORED_CREDS, {"username": "v", "password": "p"}, True),
        (STORED_CREDS, {"username": "u", "password": "q"}, True),
        ({**STORED_CREDS, "expires": None}, {"username": "u", "password": "p"}, False),
    ],
    ids=[
        "nothing-stored",
        "same",
        "expires-unmanaged",
        "expires-same-without-ms",
        "expires-differs",
        "username-differs",
        "password-differs",
        "no-stored-expiry",
    ],
)
def test_creds_differ(stored, given, differ):
    assert registry.creds_differ(stored, given) is differ


def test_creds_body_keeps_the_stored_expiry_when_unmanaged():
    body = registry.creds_body({"username": "u", "password": "new", "expires": None}, STORED_CREDS)

    assert body == {"username": "u", "password": "new", "expires": STORED_CREDS["expires"]}


@pytest.mark.parametrize("password_changed", [False, True])
def test_masked_creds_never_hold_the_password(password_changed):
    masked = registry.masked_creds(STORED_CREDS, password_changed)

    assert "p" not in masked.values()
    assert masked["username"] == "u"
    assert masked["password"] == (
        registry.PASSWORD_CHANGED_MASK if password_changed else registry.PASSWORD_MASK
    )


def test_diff_sides_differ_only_in_the_mask_when_the_password_changes():
    current = registry.record_view(CURRENT)
    new_creds = {**STORED_CREDS, "password": "new"}

    before = registry.diff_side(current, STORED_CREDS)
    after = registry.diff_side(current, new_creds, password_changed=True)

    assert before != after
    assert {**before, "creds": None} == {**after, "creds": None}
    assert "new" not in str(after) and "'p'" not in str(before)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"id": "A-bad"}, "id must match"),
        ({"id": "a-1"}, None),
        ({"id": "ab"}, "id must match"),
        ({"id": "a"}, "id must match"),
        ({"id": "-ab"}, "id must match"),
        ({"id": "ab-"}, "id must match"),
        ({"registry": "  "}, "registry must not be empty"),
        ({"secrets": {"c": {"namespace": "n"}}}, "secrets['c'].secret must be a non-empty string"),
        ({"secrets": {"c": {"secret": "s"}}}, "secrets['c'].namespace must be a non-empty string"),
        ({"secrets": {"c": {"namespace": "n", "secret": "s", "x": 1}}}, "unknown keys x"),
        ({"secrets": {"c": "pull"}}, "secrets['c'] must be a dictionary"),
        ({"creds": {"username": "u", "password": "p", "expires": "2027-01-31"}}, "creds.expires"),
        (
            {"creds": {"username": "u", "password": "p", "expires": "2027-01-31T00:00:00+01:00"}},
            "creds.expires",
        ),
        ({"creds": {"username": "u", "password": "p", "expires": "2027-01-31T00:00:00Z"}}, None),
    ],
)
def test_params_problems(options, problem):
    problems = registry.params_problems(task(**options))

    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_write_body_sends_the_complete_record_and_creds_only_when_given():
    desired = registry.desired_record(registry.record_view(CURRENT), task())

    assert registry.write_body(desired) == {
        field: CURRENT[field] for field in registry.MANAGED_FIELDS
    }
    assert registry.write_body(desired, {"username": "u", "password": "p"})["creds"] == {
        "username": "u",
        "password": "p",
    }
