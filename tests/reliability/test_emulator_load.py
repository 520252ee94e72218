# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emulator itself: many keep-alive clients at once, and a kill -9 in the middle of writes.

Each test starts its own emulator, so that neither disturbs the other tests' emulator.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from harness import ORG_ID, Emulator, EmulatorProcess
from rel_support import record_outcome

CLIENTS = 20
LOAD_SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "30"))
# A short pause between a client's requests keeps the test from taking both CPU cores.
THINK_SECONDS = 0.03
REQUEST_TIMEOUT = 10
# Each client cycles through the API on a registry of its own: what every answer must be.
CYCLE = (("POST", 201), ("GET", 200), ("PATCH", 200), ("GET creds", 200), ("LIST", 200))
CYCLE += (("DELETE", 204),)
WRITERS = 4
KILL_ROUNDS = 3


def session_for(emulator: Emulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {emulator.token}"
    session.trust_env = False
    return session


def cycle_request(session, base: str, step: str, reg_id: str, serial: int):
    collection = f"{base}/orgs/{ORG_ID}/registries"
    record = {"id": reg_id, "registry": f"{reg_id}.example.com", "type": "basic"}
    if step == "POST":
        return session.post(collection, json=record, timeout=REQUEST_TIMEOUT)
    if step == "PATCH":
        creds = {"username": "load", "password": f"pw-{serial}"}
        body = {**record, "enable_ci": serial % 2 == 0, "creds": creds}
        return session.patch(f"{collection}/{reg_id}", json=body, timeout=REQUEST_TIMEOUT)
    if step == "LIST":
        return session.get(collection, timeout=REQUEST_TIMEOUT)
    suffix = "/creds" if step == "GET creds" else ""
    method = "DELETE" if step == "DELETE" else "GET"
    return session.request(method, f"{collection}/{reg_id}{suffix}", timeout=REQUEST_TIMEOUT)


def keep_alive_client(emulator: Emulator, number: int, deadline: float) -> dict:
    """One thread, one session: cycles until the deadline; counts answers and failures."""
    session = session_for(emulator)
    answers, unexpected, errors = Counter(), [], []
    serial = 0
    while time.monotonic() < deadline and not errors:
        step, wanted = CYCLE[serial % len(CYCLE)]
        reg_id = f"load-{number}-{serial // len(CYCLE)}"
        try:
            response = cycle_request(session, emulator.url, step, reg_id, serial)
            response.content  # noqa: B018 - read the body so the connection is reused
        except requests.RequestException as error:
            errors.append(f"{step}: {type(error).__name__}")
            break
        answers[response.status_code] += 1
        if response.status_code != wanted:
            unexpected.append(f"{step} {reg_id}: {response.status_code} {response.text[:100]}")
        serial += 1
        time.sleep(THINK_SECONDS)
    session.close()
    return {"answers": answers, "unexpected": unexpected, "errors": errors}


def test_twenty_keep_alive_clients():
    process = EmulatorProcess()
    try:
        emulator = Emulator(process)
        emulator.hook("DELETE", "stats")
        deadline = time.monotonic() + LOAD_SECONDS
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            outcomes = list(
                pool.map(lambda n: keep_alive_client(emulator, n, deadline), range(CLIENTS))
            )
        stats = emulator.hook("GET", "stats")
    finally:
        process.stop()

    answers = sum((outcome["answers"] for outcome in outcomes), Counter())
    errors = [error for outcome in outcomes for error in outcome["errors"]]
    unexpected = [item for outcome in outcomes for item in outcome["unexpected"]]
    server_errors = sum(count for status, count in answers.items() if status >= 500)
    record_outcome(
        "load",
        clients=CLIENTS,
        seconds=LOAD_SECONDS,
        requests=sum(answers.values()),
        server_errors=server_errors,
        dropped=len(errors) + max(0, stats["connections"] - CLIENTS),
        connections=stats["connections"],
        unexpected=len(unexpected),
    )
    assert not errors, errors
    assert server_errors == 0, answers
    assert not unexpected, unexpected[:10]
    # Every client kept its one connection for the whole run: none was dropped and reopened.
    assert stats["connections"] == CLIENTS, stats


def writer(emulator: Emulator, name: str, acknowledged: list, stop: threading.Event) -> None:
    """POSTs new registries until the emulator dies; keeps the ids it saw 201 for."""
    session = session_for(emulator)
    serial = 0
    while not stop.is_set():
        reg_id = f"{name}-{serial}"
        record = {"id": reg_id, "registry": f"{reg_id}.example.com", "type": "public"}
        try:
            response = session.post(
                f"{emulator.url}/orgs/{ORG_ID}/registries", json=record, timeout=REQUEST_TIMEOUT
            )
        except requests.RequestException:
            break
        if response.status_code == 201:
            acknowledged.append(reg_id)
        serial += 1
    session.close()


def kill_mid_stream(state_file: Path, round_number: int, acknowledged: list) -> set:
    """Start on the state file, write from several threads, kill -9; the ids found at start."""
    process = EmulatorProcess("--state-file", str(state_file))
    emulator = Emulator(process)
    found = set(emulator.hook("GET", "state")["orgs"][ORG_ID]["registries"])
    stop = threading.Event()
    threads = [
        threading.Thread(target=writer, args=(emulator, f"w{round_number}-{n}", acknowledged, stop))
        for n in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    os.kill(process.process.pid, signal.SIGKILL)
    process.process.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 5)
    return found


def registries_after_restart(state_file: Path) -> set:
    process = EmulatorProcess("--state-file", str(state_file))
    try:
        return set(Emulator(process).hook("GET", "state")["orgs"][ORG_ID]["registries"])
    finally:
        process.stop()


def test_acknowledged_writes_survive_kill_9(tmp_path):
    """Each restart (after each kill, and at the end) finds every write answered 201 before."""
    state_file = tmp_path / "state.json"
    acknowledged: list[str] = []
    lost: set[str] = set()
    for round_number in range(KILL_ROUNDS):
        acknowledged_before = set(acknowledged)
        lost |= acknowledged_before - kill_mid_stream(state_file, round_number, acknowledged)
    lost |= set(acknowledged) - registries_after_restart(state_file)

    record_outcome("durability", kills=KILL_ROUNDS, acknowledged=len(acknowledged), lost=len(lost))
    assert json.loads(state_file.read_text())["orgs"][ORG_ID]["registries"]
    assert len(acknowledged) > KILL_ROUNDS * WRITERS
    assert not lost, sorted(lost)[:10]
