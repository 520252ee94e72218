# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for tests that run real ansible-playbook and ansible commands against the emulator."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
EMULATOR_SCRIPT = REPO_ROOT / "tests" / "emulator" / "humanitec_emulator.py"
COLLECTIONS_PATH = REPO_ROOT / ".cache" / "collections"
BIN_DIR = Path(sys.executable).parent

# Distinctive values, so that a test can search every output for them.
API_TOKEN = "tok-3b9f1c7e-emulator-secret"
ORG_ID = "acme"
OTHER_ORG_ID = "globex"
START_TIMEOUT = 15
PLAYBOOK_TIMEOUT = 180


class EmulatorProcess:
    """One emulator process on 127.0.0.1, stopped by its pid."""

    def __init__(self, *extra_args: str, token: str = API_TOKEN) -> None:
        self.token = token
        self.workdir = Path(tempfile.mkdtemp(prefix="humanitec-emulator-"))
        url_file = self.workdir / "url"
        command = [sys.executable, str(EMULATOR_SCRIPT), "--port", "0", "--token", token]
        command += ["--org", ORG_ID, "--org", OTHER_ORG_ID, "--url-file", str(url_file)]
        self.process = subprocess.Popen(
            [*command, *extra_args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = self._wait_for_url(url_file)

    def _wait_for_url(self, url_file: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if url_file.exists() and url_file.read_text().strip():
                return url_file.read_text().strip()
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited: {self.process.stderr.read().decode()}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("emulator did not start in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Emulator:
    """Test-side view of a running emulator: its hooks and its stored state."""

    def __init__(self, process: EmulatorProcess) -> None:
        self.process = process
        self.url = process.url
        self.token = process.token
        self.http = requests.Session()
        # The tests talk to their own emulator only: no proxies, and no REQUESTS_CA_BUNDLE,
        # which would otherwise override verify=False for an HTTPS emulator.
        self.http.trust_env = False
        self.http.verify = False

    def hook(self, method: str, name: str, body=None):
        response = self.http.request(method, f"{self.url}/_emulator/{name}", json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self.hook("POST", "reset")
        self.hook("DELETE", "stats")
        self.hook("POST", "config", {"latency_ms": 0})

    def requests(self) -> list[dict]:
        return self.hook("GET", "requests")

    def clear_requests(self) -> None:
        self.hook("DELETE", "requests")

    def fault(self, **spec) -> None:
        self.hook("POST", "faults", spec)

    def registries(self, org: str = ORG_ID) -> dict:
        return self.hook("GET", "state")["orgs"][org]["registries"]

    def stored_creds(self, registry_id: str, org: str = ORG_ID) -> dict:
        return self.hook("GET", "state")["orgs"][org]["creds"].get(registry_id)

    def api(self, method: str, path: str, body=None) -> requests.Response:
        """Call the API itself, e.g. to seed a record the way a user would."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(
            method, f"{self.url}{path}", json=body, headers=headers, timeout=10
        )

    def seed(self, record: dict, org: str = ORG_ID) -> dict:
        response = self.api("POST", f"/orgs/{org}/registries", record)
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture(scope="session")
def emulator_process():
    """One emulator process per test worker, stopped by its pid at the end."""
    process = EmulatorProcess()
    yield process
    process.stop()


def ansible_env(emulator: Emulator | None = None, **extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HUMANITEC_", "ANSIBLE_"))
    }
    env.update(
        PATH=f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    if emulator is not None:
        env.update(
            HUMANITEC_API_PREFIX=emulator.url,
            HUMANITEC_TOKEN=emulator.token,
            HUMANITEC_ORG=ORG_ID,
        )
    env.update(extra)
    return env


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    results: list[dict] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def playbook_with_results(tasks: list[dict], results_file: Path, play_vars: dict) -> list:
    """A play that runs each task (errors ignored), then writes every registered result."""
    names = [f"task_result_{index}" for index in range(len(tasks))]
    wrapped = [
        {**task, "register": name, "ignore_errors": True}
        for task, name in zip(tasks, names, strict=True)
    ]
    collect = {
        "name": "Collect the results",
        "ansible.builtin.copy": {
            "content": "{{ [" + ", ".join(names) + "] | to_json }}",
            "dest": str(results_file),
            "mode": "0600",
        },
        "check_mode": False,
        "diff": False,
    }
    return [
        {
            "name": "System test",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": play_vars,
            "tasks": [*wrapped, collect],
        }
    ]


def run_ansible(command: list[str], env: dict) -> PlaybookRun:
    """Run an ansible command line (ansible, ansible-playbook, ...) from the venv, bounded."""
    completed = subprocess.run(
        [str(BIN_DIR / command[0]), *command[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
    return PlaybookRun(completed.returncode, completed.stdout, completed.stderr)


RECAP = re.compile(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)")


def recap(run: PlaybookRun) -> dict:
    """The ok, changed and failed counts of the play recap for localhost."""
    match = RECAP.search(run.stdout)
    assert match, run.output
    ok, changed, failed = (int(group) for group in match.groups())
    return {"ok": ok, "changed": changed, "failed": failed}


def run_tasks(
    emulator: Emulator | None,
    tasks: list[dict],
    *,
    args: tuple[str, ...] = (),
    play_vars: dict | None = None,
    env: dict | None = None,
) -> PlaybookRun:
    """Run tasks in one ansible-playbook process; each task's registered result is returned."""
    with tempfile.TemporaryDirectory(prefix="humanitec-play-") as workdir:
        results_file = Path(workdir) / "results.json"
        playbook = Path(workdir) / "play.yml"
        playbook.write_text(
            yaml.safe_dump(playbook_with_results(tasks, results_file, play_vars or {}))
        )
        run = run_ansible(
            ["ansible-playbook", "-i", "localhost,", str(playbook), *args],
            {**ansible_env(emulator), **(env or {})},
        )
        if results_file.exists():
            run.results = json.loads(results_file.read_text())
    return run


def run_adhoc(emulator: Emulator | None, module: str, module_args: str = "", **env) -> PlaybookRun:
    """`ansible localhost -m <module>` with the connection taken from the environment."""
    command = ["ansible", "localhost", "-m", module, "-o"]
    if module_args:
        command += ["-a", module_args]
    return run_ansible(command, ansible_env(emulator, **env))
