# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures: one emulator process per test worker, reset before every test."""

from __future__ import annotations

import sys

import harness
import pytest
from harness import COLLECTIONS_PATH, Emulator

# Tests that call module_utils directly import them as ansible_collections.humanitec.platform.
if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))


# The per-worker emulator process, defined once in the harness.
emulator_process = harness.emulator_process


@pytest.fixture
def emulator(emulator_process) -> Emulator:
    """The session's emulator, reset to a fresh organization for each test."""
    emulator = Emulator(emulator_process)
    emulator.reset()
    return emulator
