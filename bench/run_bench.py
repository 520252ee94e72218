# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the collection against the local API emulator (`make bench`).

Prints a Markdown report and, with --output, writes it to that file (docs/performance.md):

- per-task overhead: a loop of humanitec_registry no-ops against a loop of ansible.builtin.ping,
  and what the difference is made of (imports, payload size, the request);
- the collection against the same job written with ansible.builtin.uri, at 50 ms latency;
- scale: listing 2,000 registries, include_creds for 500, the role reconciling 200;
- the emulator's own time per request, so that it is known not to be the bottleneck.

Times come from the bench_timer callback (bench/callback_plugins): a task's time runs from its
start to its last result, so ansible-playbook's start-up is left out. Request counts come from
the emulator's request log. No figure here is asserted; tests/system/test_request_budget.py
asserts the request counts.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "bench"
sys.path.insert(0, str(REPO_ROOT / "tests" / "system"))

from harness import (  # noqa: E402
    API_TOKEN,
    BIN_DIR,
    COLLECTIONS_PATH,
    EMULATOR_SCRIPT,
    ORG_ID,
    Emulator,
    EmulatorProcess,
    ansible_env,
)

sys.path.insert(0, str(COLLECTIONS_PATH))

from ansible_collections.humanitec.platform.plugins.module_utils._client import (  # noqa: E402
    HumanitecClient,
    RegistriesApi,
)
from ansible_collections.humanitec.platform.plugins.modules import (  # noqa: E402
    humanitec_registry_info as info_module,
)

COLLECTION = "humanitec.platform"
REGISTRY_MODULE = f"{COLLECTION}.humanitec_registry"
INFO_MODULE = f"{COLLECTION}.humanitec_registry_info"
REALISTIC_LATENCY_MS = 50
PLAYBOOK_TIMEOUT = 1800
# Organizations the scale runs seed next to ORG_ID; PUT /_emulator/state may add any.
CREDS_ORG = "bench-creds"
SMALL_ORG = "bench-small"

# Targets of the brief; the report says for each whether it is met.
TARGET_OVERHEAD_RATIO = 1.25
TARGET_URI_CREATE_RATIO = 0.6
TARGET_URI_NOOP_RATIO = 1.1
TARGET_CREDS_SPEEDUP = 5.0


@dataclass
class Settings:
    """The sizes of a run; --quick shrinks them to debug the benchmark itself."""

    overhead_items: int = 50
    overhead_rounds: int = 5
    compare_items: int = 50
    compare_rounds: int = 1
    list_size: int = 2000
    creds_size: int = 500
    role_items: int = 200
    payload_runs: int = 5
    breakdown_runs: int = 10
    emulator_requests: int = 2000

    @classmethod
    def quick(cls) -> Settings:
        return cls(10, 1, 10, 1, 200, 40, 20, 2, 4, 200)


@dataclass
class Report:
    """The Markdown report, section by section, and the rows of the summary of targets."""

    sections: list[str] = field(default_factory=list)
    targets: list[list[str]] = field(default_factory=list)

    def add(self, title: str, *blocks: str) -> None:
        self.sections.append("\n\n".join([f"## {title}", *blocks]))

    def target(self, what: str, measured: float, limit: float, at_most: bool, unit: str) -> None:
        met = measured <= limit if at_most else measured >= limit
        bound = f"≤ {limit:g}{unit}" if at_most else f"≥ {limit:g}{unit}"
        verdict = "met" if met else "**missed**"
        self.targets.append([what, f"{measured:.2f}{unit}", bound, verdict])


class BenchError(Exception):
    """A run failed or measured something other than the scenario it was built for."""


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


# --- The emulator and its state ------------------------------------------------------------


def registry_items(count: int, prefix: str = "bench") -> list[dict]:
    """Registry records as the modules and uri take them: every managed field given."""
    return [
        {
            "id": f"{prefix}-{index:04d}",
            "registry": f"{prefix}-{index:04d}.registry.example.com",
            "type": "basic",
            "enable_ci": False,
        }
        for index in range(count)
    ]


def seed(emulator: Emulator, org: str, records: list[dict], with_creds: bool = False) -> None:
    """Replace one organization's registries (the built-in one kept) through PUT state."""
    state = emulator.hook("GET", "state")
    builtin = state["orgs"][ORG_ID]["registries"]["humanitec"]
    creds = {
        record["id"]: {"username": f"user-{record['id']}", "password": "bench-password"}
        for record in records
    }
    state["orgs"][org] = {
        "registries": {"humanitec": builtin, **{record["id"]: record for record in records}},
        "creds": creds if with_creds else {},
    }
    emulator.hook("PUT", "state", state)


def set_latency(emulator: Emulator, latency_ms: float) -> None:
    emulator.hook("POST", "config", {"latency_ms": latency_ms})


def fresh(emulator: Emulator, latency_ms: float = 0) -> None:
    """Back to an organization with only the built-in registry, an empty log, the latency set."""
    emulator.reset()
    set_latency(emulator, latency_ms)


def count_calls(log: list[dict]) -> dict[str, int]:
    """Requests by method and kind of path: list, record or creds."""
    counts: dict[str, int] = {}
    for entry in log:
        path = entry["path"]
        kind = "creds" if path.endswith("/creds") else "list"
        if not path.endswith("/registries") and kind != "creds":
            kind = "record"
        key = f"{entry['method']} {kind}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def describe_calls(counts: dict[str, int], per: int = 1) -> str:
    parts = [f"{key} {value / per:g}" for key, value in sorted(counts.items())]
    return ", ".join(parts) or "none"


# --- ansible-playbook runs ---------------------------------------------------------------------


@dataclass
class TaskTime:
    name: str
    seconds: float
    items: int
    changed: int
    status: str


