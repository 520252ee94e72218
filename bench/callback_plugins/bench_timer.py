# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Callback of the benchmark: writes each task's wall time to $BENCH_TIMINGS_FILE as JSON.

A task's time runs from its start to its last result on the host, so it covers every item of
a loop and leaves out ansible-playbook's start-up and the gaps between tasks.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: Task wall times for bench/run_bench.py
description: Writes each task's name, time, item count and changed items to BENCH_TIMINGS_FILE.
requirements:
  - the BENCH_TIMINGS_FILE environment variable
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[dict] = []
        self.started = 0.0

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self.started = time.perf_counter()
        self.tasks.append({"name": task.get_name(), "seconds": 0.0, "items": 0, "changed": 0})

    def _finish(self, result, status: str) -> None:
        outcome = result._result
        items = outcome.get("results") or []
        self.tasks[-1].update(
            seconds=time.perf_counter() - self.started,
            status=status,
            items=len(items),
            changed=sum(1 for item in items if item.get("changed")),
            skipped=sum(1 for item in items if item.get("skipped")),
        )

    def v2_runner_on_ok(self, result) -> None:
        self._finish(result, "ok")

    def v2_runner_on_skipped(self, result) -> None:
        self._finish(result, "skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._finish(result, "failed")

    def v2_runner_on_unreachable(self, result) -> None:
        self._finish(result, "unreachable")

    def v2_playbook_on_stats(self, stats) -> None:
        with open(os.environ["BENCH_TIMINGS_FILE"], "w", encoding="utf-8") as handle:
            json.dump(self.tasks, handle, indent=1)
