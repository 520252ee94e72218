# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the reliability suite: outcome log, secret scan, multi-host and in-process runs."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from harness import API_TOKEN, REPO_ROOT, Emulator, ansible_env, run_ansible

OUTCOMES_FILE = Path(
    os.environ.get("RELIABILITY_OUTCOMES", REPO_ROOT / ".cache" / "reliability" / "outcomes.jsonl")
)

# Distinctive secrets: any of them found in an output is a leak.
OLD_PASSWORD = "pw-old-7f3a9c21-reliability"
NEW_PASSWORD = "pw-new-e41b08d6-reliability"
SECRETS = {"api token": API_TOKEN, "old password": OLD_PASSWORD, "new password": NEW_PASSWORD}
# What a registry read back with include_creds holds: returned on purpose, so not scanned.
READBACK_PASSWORD = "pw-readback-info-module"

MANAGED_FIELDS = ("registry", "type", "enable_ci", "secrets")


def record_outcome(category: str, **fields) -> None:
    """Append one measured outcome; the summary script builds its table from these lines."""
    OUTCOMES_FILE.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"category": category, **fields}, sort_keys=True)
    # One short write in append mode: lines from parallel workers never interleave.
    with open(OUTCOMES_FILE, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def find_leaks(texts: dict[str, str], secrets: dict[str, str] | None = None) -> list[str]:
    """Each (where, which secret) pair where an exact secret value occurs."""
    secrets = SECRETS if secrets is None else secrets
    return [
        f"{which} in {where}"
        for where, text in texts.items()
        for which, value in secrets.items()
        if value in text
    ]


def scan_for_leaks(scenario: str, texts: dict[str, str], more_secrets=None) -> list:
    """Scan outputs for every secret, record what was scanned and found, return the leaks."""
    leaks = find_leaks(texts, {**SECRETS, **(more_secrets or {})})
    record_outcome(
        "secrets",
        scenario=scenario,
        outputs=len(texts),
        chars=sum(len(text) for text in texts.values()),
        leaks=len(leaks),
    )
    return leaks


def org_view(org_state: dict) -> dict:
    """An organization's stored registries (managed fields only) and credentials."""
    registries = {
        reg_id: {name: record[name] for name in MANAGED_FIELDS}
        for reg_id, record in org_state["registries"].items()
    }
    return {"registries": registries, "creds": org_state.get("creds", {})}


def builtin_record(emulator: Emulator) -> dict:
    """The built-in registry every organization starts with, as the emulator stores it."""
    orgs = emulator.hook("GET", "state")["orgs"].values()
    return next(org["registries"]["humanitec"] for org in orgs if "humanitec" in org["registries"])


def is_one_line_failure(result: dict) -> bool:
    """A failure reported by the module itself: one line, no traceback, no raw stderr."""
    msg = result.get("msg", "")
    exception = str(result.get("exception", ""))
    return (
        bool(result.get("failed"))
        and isinstance(msg, str)
        and "\n" not in msg
        and "Traceback" not in msg + exception
        and not msg.startswith("Task failed")
        and "module_stderr" not in result
    )


# --- Many cases in one ansible-playbook run: one inventory host per case -----------------


@dataclass
class HostsRun:
    returncode: int
    stdout: str
    stderr: str
    results: dict[str, dict] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _collect_task(results_file: Path) -> dict:
    # One file write for the whole play: a copy task per host would cost two module runs each.
    results = "dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', "
    results += "hostvars, 'case_result') | map('default', {'missing': true})))"
    return {
        "name": "Collect the case results",
        "run_once": True,
        "ansible.builtin.copy": {
            "content": "{{ " + results + " | to_json }}",
            "dest": str(results_file),
            "mode": "0600",
        },
        "check_mode": False,
        "diff": False,
    }


CONNECTION_OPTIONS = ("api_url", "api_token", "org_id", "validate_certs")
CONNECTION_OPTIONS += ("request_timeout", "max_retries")
MODULE_OPTIONS = {
    "humanitec.platform.humanitec_registry": (
        *("id", "state", "registry", "type", "enable_ci", "creds"),
        *("update_creds", "secrets", "purge_secrets", *CONNECTION_OPTIONS),
    ),
    "humanitec.platform.humanitec_registry_info": ("id", "include_creds", *CONNECTION_OPTIONS),
}


def module_task(module: str, register: str, extra_options: tuple = (), **keywords) -> dict:
    """A task passing each option found in the host's `case_args` dict to `module`.

    Options are listed one by one (a templated `args` draws a warning from Ansible); those the
    module does not know must be named in `extra_options` to reach it.
    """
    options = {
        option: f"{{{{ case_args[{option!r}] | default(omit) }}}}"
        for option in (*MODULE_OPTIONS[module], *extra_options)
    }
    return {"name": module, module: options, "register": register, **keywords}


def run_hosts(
    emulator: Emulator | None,
    hosts: dict[str, dict],
    tasks: list[dict],
    *,
    forks: int = 4,
    args: tuple[str, ...] = (),
) -> HostsRun:
    """Run `tasks` for every host (its variables are the case) in one ansible-playbook.

    The tasks leave each case's outcome in the `case_result` variable.
    """
    with tempfile.TemporaryDirectory(prefix="humanitec-reliability-") as workdir:
        results_file = Path(workdir) / "results.json"
        inventory = {"all": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}
        play = {
            "name": "Reliability cases",
            "hosts": "all",
            "gather_facts": False,
            "tasks": [*tasks, _collect_task(results_file)],
        }
        inventory_file, playbook = Path(workdir) / "inventory.yml", Path(workdir) / "play.yml"
        inventory_file.write_text(yaml.safe_dump(inventory))
        playbook.write_text(yaml.safe_dump([play], sort_keys=False))
        command = ["ansible-playbook", "-i", str(inventory_file), str(playbook)]
        completed = run_ansible([*command, "--forks", str(forks), *args], ansible_env(emulator))
        results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return HostsRun(completed.returncode, completed.stdout, completed.stderr, results)


# --- The modules' own code, run in this process ------------------------------------------


class ModuleDone(BaseException):
    """Raised by exit_json and fail_json, as SystemExit is by the real AnsibleModule."""

    def __init__(self, result: dict) -> None:
        super().__init__(result.get("msg", ""))
        self.result = result


_invocation = threading.local()


class InProcessModule:
    """Stands in for the modules' HumanitecModule so that run_module() runs in a thread.

    Arguments are validated by ansible-core's own validator; the result is not passed through
    no_log masking, so scanning it shows what the module itself puts into its result.
    """

    def __init__(self, argument_spec: dict, supports_check_mode: bool = False, **_) -> None:
        from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator

        validation = ModuleArgumentSpecValidator(argument_spec).validate(_invocation.args)
        self.warnings: list[str] = []
        self.check_mode = supports_check_mode and _invocation.check_mode
        self._diff = _invocation.diff
        if validation.error_messages:
            self.fail_json(msg=validation.errors.msg)
        self.params = validation.validated_parameters

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def exit_json(self, **result) -> None:
        raise ModuleDone({**result, "failed": False, "warnings": self.warnings})

    def fail_json(self, msg: str, **result) -> None:
        raise ModuleDone({**result, "failed": True, "msg": msg, "warnings": self.warnings})


def run_in_process(run_module, args: dict, *, check_mode=False, diff=True) -> dict:
    """One module run; an exception that escapes the module is returned as a crash."""
    _invocation.args, _invocation.check_mode, _invocation.diff = args, check_mode, diff
    try:
        run_module()
    except ModuleDone as done:
        return done.result
    except Exception:  # noqa: BLE001 - the crash itself is the finding
        return {"failed": True, "crashed": True, "msg": traceback.format_exc()}
    return {"failed": True, "crashed": True, "msg": "the module returned without exit_json"}


def run_many_in_process(jobs: list[tuple], workers: int = 32) -> list[dict]:
    """(run_module, args) pairs, run concurrently in threads; results in the same order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: run_in_process(*job), jobs))