def run_playbook(emulator: Emulator, playbook: str, variables: dict) -> list[TaskTime]:
    """Run bench/<playbook> against the emulator; the time of each task, in order."""
    with tempfile.TemporaryDirectory(prefix="humanitec-bench-") as workdir:
        vars_file = Path(workdir) / "vars.json"
        vars_file.write_text(json.dumps(variables))
        timings_file = Path(workdir) / "timings.json"
        env = ansible_env(
            emulator,
            ANSIBLE_CALLBACK_PLUGINS=str(BENCH_DIR / "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="bench_timer",
            BENCH_TIMINGS_FILE=str(timings_file),
        )
        command = [str(BIN_DIR / "ansible-playbook"), "-i", "localhost,"]
        command += [str(BENCH_DIR / playbook), "-e", f"@{vars_file}"]
        completed = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False
        )
        if completed.returncode != 0 or not timings_file.exists():
            output = (completed.stdout + completed.stderr)[-3000:]
            raise BenchError(f"{playbook} failed ({completed.returncode}):\n{output}")
        timings = json.loads(timings_file.read_text())
    return [
        TaskTime(item["name"], item["seconds"], item["items"], item["changed"], item["status"])
        for item in timings
    ]


def loop_time(tasks: list[TaskTime]) -> float:
    """The time of a play's module tasks: every task that ran a loop or a module."""
    return sum(task.seconds for task in tasks)


# --- Module payloads, run outside Ansible ------------------------------------------------------


@dataclass
class Payload:
    """An AnsiballZ file kept from a real run: the module, its arguments and its zip."""

    module: str
    path: Path
    # The connection comes from HUMANITEC_* variables, as in the playbooks.
    env: dict[str, str]
    size: int = 0
    zip_size: int = 0

    def __post_init__(self) -> None:
        self.size = self.path.stat().st_size
        match = re.search(r"zip_data='([^']+)'", self.path.read_text())
        if match is None:
            raise BenchError(f"no zip_data in {self.path}")
        self.zip_size = len(base64.b64decode(match.group(1)))


def build_payload(emulator: Emulator, module: str, args: str, workdir: Path) -> Payload:
    """`ansible localhost -m MODULE -a ARGS` with ANSIBLE_KEEP_REMOTE_FILES: its AnsiballZ file."""
    remote_tmp = Path(tempfile.mkdtemp(prefix="remote-", dir=workdir))
    env = ansible_env(emulator, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(remote_tmp))
    command = [str(BIN_DIR / "ansible"), "localhost", "-m", module, "-a", args]
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if completed.returncode != 0:
        raise BenchError(f"ansible -m {module} failed:\n{completed.stdout[-2000:]}")
    name = module.rpartition(".")[2]
    found = sorted(remote_tmp.rglob(f"AnsiballZ_{name}.py"))
    if not found:
        raise BenchError(f"no AnsiballZ_{name}.py kept in {remote_tmp}")
    return Payload(module, found[0], ansible_env(emulator))


@dataclass
class ProcessRun:
    wall: float
    cpu: float
    max_rss_kb: int
    stdout: bytes


# Started from the benchmark, a process's peak RSS would include this process's own: Linux
# carries the high-water mark of the memory a child had before exec over into the child. A
# small launcher, whose RSS is below any module's, starts the process and reports on it.
LAUNCHER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_pid, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(report, "w") as handle:
    json.dump([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
               os.waitstatus_to_exitcode(status)], handle)
