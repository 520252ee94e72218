# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the reliability suite: the system tests' harness, one emulator per worker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SYSTEM_TESTS = Path(__file__).resolve().parents[1] / "system"
if str(SYSTEM_TESTS) not in sys.path:
    sys.path.insert(0, str(SYSTEM_TESTS))

import harness  # noqa: E402
from harness import COLLECTIONS_PATH, ORG_ID, OTHER_ORG_ID, Emulator  # noqa: E402
from rel_support import OUTCOMES_FILE, builtin_record  # noqa: E402

# Tests that run module code in-process import it as ansible_collections.humanitec.platform.
if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session) -> None:
    """Start a fresh outcome log, once per run (in the controller, not in xdist workers)."""
    if not hasattr(session.config, "workerinput"):
        OUTCOMES_FILE.parent.mkdir(parents=True, exist_ok=True)
        OUTCOMES_FILE.write_text("")


# The per-worker emulator process, defined once in the harness.
emulator_process = harness.emulator_process


@pytest.fixture
def emulator(emulator_process) -> Emulator:
    """The worker's emulator with only the two standard organizations, fresh for each test."""
    emulator = Emulator(emulator_process)
    emulator.reset()
    builtin = builtin_record(emulator)
    fresh = {"registries": {"humanitec": builtin}, "creds": {}}
    emulator.hook("PUT", "state", {"orgs": {ORG_ID: fresh, OTHER_ORG_ID: fresh}})
    emulator.clear_requests()
    return emulator
