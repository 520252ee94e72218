# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The request budget: exactly how many requests each task sends, over how few connections.

One playbook runs every task; after each one a probe reads the emulator's request log and its
connection counters, so every task is checked on the requests it alone sent and the TCP
connections that carried them. The emulator answers after 100 ms, so that the concurrent creds
reads really overlap. test_registry_module.py checks the registry module's requests step by
step too; here the point is the budget and the reuse of one connection within a task.
"""

from __future__ import annotations

import pytest
from harness import ORG_ID, Emulator, run_tasks

from ansible_collections.humanitec.platform.plugins.modules.humanitec_registry_info import (
    CREDS_WORKERS,
)

INFO = "humanitec.platform.humanitec_registry_info"
REGISTRY = "humanitec.platform.humanitec_registry"
LIST_PATH = f"/orgs/{ORG_ID}/registries"
LATENCY_MS = 100
# Well above the pool size, so that reusing connections shows against one per request.
SEEDED = 12
CREDS = {"username": "robot", "password": "pw-budget-1"}


def registry_id(index: int) -> str:
    return f"budget-{index:02d}"


def record(index: int) -> dict:
    return {"registry": f"{registry_id(index)}.example.com", "type": "basic", "enable_ci": False}


def matching(index: int) -> dict:
    """Options that match a seeded record exactly."""
    return {"id": registry_id(index), "registry": record(index)["registry"], "type": "basic"}


def path_of(index: int, creds: bool = False) -> str:
    path = f"{LIST_PATH}/{registry_id(index)}"
    return f"{path}/creds" if creds else path


# name: (task, the requests it must send, in order; "creds" for the unordered creds reads)
TASKS = {
    "info list": ({INFO: {}}, [f"GET {LIST_PATH}"]),
    "info one": ({INFO: {"id": registry_id(0)}}, [f"GET {path_of(0)}"]),
    "info include_creds": ({INFO: {"include_creds": True}}, [f"GET {LIST_PATH}", "creds"]),
    "no-op": ({REGISTRY: matching(0)}, [f"GET {path_of(0)}"]),
    "no-op, creds compared": (
        {REGISTRY: {**matching(1), "creds": CREDS}},
        [f"GET {path_of(1)}", f"GET {path_of(1, creds=True)}"],
    ),
    "create": (
        {REGISTRY: {"id": "budget-new", "registry": "new.example.com", "type": "public"}},
        [f"GET {LIST_PATH}/budget-new", f"POST {LIST_PATH}"],
    ),
    "update": (
        {REGISTRY: {"id": registry_id(2), "enable_ci": True}},
        [f"GET {path_of(2)}", f"PATCH {path_of(2)}"],
    ),
    "update, creds compared": (
        {REGISTRY: {"id": registry_id(3), "creds": {**CREDS, "password": "pw-budget-2"}}},
        [f"GET {path_of(3)}", f"GET {path_of(3, creds=True)}", f"PATCH {path_of(3)}"],
    ),
    "delete": (
        {REGISTRY: {"id": registry_id(4), "state": "absent"}},
        [f"GET {path_of(4)}", f"DELETE {path_of(4)}"],
    ),
    "absent no-op": ({REGISTRY: {"id": registry_id(4), "state": "absent"}}, [f"GET {path_of(4)}"]),
}

PROBE = {
    "name": "Read the emulator's request log and counters",
    "ansible.builtin.set_fact": {
        "budget_log": "{{ lookup('ansible.builtin.url', emulator_url ~ '/_emulator/requests',"
        " split_lines=false) | from_json }}",
        "budget_stats": "{{ lookup('ansible.builtin.url', emulator_url ~ '/_emulator/stats',"
        " split_lines=false) | from_json }}",
    },
}


def seed(emulator: Emulator) -> None:
    registries = {registry_id(index): record(index) for index in range(SEEDED)}
    creds = {registry_id(index): CREDS for index in range(SEEDED)}
    state = emulator.hook("GET", "state")
    builtin = state["orgs"][ORG_ID]["registries"]["humanitec"]
    state["orgs"][ORG_ID] = {"registries": {"humanitec": builtin, **registries}, "creds": creds}
    emulator.hook("PUT", "state", state)


class Spent:
    """What one task sent: its requests as "METHOD path", and the connections that carried them."""

    def __init__(self, result: dict, before: dict, after: dict) -> None:
        self.result = result
        log = after["budget_log"][len(before["budget_log"]) :]
        self.calls = [f"{entry['method']} {entry['path']}" for entry in log]
        self.requests = after["budget_stats"]["requests"] - before["budget_stats"]["requests"]
        connections = after["budget_stats"]["connections"]
        self.connections = connections - before["budget_stats"]["connections"]


@pytest.fixture(scope="module")
def spent(emulator_process) -> dict[str, Spent]:
    emulator = Emulator(emulator_process)
    emulator.reset()
    seed(emulator)
    emulator.hook("POST", "config", {"latency_ms": LATENCY_MS})
    tasks = [PROBE]
    for name, (task, _calls) in TASKS.items():
        tasks += [{"name": name, **task}, PROBE]
    try:
        run = run_tasks(emulator, tasks, play_vars={"emulator_url": emulator.url})
    finally:
        emulator.reset()
    assert run.returncode == 0, run.output
    facts = [result["ansible_facts"] for result in run.results[0::2]]
    return {
        name: Spent(result, before, after)
        for name, result, before, after in zip(TASKS, run.results[1::2], facts, facts[1:])
    }


@pytest.mark.parametrize("name", [name for name in TASKS if name != "info include_creds"])
def test_each_task_sends_its_budget_over_one_connection(spent, name):
    step = spent[name]

    assert step.result.get("failed") is not True, step.result
    assert step.calls == TASKS[name][1]
    assert step.requests == len(step.calls)
    assert step.connections == 1


def test_include_creds_reads_each_registry_once_over_a_pool_of_connections(spent):
    step = spent["info include_creds"]
    ids = ["humanitec", *(registry_id(index) for index in range(SEEDED))]

    assert step.result["failed"] is False
    assert len(step.result["registries"]) == len(ids)
    assert step.calls[0] == f"GET {LIST_PATH}"
    assert sorted(step.calls[1:]) == sorted(f"GET {LIST_PATH}/{rid}/creds" for rid in ids)
    assert step.requests == 1 + len(ids)
    # The reads run CREDS_WORKERS at a time over kept-alive connections: more than one
    # connection (they overlap), never more than the pool, and far fewer than the requests.
    assert 1 < step.connections <= CREDS_WORKERS < len(ids)