"""


def run_process(argv: list[str], workdir: Path, env: dict[str, str]) -> ProcessRun:
    """Run a process with stdout to a file: its wall time, CPU time and peak RSS (wait4)."""
    out_path, err_path = workdir / "stdout", workdir / "stderr"
    report_path = workdir / "rusage.json"
    with open(out_path, "wb") as stdout, open(err_path, "wb") as stderr:
        subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, str(report_path), *argv],
            stdout=stdout,
            stderr=stderr,
            env=env,
            check=True,
        )
    wall, cpu, max_rss_kb, exit_code = json.loads(report_path.read_text())
    if exit_code != 0:
        output = (out_path.read_text() + err_path.read_text())[-2000:]
        raise BenchError(f"{argv} exited with {exit_code}:\n{output}")
    return ProcessRun(wall, cpu, max_rss_kb, out_path.read_bytes())


def run_payload(payload: Payload, workdir: Path) -> ProcessRun:
    run = run_process([sys.executable, str(payload.path)], workdir, payload.env)
    result = json.loads(run.stdout)
    if result.get("failed"):
        raise BenchError(f"{payload.module} failed: {result.get('msg')}")
    return run


def best_of(runs: list[ProcessRun]) -> ProcessRun:
    """The run with the least wall time: the one least disturbed by other load."""
    return min(runs, key=lambda run: run.wall)


# --- Machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit() -> str:
    def git(*args: str) -> str:
        completed = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return completed.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} (with uncommitted changes)" if git("status", "--porcelain") else commit


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_rows(load_at_start: str) -> list[list[str]]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ["CPU", f"{cpu_model()}, {cores} cores usable"],
        ["Memory", memory_total()],
        ["Load average (1 / 5 / 15 min) at start", load_at_start],
        ["Load average (1 / 5 / 15 min) at end", load_average()],
        ["OS", platform.platform()],
        ["Python", f"{platform.python_version()} ({sys.executable})"],
        ["ansible-core", version_of("ansible-core")],
        ["requests / urllib3", f"{version_of('requests')} / {version_of('urllib3')}"],
        ["Collection commit", git_commit()],
    ]


# --- Per-task overhead -------------------------------------------------------------------------


@dataclass
class OverheadResult:
    registry: list[float]
    ping: list[float]
    items: int
    calls: dict[str, int]

    @property
    def ratio(self) -> float:
        return statistics.median(self.registry) / statistics.median(self.ping)


def measure_overhead(emulator: Emulator, settings: Settings) -> OverheadResult:
    """Alternating loops of humanitec_registry no-ops and ansible.builtin.ping, 0 ms latency."""
    fresh(emulator)
    items = registry_items(settings.overhead_items)
    seed(emulator, ORG_ID, items)
    emulator.clear_requests()
    variables = {"bench_registries": items, "bench_rounds": settings.overhead_rounds}
    tasks = run_playbook(emulator, "overhead.yml", variables)
    registry = [task for task in tasks if task.name == "Registry no-op loop"]
    ping = [task for task in tasks if task.name == "Ping loop"]
    if any(task.changed or task.items != len(items) for task in registry + ping):
        raise BenchError(f"the overhead loops did not run as no-ops: {tasks}")
    calls = count_calls(emulator.requests())
    return OverheadResult(
        [task.seconds for task in registry], [task.seconds for task in ping], len(items), calls
    )


@dataclass
class ImportTimes:
    """Median import times of a real run by module name, in microseconds."""

    cumulative: dict[str, float]
    self_time: dict[str, float]
    top_level: float

    def of(self, name: str) -> float:
        return self.cumulative.get(name, 0.0)


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def imports_of_run(payload: Payload, workdir: Path) -> tuple[dict, dict, float]:
    """One run of the payload under `python -X importtime`: cumulative and self time by name,
    and the sum over the imports nobody else started (the run's whole import time)."""
    command = [sys.executable, "-X", "importtime", str(payload.path)]
    completed = subprocess.run(
        command, capture_output=True, text=True, cwd=workdir, env=payload.env, check=False
    )
    if completed.returncode != 0:
        raise BenchError(f"{payload.module} failed under -X importtime")
    cumulative, self_time, top_level = {}, {}, 0.0
    for match in map(IMPORT_LINE.match, completed.stderr.splitlines()):
        if match is None:
            continue
        name = match.group(4)
        cumulative[name] = cumulative.get(name, 0.0) + float(match.group(2))
        self_time[name] = self_time.get(name, 0.0) + float(match.group(1))
        # One space after the bar marks an import that no other import started.
        if len(match.group(3)) == 1:
            top_level += float(match.group(2))
    return cumulative, self_time, top_level


def import_times(payload: Payload, workdir: Path, runs: int) -> ImportTimes:
    """Median import times over `runs` real runs of the payload.

    AnsiballZ imports from the payload's zip, so the module's sources and ansible's
    module_utils are compiled on every run; requests comes from site-packages, compiled.
    """
    samples = [imports_of_run(payload, workdir) for _round in range(runs)]
    names = set().union(*(sample[0] for sample in samples))

    def medians(index: int) -> dict[str, float]:
        return {
            name: statistics.median(sample[index].get(name, 0.0) for sample in samples)
            for name in names
        }

    return ImportTimes(medians(0), medians(1), statistics.median(s[2] for s in samples))


OWN_MODULES = [
    f"ansible_collections.{COLLECTION}.plugins.module_utils._client",
    f"ansible_collections.{COLLECTION}.plugins.module_utils._module",
    f"ansible_collections.{COLLECTION}.plugins.module_utils._registry",
]


@dataclass
class Breakdown:
    ping_payload: Payload
    registry_payload: Payload
    ping_runs: list[ProcessRun]
    registry_runs: list[ProcessRun]
    ping_imports: ImportTimes
    registry_imports: ImportTimes
    round_trip: float
    thread_pool_imported: dict[str, bool]


def measure_breakdown(emulator: Emulator, settings: Settings, workdir: Path) -> Breakdown:
    """The two modules outside Ansible: payload size, run time and what their imports cost."""
    fresh(emulator)
    item = registry_items(1)[0]
    seed(emulator, ORG_ID, [item], with_creds=True)
    args = f"id={item['id']} registry={item['registry']} type={item['type']}"
    registry = build_payload(emulator, REGISTRY_MODULE, args, workdir)
    ping = build_payload(emulator, "ansible.builtin.ping", "", workdir)
    ping_runs, registry_runs = [], []
    for _round in range(settings.breakdown_runs):
        ping_runs.append(run_payload(ping, workdir))
        registry_runs.append(run_payload(registry, workdir))
    thread_pool = {}
    for include_creds in ("false", "true"):
        info = build_payload(emulator, INFO_MODULE, f"include_creds={include_creds}", workdir)
        names = imports_of_run(info, workdir)[0]
        thread_pool[include_creds] = "concurrent.futures" in names
    return Breakdown(
        ping,
        registry,
        ping_runs,
        registry_runs,
        import_times(ping, workdir, settings.breakdown_runs),
        import_times(registry, workdir, settings.breakdown_runs),
        client_get_time(emulator, item["id"], 50),
        thread_pool,
    )


def get_times(emulator: Emulator, path: str, count: int, reuse: bool) -> list[float]:
    """Seconds of each GET from a plain http.client connection: one kept alive for all of
    them (reuse), or a new connection for each (set-up included)."""
    host, _colon, port = emulator.url.removeprefix("http://").partition(":")
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Accept": "application/json"}
    connection, times = None, []
    try:
        for _round in range(count):
            started = time.perf_counter()
            connection = connection or http.client.HTTPConnection(host, int(port), timeout=30)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - started)
            if response.status != 200:
                raise BenchError(f"GET {path} returned {response.status}")
            if not reuse:
                connection.close()
                connection = None
    finally:
        if connection is not None:
            connection.close()
    return times[1:] if reuse and len(times) > 1 else times


def client_get_time(emulator: Emulator, registry_id: str, count: int) -> float:
    """Median seconds for what the module does per run: build the client, GET, close."""
    times = []
    for _round in range(count):
        started = time.perf_counter()
        client = HumanitecClient(emulator.url, API_TOKEN)
        RegistriesApi(client, ORG_ID).get(registry_id)
        client.close()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- Against ansible.builtin.uri ---------------------------------------------------------------

APPROACHES = {"uri": "uri_reconcile.yml", "module": "module_reconcile.yml"}
PHASES = ("create", "no-op")


@dataclass
class CompareResult:
    items: int
    times: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)

    def median(self, approach: str, phase: str) -> float:
        return statistics.median(self.times[f"{approach} {phase}"])

    def ratio(self, phase: str) -> float:
        return self.median("module", phase) / self.median("uri", phase)


