# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Eight ansible-playbook runs at once against one organization.

Each run creates or updates the same shared registry with its own values (name, flags,
secrets and creds), then creates and updates a registry of its own. The emulator adds a
little latency to every request, and delays the first reads of the shared registry, so
that the runs' reads and writes interleave and several of them race to create it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from harness import ORG_ID, Emulator, run_tasks
from rel_support import org_view, record_outcome, scan_for_leaks

RUNS = 8
SHARED_ID = "shared-images"
MODULE = "humanitec.platform.humanitec_registry"


def password_of(run: int) -> str:
    return f"pw-run{run}-c0ffee-reliability"


def shared_task(run: int) -> dict:
    return {
        "name": "The shared registry, with this run's values",
        MODULE: {
            "id": SHARED_ID,
            "registry": f"shared{run}.example.com/images",
            "type": "basic",
            "enable_ci": run % 2 == 0,
            "secrets": {"*": {"namespace": "registries", "secret": f"pull-{run}"}},
            "creds": {"username": f"robot-{run}", "password": password_of(run)},
        },
    }


def own_tasks(run: int) -> list[dict]:
    own_id = f"team-{run}"
    return [
        {
            "name": "Create this run's registry",
            MODULE: {
                "id": own_id,
                "registry": f"team{run}.example.com",
                "type": "basic",
                "creds": {"username": f"team-{run}", "password": password_of(run)},
            },
        },
        {
            "name": "Update this run's registry",
            MODULE: {
                "id": own_id,
                "enable_ci": True,
                "secrets": {"prod": {"namespace": "ci", "secret": f"team-{run}-pull"}},
            },
        },
    ]


def run_tasks_of(run: int) -> list[dict]:
    return [shared_task(run), *own_tasks(run)]


def desired_shared(run: int) -> tuple[dict, dict]:
    options = shared_task(run)[MODULE]
    record = {name: options[name] for name in ("registry", "type", "enable_ci", "secrets")}
    return record, {**options["creds"], "expires": None}


def desired_own(run: int) -> dict:
    return {
        "registry": f"team{run}.example.com",
        "type": "basic",
        "enable_ci": True,
        "secrets": {"prod": {"namespace": "ci", "secret": f"team-{run}-pull"}},
    }


def converged_problems(emulator: Emulator) -> tuple[list[str], int | None]:
    """What is wrong with the stored organization, and which run's shared values won."""
    stored = org_view(emulator.hook("GET", "state")["orgs"][ORG_ID])
    expected_ids = {"humanitec", SHARED_ID, *(f"team-{run}" for run in range(RUNS))}
    problems = []
    if set(stored["registries"]) != expected_ids:
        problems.append(f"registries lost or added: {sorted(stored['registries'])}")
    shared = (stored["registries"].get(SHARED_ID), stored["creds"].get(SHARED_ID))
    winners = [run for run in range(RUNS) if desired_shared(run) == shared]
    if len(winners) != 1:
        problems.append(f"the shared registry matches no single run: {shared}")
    for run in range(RUNS):
        if stored["registries"].get(f"team-{run}") != desired_own(run):
            problems.append(f"team-{run} is {stored['registries'].get(f'team-{run}')}")
    return problems, (winners[0] if len(winners) == 1 else None)


def test_eight_runs_at_once_converge(emulator):
    emulator.hook("POST", "config", {"latency_ms": 20})
    # Each run's first read of the shared id is answered 3 s late (with the state at arrival),
    # so that runs starting within those seconds all see it absent and race to create it.
    emulator.fault(
        method="GET",
        path=f"/orgs/{ORG_ID}/registries/{SHARED_ID}",
        kind="delay",
        seconds=3,
        times=RUNS,
    )
    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        runs = list(
            pool.map(
                lambda run: run_tasks(emulator, run_tasks_of(run), args=("-vvvv", "--diff")),
                range(RUNS),
            )
        )
    emulator.hook("POST", "config", {"latency_ms": 0})
    # How much the runs really collided: creates of the shared id that met another's create.
    conflicts = sum(
        1 for entry in emulator.requests() if entry["method"] == "POST" and entry["status"] == 409
    )

    problems, winner = converged_problems(emulator)
    for number, run in enumerate(runs):
        failed = [result.get("msg") for result in run.results if result.get("failed")]
        if run.returncode != 0 or failed or len(run.results) != 3:
            problems.append(f"run {number} did not end green: {failed or run.output[-2000:]}")
        elif not all(result["changed"] for result in run.results):
            problems.append(f"run {number} reported a step unchanged")

    # A rerun of the winning run and of every run's own registry: nothing left to change.
    rerun_tasks = [
        *([shared_task(winner)] if winner is not None else []),
        *(task for run in range(RUNS) for task in own_tasks(run)),
    ]
    rerun = run_tasks(emulator, rerun_tasks, args=("--diff",))
    changed = [
        task["name"] for task, result in zip(rerun_tasks, rerun.results) if result["changed"]
    ]
    unchanged = len(rerun.results) - len(changed)

    record_outcome(
        "concurrency",
        runs=RUNS,
        green=sum(1 for run in runs if run.returncode == 0),
        converged=not problems,
        reruns=len(rerun_tasks),
        reruns_unchanged=unchanged if rerun.returncode == 0 else 0,
        create_conflicts=conflicts,
    )
    texts = {f"run {number} stdout": run.stdout for number, run in enumerate(runs)}
    texts.update({f"run {number} stderr": run.stderr for number, run in enumerate(runs)})
    texts["results"] = json.dumps([run.results for run in runs] + [rerun.results])
    passwords = {f"password of run {run}": password_of(run) for run in range(RUNS)}
    leaks = scan_for_leaks("8 concurrent runs, -vvvv --diff", texts, more_secrets=passwords)
    assert not problems, "\n".join(problems)
    assert rerun.returncode == 0 and not changed, changed or rerun.output[-2000:]
    assert not leaks, leaks