def measure_against_uri(emulator: Emulator, settings: Settings) -> CompareResult:
    """The same job with uri and with the module: a creating run, then a no-op rerun."""
    items = registry_items(settings.compare_items)
    result = CompareResult(len(items))
    for round_index in range(settings.compare_rounds):
        order = list(APPROACHES) if round_index % 2 == 0 else list(reversed(APPROACHES))
        for approach in order:
            fresh(emulator, REALISTIC_LATENCY_MS)
            for phase, expected_changes in zip(PHASES, (len(items), 0)):
                progress(f"  {approach}, {phase} run (round {round_index + 1})")
                emulator.clear_requests()
                tasks = run_playbook(emulator, APPROACHES[approach], {"bench_registries": items})
                changed = sum(task.changed for task in tasks)
                if changed != expected_changes:
                    raise BenchError(f"{approach} {phase}: {changed} items changed: {tasks}")
                result.times.setdefault(f"{approach} {phase}", []).append(loop_time(tasks))
                result.calls[f"{approach} {phase}"] = count_calls(emulator.requests())
            if len(emulator.registries()) != len(items) + 1:
                raise BenchError(f"{approach} did not create every registry")
    return result


# --- Scale ---------------------------------------------------------------------------------------


@dataclass
class ListResult:
    size: int
    big: ProcessRun
    small: ProcessRun
    calls: dict[str, int]
    adhoc_seconds: float


def timed_payload(
    emulator: Emulator, module: str, args: str, workdir: Path
) -> tuple[Payload, float]:
    started = time.perf_counter()
    payload = build_payload(emulator, module, args, workdir)
    return payload, time.perf_counter() - started


def measure_list(emulator: Emulator, settings: Settings, workdir: Path) -> ListResult:
    """humanitec_registry_info listing many registries, against an organization with one."""
    fresh(emulator)
    seed(emulator, ORG_ID, registry_items(settings.list_size))
    seed(emulator, SMALL_ORG, [])
    big, adhoc_seconds = timed_payload(emulator, INFO_MODULE, f"org_id={ORG_ID}", workdir)
    small = build_payload(emulator, INFO_MODULE, f"org_id={SMALL_ORG}", workdir)
    emulator.clear_requests()
    big_run = best_of([run_payload(big, workdir) for _round in range(settings.payload_runs)])
    calls = count_calls(emulator.requests())
    listed = len(json.loads(big_run.stdout)["registries"])
    if listed != settings.list_size + 1:
        raise BenchError(f"the list held {listed} registries")
    small_run = best_of([run_payload(small, workdir) for _round in range(settings.payload_runs)])
    per_run = {key: value // settings.payload_runs for key, value in calls.items()}
    return ListResult(settings.list_size, big_run, small_run, per_run, adhoc_seconds)


@dataclass
class CredsRun:
    label: str
    workers: int
    seconds: float
    requests: int
    connections: int


@dataclass
class CredsResult:
    size: int
    module_run: CredsRun
    in_process: list[CredsRun]

    def run_with(self, workers: int) -> CredsRun:
        return next(run for run in self.in_process if run.workers == workers)


def creds_in_process(emulator: Emulator, org: str, workers: int, label: str) -> CredsRun:
    """The info module's own functions, in this process, with `workers` threads and a pool of
    as many connections; workers=1 is the sequential loop."""
    client = HumanitecClient(emulator.url, API_TOKEN, pool_size=workers)
    api = RegistriesApi(client, org)
    default_workers = info_module.CREDS_WORKERS
    emulator.hook("DELETE", "stats")
    info_module.CREDS_WORKERS = workers
    try:
        started = time.perf_counter()
        registries = info_module.read_registries(api, None)
        info_module.add_creds(api, registries)
        seconds = time.perf_counter() - started
    finally:
        info_module.CREDS_WORKERS = default_workers
        client.close()
    stats = emulator.hook("GET", "stats")
    return CredsRun(label, workers, seconds, stats["requests"], stats["connections"])


def measure_creds(emulator: Emulator, settings: Settings, workdir: Path) -> CredsResult:
    """include_creds at 50 ms: the module (concurrent) against the same client sequentially."""
    fresh(emulator)
    seed(emulator, CREDS_ORG, registry_items(settings.creds_size, "creds"), with_creds=True)
    args = f"org_id={CREDS_ORG} include_creds=true"
    payload = build_payload(emulator, INFO_MODULE, args, workdir)
    set_latency(emulator, REALISTIC_LATENCY_MS)
    emulator.hook("DELETE", "stats")
    run = run_payload(payload, workdir)
    stats = emulator.hook("GET", "stats")
    workers = info_module.CREDS_WORKERS
    module_run = CredsRun(
        "the module (AnsiballZ payload run directly)",
        workers,
        run.wall,
        stats["requests"],
        stats["connections"],
    )
    in_process = [
        creds_in_process(emulator, CREDS_ORG, 1, "sequential: same client, pool of 1"),
        creds_in_process(emulator, CREDS_ORG, workers, "concurrent: CREDS_WORKERS threads"),
        creds_in_process(emulator, CREDS_ORG, workers * 2, "what-if: twice CREDS_WORKERS"),
    ]
    return CredsResult(settings.creds_size, module_run, in_process)


@dataclass
class RoleResult:
    items: int
    created: int
    updated: int
    unchanged: int
    deleted: int
    apply_seconds: float
    delete_seconds: float
    total_seconds: float
    calls: dict[str, int]


def role_state(count: int) -> tuple[list[dict], list[dict], dict[str, int]]:
    """The items to apply and the records to seed: a quarter missing, a quarter differing,
    half identical, and one unlisted registry for every 20 items."""
    items = registry_items(count, "role")
    missing, differing = count // 4, count // 4
    existing = [dict(item) for item in items[missing:]]
    for record in existing[:differing]:
        record["enable_ci"] = True
    extras = registry_items(max(count // 20, 1), "unlisted")
    plan = {
        "created": missing,
        "updated": differing,
        "unchanged": count - missing - differing,
        "deleted": len(extras),
    }
    return items, existing + extras, plan


def measure_role(emulator: Emulator, settings: Settings) -> RoleResult:
    """The registries role in exclusive mode, at 50 ms latency."""
    items, seeded, plan = role_state(settings.role_items)
    fresh(emulator, REALISTIC_LATENCY_MS)
    seed(emulator, ORG_ID, seeded)
    emulator.clear_requests()
    tasks = run_playbook(emulator, "role_reconcile.yml", {"bench_registries": items})
    apply = next(
        task for task in tasks if task.name.endswith("Make each listed registry match its item")
    )
    delete = next(
        task for task in tasks if task.name.endswith("Delete each registry the list does not name")
    )
    if apply.changed != plan["created"] + plan["updated"] or delete.changed != plan["deleted"]:
        raise BenchError(f"the role changed other registries than planned: {tasks}")
    if set(emulator.registries()) != {"humanitec", *(item["id"] for item in items)}:
        raise BenchError("the role left registries that do not match the list")
    return RoleResult(
        len(items),
        plan["created"],
        plan["updated"],
        plan["unchanged"],
        plan["deleted"],
        apply.seconds,
        delete.seconds,
        loop_time(tasks),
        count_calls(emulator.requests()),
    )


# --- The emulator itself -------------------------------------------------------------------------


@dataclass
class EmulatorResult:
    records: int
    keep_alive_get: list[float]
    new_connection_get: list[float]
    keep_alive_list: list[float]
    handler_get: float
    handler_list: float


def load_emulator_module():
    spec = importlib.util.spec_from_file_location("humanitec_emulator", EMULATOR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class bodies run.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def handler_time(emulator_module, store, path: str, count: int) -> float:
    """Median seconds of the emulator's own handling of a GET, with no socket: route, auth,
    copy of the record and JSON encoding."""
    state = emulator_module.Emulator(API_TOKEN, 0, store)
    times = []
    for _round in range(count):
        started = time.perf_counter()
        reply = emulator_module.serve_api(state, "GET", path, f"Bearer {API_TOKEN}", b"")
        reply.body()
        times.append(time.perf_counter() - started)
        if reply.status != 200:
            raise BenchError(f"the emulator answered GET {path} with {reply.status}")
    return statistics.median(times)


def measure_emulator(emulator: Emulator, settings: Settings) -> EmulatorResult:
    """The emulator's time per request: over HTTP at 0 ms, and inside its handler."""
    fresh(emulator)
    records = registry_items(settings.list_size)
    seed(emulator, ORG_ID, records)
    one = f"/orgs/{ORG_ID}/registries/{records[0]['id']}"
    everything = f"/orgs/{ORG_ID}/registries"
    count = settings.emulator_requests
    keep_alive = get_times(emulator, one, count, reuse=True)
    new_connection = get_times(emulator, one, max(count // 10, 10), reuse=False)
    listing = get_times(emulator, everything, 20, reuse=True)

    emulator_module = load_emulator_module()
    store = emulator_module.RegistryStore("bench", None)
    store.replace(emulator.hook("GET", "state"))
    return EmulatorResult(
        len(records),
        keep_alive,
        new_connection,
        listing,
        handler_time(emulator_module, store, one, count),
        handler_time(emulator_module, store, everything, 20),
    )


# --- Rendering ---------------------------------------------------------------------------------


def kib(size: float) -> str:
    return f"{size / 1024:.0f} KiB"


def ms_of_us(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f} ms"


def mib(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def render_overhead(report: Report, result: OverheadResult, breakdown: Breakdown) -> None:
    rounds = [
        [index + 1, secs(registry), secs(ping), f"{registry / ping:.2f}"]
        for index, (registry, ping) in enumerate(zip(result.registry, result.ping))
    ]
    registry_median = statistics.median(result.registry)
    ping_median = statistics.median(result.ping)
    rounds.append(["**median**", secs(registry_median), secs(ping_median), f"{result.ratio:.2f}"])
    fastest = min(result.registry), min(result.ping)
    rounds.append(
        [
            "fastest of each column",
            secs(fastest[0]),
            secs(fastest[1]),
            f"{fastest[0] / fastest[1]:.2f}",
        ]
    )
    report.target(
        "Per-task overhead: registry no-op loop / ping loop",
        result.ratio,
        TARGET_OVERHEAD_RATIO,
        True,
        "",
    )
    per_item = (registry_median - ping_median) / result.items
    calls = describe_calls(result.calls, result.items * len(result.registry))
    report.add(
        f"Per-task overhead ({result.items}-item loops, 0 ms latency)",
        f"One ansible-playbook run alternates a loop of {result.items} humanitec_registry "
        f"no-ops (each record already matches) with a loop of {result.items} "
        "ansible.builtin.ping, on localhost (connection local, the venv's Python), "
        f"rounds: {len(result.registry)} (bench/overhead.yml). Requests per registry item: "
        f"{calls}.",
        table(
            ["round", f"humanitec_registry × {result.items}", f"ping × {result.items}", "ratio"],
            rounds,
        ),
        f"Per item: humanitec_registry {ms(registry_median / result.items)}, ping "
        f"{ms(ping_median / result.items)}; the gap is {ms(per_item)} per item.",
        render_breakdown(breakdown, per_item),
    )


def median_of(runs: list[ProcessRun], attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in runs)


def render_breakdown(breakdown: Breakdown, loop_gap: float) -> str:
    pings, ours = breakdown.ping_runs, breakdown.registry_runs
    ping_imports, our_imports = breakdown.ping_imports, breakdown.registry_imports
    own = sum(our_imports.self_time.get(name, 0.0) for name in OWN_MODULES)
    cpu_gap = median_of(ours, "cpu") - median_of(pings, "cpu")
    requests_import = our_imports.of("requests")

    def row(label: str, ping_value: float, our_value: float, unit) -> list[str]:
        return [label, unit(ping_value), unit(our_value), unit(our_value - ping_value)]

    rows = [
        row(
            "AnsiballZ payload file",
            breakdown.ping_payload.size,
            breakdown.registry_payload.size,
            kib,
        ),
        row(
            "zip inside it",
            breakdown.ping_payload.zip_size,
            breakdown.registry_payload.zip_size,
            kib,
        ),
        row(
            f"process wall time (best of {len(pings)})", best_of(pings).wall, best_of(ours).wall, ms
        ),
        row(
            f"process CPU time (median of {len(pings)})",
            median_of(pings, "cpu"),
            median_of(ours, "cpu"),
            ms,
        ),
        row(
            "process peak RSS (median)",
            median_of(pings, "max_rss_kb") * 1024,
            median_of(ours, "max_rss_kb") * 1024,
            mib,
        ),
        row(
            "all imports of a run (`-X importtime`, median)",
            ping_imports.top_level,
            our_imports.top_level,
            ms_of_us,
        ),
    ]
    detail = [
        [
            "ansible.module_utils.basic (both modules import it)",
            ms_of_us(our_imports.of("ansible.module_utils.basic")),
        ],
        ["requests, with urllib3, charset_normalizer, idna, certifi", ms_of_us(requests_import)],
        ["of which urllib3", ms_of_us(our_imports.of("urllib3"))],
        [
            "the collection's module_utils (_client, _module, _registry; own time, compiled "
            "from the zip)",
            ms_of_us(own),
        ],
        [
            "one request as the module sends it: build the client, connect, GET, close "
            "(in-process median)",
            ms(breakdown.round_trip),
        ],
    ]
    rest = cpu_gap - (requests_import + own) / 1e6 - breakdown.round_trip
    rest_text = ", which together account for the difference, within the noise between runs"
    if rest > max(0.005, 0.1 * cpu_gap):
        rest_text = (
            f"; the remaining {ms(rest)} has no single cause: the module's own work (argument "
            "checks, comparison, result), interpreter work outside import statements (garbage "
            "collection, shutdown with more modules loaded) and noise between runs"
        )
    pool = breakdown.thread_pool_imported
    return "\n\n".join(
        [
            "What the gap is made of: each module's AnsiballZ payload, kept from a real run "
            "(ANSIBLE_KEEP_REMOTE_FILES=1) and run directly, the two alternating; the imports of "
            "such runs under `python -X importtime`. AnsiballZ imports from the payload's zip, "
            "so the sources in it are compiled on every run.",
            table(["", "ansible.builtin.ping", "humanitec_registry", "difference"], rows),
            table(["in a humanitec_registry run", "time"], detail),
            f"The loops differ by {ms(loop_gap)} per item. Outside Ansible a humanitec_registry "
            f"process takes {ms(cpu_gap)} more CPU than a ping process: importing requests "
            f"({ms_of_us(requests_import)}), the collection's own module_utils "
            f"({ms_of_us(own)}) and the request ({ms(breakdown.round_trip)}){rest_text}. "
            "The collection's module_utils do "
            "no work at import time beyond compiling two regular expressions, and import nothing "
            "a run does not use: requests, urllib3 and the standard library modules they name are "
            "all on the path of every request. The creds thread pool (concurrent.futures) is "
            "imported by a "
            f"humanitec_registry_info run with include_creds: {yes_no(pool['true'])}; without: "
            f"{yes_no(pool['false'])}. Ansible's own per-task work is the same for both, apart "
            "from a larger payload to copy and three arguments to template.",
        ]
    )


def rounds_text(rounds: int) -> str:
    if rounds == 1:
        return "One round: uri first, then the module, each a creating run and a rerun."
    return f"Median of {rounds} rounds, which of the two goes first alternating."


def render_against_uri(report: Report, result: CompareResult, settings: Settings) -> None:
    latency = REALISTIC_LATENCY_MS / 1000
    rows, net_rows = [], []
    for phase, limit in zip(PHASES, (TARGET_URI_CREATE_RATIO, TARGET_URI_NOOP_RATIO)):
        uri_calls, our_calls = result.calls[f"uri {phase}"], result.calls[f"module {phase}"]
        per_registry = (
            f"{describe_calls(uri_calls, result.items)} / {describe_calls(our_calls, result.items)}"
        )
        rows.append(
            [
                "creating run" if phase == "create" else "no-op rerun",
                secs(result.median("uri", phase)),
                secs(result.median("module", phase)),
                f"{result.ratio(phase):.2f}",
                f"≤ {limit:g}",
                per_registry,
            ]
        )
        report.target(
            f"Against uri, {rows[-1][0]}: ours / uri", result.ratio(phase), limit, True, ""
        )
        # A uri item is one module run per request; one humanitec_registry item sends all.
        for approach, calls, processes in (
            ("uri", uri_calls, sum(uri_calls.values())),
            ("humanitec_registry", our_calls, result.items),
        ):
            key = "uri" if approach == "uri" else "module"
            waiting = sum(calls.values()) * latency
            net = (result.median(key, phase) - waiting) / processes
            net_rows.append([rows[-1][0], approach, processes, secs(waiting), ms(net)])
    report.add(
        f"Against ansible.builtin.uri ({result.items} registries, "
        f"{REALISTIC_LATENCY_MS} ms latency)",
        "The same job written without the collection (bench/uri_reconcile.yml: a uri GET per "
        "registry, then a uri POST for each one missing and a uri PATCH for each one whose "
        "fields differ, the comparison in Jinja) against a loop of humanitec_registry "
        "(bench/module_reconcile.yml; the loop, not the role, is measured here). "
        f"{rounds_text(settings.compare_rounds)} Times are the play's tasks, "
        "ansible-playbook's start-up (the same for both) left out.",
        table(
            [
                "run",
                "ansible.builtin.uri",
                "humanitec_registry",
                "ours / uri",
                "target",
                "requests per registry (uri / ours)",
            ],
            rows,
        ),
        "Not the same job: uri cannot compare credentials (the creds endpoint is a separate "
        "read per registry, and the comparison would print the password) and shows no diff; "
        "the module compares creds when given and supports check mode and --diff.",
        "Where the time goes: every request uri sends is a task item, so a module run of its "
        "own, while one humanitec_registry run sends both of its requests. Time per module "
        "run once the latency is taken off:",
        table(["run", "approach", "module runs", "waiting on the API", "per module run"], net_rows),
    )


def render_list(report: Report, result: ListResult) -> None:
    rows = [
        [
            f"{result.size + 1} (seeded)",
            describe_calls(result.calls),
            ms(result.big.wall),
            ms(result.big.cpu),
            mib(result.big.max_rss_kb * 1024),
        ],
        [
            "1 (built-in only)",
            "GET list 1",
            ms(result.small.wall),
            ms(result.small.cpu),
            mib(result.small.max_rss_kb * 1024),
        ],
    ]
    report.add(
        f"Scale: listing {result.size} registries (humanitec_registry_info, 0 ms latency)",
        "The module's AnsiballZ payload run directly, best of several runs; peak RSS is the "
        "module process's own (os.wait4 rusage of that process, not Ansible's).",
        table(
            [
                "registries in the organization",
                "requests",
                "module process wall time",
                "CPU time",
                "peak RSS",
            ],
            rows,
        ),
        f"The same listing through `ansible localhost -m {INFO_MODULE}` takes "
        f"{secs(result.adhoc_seconds)} end to end, Ansible's start-up included.",
    )


def render_creds(report: Report, result: CredsResult) -> None:
    sequential = result.run_with(1)
    workers = result.module_run.workers
    rows = []
    for run in [result.module_run, *result.in_process]:
        speedup = sequential.seconds / run.seconds
        rows.append(
            [
                run.label,
                run.workers,
                secs(run.seconds),
                run.requests,
                run.connections,
                f"{speedup:.1f}×",
            ]
        )
    module_speedup = sequential.seconds / result.module_run.seconds
    report.target(
        f"include_creds for {result.size}: sequential / the module",
        module_speedup,
        TARGET_CREDS_SPEEDUP,
        False,
        "×",
    )
    ideal = float(workers)
    verdict = (
        f"below the {TARGET_CREDS_SPEEDUP:g}× target"
        if ideal < TARGET_CREDS_SPEEDUP
        else f"enough for the {TARGET_CREDS_SPEEDUP:g}× target"
    )
    report.add(
        f"Scale: include_creds for {result.size} registries ({REALISTIC_LATENCY_MS} ms latency)",
        "The module (its payload run directly, so its process start-up is included) against "
        "the info module's own read_registries and add_creds in this process over one "
        "HumanitecClient, with 1, CREDS_WORKERS and twice CREDS_WORKERS threads (the pool "
        "size follows). TCP connections are those the emulator saw carrying API requests.",
        table(["run", "threads", "time", "requests", "TCP connections", "speedup"], rows),
        f"With a fixed latency, {workers} concurrent requests can be at most {ideal:g}× as "
        f"fast as one at a time: CREDS_WORKERS = {workers} in humanitec_registry_info caps "
        f"the speedup at {ideal:g}×, {verdict}. The what-if "
        "row shows what a larger pool would give; raising it also raises the load on the "
        "API (more concurrent connections per task), so it is left to the maintainers.",
    )


def render_role(report: Report, result: RoleResult) -> None:
    list_calls = result.calls.get("GET list", 0)
    rows = [
        [
            result.items,
            f"{result.created} / {result.updated} / {result.unchanged} / {result.deleted}",
            secs(result.apply_seconds),
            ms(result.apply_seconds / result.items),
            secs(result.delete_seconds),
            secs(result.total_seconds),
            sum(result.calls.values()),
            list_calls,
        ]
    ]
    report.add(
        f"Scale: the registries role reconciling {result.items} registries "
        f"({REALISTIC_LATENCY_MS} ms latency, exclusive mode)",
        "bench/role_reconcile.yml applies humanitec.platform.registries with "
        "humanitec_registries_exclusive: true to an organization where a quarter of the "
        "listed registries are missing, a quarter differ and half already match, plus "
        "unlisted ones to delete.",
        table(
            [
                "items",
                "created / updated / unchanged / deleted",
                "apply loop",
                "per item",
                "delete loop",
                "whole role (tasks)",
                "requests",
                "list calls",
            ],
            rows,
        ),
        f"Requests by kind: {describe_calls(result.calls)}. Exclusive mode lists the "
        f"organization with {list_calls} call (GET /orgs/{ORG_ID}/registries in the "
        "emulator's request log), not one per registry.",
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def render_emulator(report: Report, result: EmulatorResult, module_item: float | None) -> None:
    def us(seconds: float) -> str:
        return f"{seconds * 1e6:.0f} µs"

    rows = [
        [
            "GET one registry, one keep-alive connection (HTTP, client included)",
            len(result.keep_alive_get),
            us(statistics.median(result.keep_alive_get)),
            us(percentile(result.keep_alive_get, 0.95)),
        ],
        [
            "GET one registry, a new connection each",
            len(result.new_connection_get),
            us(statistics.median(result.new_connection_get)),
            us(percentile(result.new_connection_get, 0.95)),
        ],
        [
            f"GET the list of {result.records + 1} registries, keep-alive",
            len(result.keep_alive_list),
            us(statistics.median(result.keep_alive_list)),
            us(percentile(result.keep_alive_list, 0.95)),
        ],
        ["handler only, GET one registry (no socket)", "", us(result.handler_get), ""],
        [f"handler only, GET the list of {result.records + 1}", "", us(result.handler_list), ""],
    ]
    share = ""
    if module_item:
        fraction = statistics.median(result.new_connection_get) / module_item
        share = (
            f" A humanitec_registry no-op item takes {ms(module_item)} in the overhead "
            f"loop, so the emulator's part of it is {fraction:.2%}."
        )
    report.add(
        "The emulator's own time (0 ms latency)",
        "Measured from one plain http.client connection (so requests' own overhead is left "
        "out), and inside the emulator's request handler with no socket at all.",
        table(["request", "count", "median", "p95"], rows),
        "The emulator is a threaded HTTP/1.1 server: one thread per connection, so the "
        "concurrent creds requests are served in parallel and the latency they wait is "
        f"slept, not computed.{share}",
    )


@dataclass
class Results:
    """What the sections measured; None for a section left out with --only."""

    overhead: OverheadResult | None = None
    breakdown: Breakdown | None = None
    against_uri: CompareResult | None = None
    listing: ListResult | None = None
    creds: CredsResult | None = None
    role: RoleResult | None = None
    emulator: EmulatorResult | None = None


def budget_rows(results: Results) -> list[list]:
    """Requests the runs sent, against the budget tests/system/test_request_budget.py asserts."""
    rows = []

    def add(scenario: str, measured: float, budget: float, shown: str) -> None:
        rows.append([scenario, shown, f"{budget:g}", "yes" if measured == budget else "**no**"])

    if results.overhead:
        overhead = results.overhead
        per_item = sum(overhead.calls.values()) / (overhead.items * len(overhead.registry))
        add("humanitec_registry no-op, per item (overhead loops)", per_item, 1, f"{per_item:g}")
    if results.against_uri:
        for phase, budget in zip(PHASES, (2, 1)):
            calls = results.against_uri.calls[f"module {phase}"]
            per_item = sum(calls.values()) / results.against_uri.items
            shown = describe_calls(calls, results.against_uri.items)
            add(f"humanitec_registry {phase}, per registry", per_item, budget, shown)
    if results.listing:
        measured = sum(results.listing.calls.values())
        add(
            f"humanitec_registry_info, list of {results.listing.size + 1}",
            measured,
            1,
            describe_calls(results.listing.calls),
        )
    if results.creds:
        run = results.creds.module_run
        add(
            f"humanitec_registry_info include_creds, {results.creds.size + 1} registries",
            run.requests,
            results.creds.size + 2,
            f"{run.requests} requests over {run.connections} TCP connections "
            f"(CREDS_WORKERS = {run.workers})",
        )
    if results.role:
        list_calls = results.role.calls.get("GET list", 0)
        add("registries role, exclusive: list calls", list_calls, 1, str(list_calls))
    return rows


# tests/docs runs the shell blocks of docs/*.md; this one would run the benchmark itself.
REPRODUCE = """<!-- docs-test: skip (the benchmark runs for ten minutes and rewrites this file) -->

```sh
make collection   # once: the collection at .cache/collections, where Ansible finds it
make bench        # every section, ~10 min on an idle 2-core machine; rewrites this file
.venv/bin/python bench/run_bench.py --output docs/performance.md   # the same, without make
.venv/bin/python bench/run_bench.py --only overhead --quick         # one section, small sizes
.venv/bin/pytest tests/system/test_request_budget.py -q             # the request budget, asserted
```"""

SECTIONS = ("overhead", "uri", "scale", "role", "emulator")


def measure(emulator: Emulator, settings: Settings, only: set[str], workdir: Path) -> Results:
    """Run the selected sections in order; each fills one field of the results."""
    steps = [
        ("overhead", "overhead", lambda: measure_overhead(emulator, settings)),
        ("overhead", "breakdown", lambda: measure_breakdown(emulator, settings, workdir)),
        ("uri", "against_uri", lambda: measure_against_uri(emulator, settings)),
        ("scale", "listing", lambda: measure_list(emulator, settings, workdir)),
        ("scale", "creds", lambda: measure_creds(emulator, settings, workdir)),
        ("role", "role", lambda: measure_role(emulator, settings)),
        ("emulator", "emulator", lambda: measure_emulator(emulator, settings)),
    ]
    results = Results()
    for section, name, step in steps:
        if section in only:
            progress(f"{name} ...")
            started = time.perf_counter()
            setattr(results, name, step())
            progress(f"{name}: {time.perf_counter() - started:.0f} s")
    return results


def render(
    results: Results, settings: Settings, load_at_start: str, elapsed: float, quick: bool
) -> str:
    report = Report()
    if results.overhead and results.breakdown:
        render_overhead(report, results.overhead, results.breakdown)
    if results.against_uri:
        render_against_uri(report, results.against_uri, settings)
    if results.listing:
        render_list(report, results.listing)
    if results.creds:
        render_creds(report, results.creds)
    if results.role:
        render_role(report, results.role)
    if results.emulator:
        overhead = results.overhead
        item = statistics.median(overhead.registry) / overhead.items if overhead else None
        render_emulator(report, results.emulator, item)
    head = [
        "# Performance",
        "Generated by `make bench` (bench/run_bench.py) against the local API emulator "
        "(tests/emulator/humanitec_emulator.py) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, in {elapsed / 60:.1f} minutes. "
        "Rerun it rather than editing this file. Times are wall-clock times on the machine "
        "below; its load average says how much else was running. No test asserts a time: "
        "tests/system/test_request_budget.py asserts the request counts.",
    ]
    if quick:
        head.append("**--quick run: smaller sizes and fewer rounds; not for comparison.**")
    head += [
        "## How to reproduce",
        REPRODUCE,
        "## Machine and versions",
        table(["", ""], machine_rows(load_at_start)),
        "## Targets",
        table(["measure", "measured", "target", ""], report.targets),
        "On a shared machine other work moves these figures: compare the load averages above, "
        "and the spread between rounds in the overhead table, before reading a miss or a hit.",
        "## Request budget (counted in the emulator's request log)",
        table(["scenario", "measured", "budget", "as budgeted"], budget_rows(results)),
    ]
    return "\n\n".join(head + report.sections) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument("--quick", action="store_true", help="small sizes, to debug the bench")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    only = set(args.only or SECTIONS)
    load_at_start = load_average()
    started = time.perf_counter()
    process = EmulatorProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="humanitec-bench-") as workdir:
            results = measure(Emulator(process), settings, only, Path(workdir))
    except BenchError as error:
        print(f"run_bench: {error}", file=sys.stderr)
        return 1
    finally:
        process.stop()
    text = render(results, settings, load_at_start, time.perf_counter() - started, args.quick)
    print(text, end="")
    if args.output:
        args.output.write_text(text)
        progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
