# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every playbook and command in README.md and docs/*.md runs, against the API emulator.

Each document is run top to bottom the way a reader would follow it: in a fresh copy of the
repository (importable as the collection, so `tests/emulator/...` and builds work), against a
fresh emulator whose address, token and organization are in HUMANITEC_API_PREFIX,
HUMANITEC_TOKEN and HUMANITEC_ORG, with the variables a block exports kept for the next.

- ```yaml blocks that are plays run with ansible-playbook; lists of tasks are wrapped in a
  play first. Vaulted variables (vault_*) are given as extra variables.
- ```console / ```bash / ```sh / ```shell blocks run in bash (`set -e`); with `$ ` prompts,
  only the prompted lines are commands. A `...` placeholder becomes the test token. A command
  that starts the emulator runs in the background (on a free port in place of the one shown)
  and is stopped when the document is done.
- Any other language (```text, ```json...) is not run. A fence without a language is an error.

A marker comment on the line before a block (blank lines allowed) changes that:

    <!-- docs-test: skip (why) -->       not run; the reason is required and reported
    <!-- docs-test: not-code -->         not run (YAML must still parse)
    <!-- docs-test: file NAME -->        written to NAME in the scratch directory, not run;
                                         a later command of the document must use it
    <!-- docs-test: fails -->            must fail (exit status not 0)
    <!-- docs-test: output -->           on a ```text block after a run block: each of its
                                         lines must appear in that block's output, in order
                                         (`...` matches anything, spaces are normalised)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "system"))
from harness import BIN_DIR, EmulatorProcess, ansible_env  # noqa: E402

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK_TIMEOUT = 300
MAX_SKIPS = 12

COMMAND_LANGUAGES = {"console", "bash", "sh", "shell"}
YAML_LANGUAGES = {"yaml", "yml"}
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<kind>[\w-]+)\s*(?P<arg>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)\s*$")
MARKER_KINDS = {"skip", "not-code", "file", "fails", "output"}
# `...` standing for a value (after `=`, a space or a quote) is a placeholder for the token.
PLACEHOLDER = re.compile(r"(?<=[=\s\"'])\.\.\.(?=$|[\s\"'])", re.M)
EMULATOR_COMMAND = re.compile(r"^\s*(?:\S+=\S+\s+)*python3?\s+\S*humanitec_emulator\.py\b")
PORT_OPTION = re.compile(r"--port[ =](\d+)")
VAULT_VARIABLE = re.compile(r"\bvault_\w+")
WORKSPACE_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".cache",
    "build",
    ".pytest_cache",
    ".ruff_cache",
    ".ansible",
    "__pycache__",
    "*.pyc",
    "*.tar.gz",
    "Makefile",
)


@dataclass
class Block:
    document: Path
    line: int
    language: str
    text: str
    marker: str = ""
    marker_arg: str = ""

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"

    @property
    def runs(self) -> bool:
        """Whether the block is executed (as commands or as a play)."""
        if self.marker in ("skip", "not-code", "file"):
            return False
        return self.language in COMMAND_LANGUAGES or self.language in YAML_LANGUAGES


def parse_blocks(document: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the marker comment before it."""
    blocks: list[Block] = []
    lines = document.read_text(encoding="utf-8").splitlines()
    marker = None
    index = 0
    while index < len(lines):
        line = lines[index]
        found_marker = MARKER.match(line)
        opening = FENCE.match(line)
        if found_marker:
            marker = (found_marker["kind"], found_marker["arg"])
        elif opening:
            indent, fence = opening["indent"], opening["fence"]
            body = []
            index += 1
            while index < len(lines) and lines[index].strip() != fence:
                body.append(lines[index][len(indent) :] if lines[index].strip() else "")
                index += 1
            kind, arg = marker or ("", "")
            blocks.append(
                Block(
                    document,
                    index - len(body),
                    opening["lang"].lower(),
                    "\n".join(body) + "\n",
                    kind,
                    arg,
                )
            )
            marker = None
        elif line.strip():
            marker = None
        index += 1
    return blocks


ALL_BLOCKS = [block for document in DOCUMENTS for block in parse_blocks(document)]


# --- Turning blocks into runs ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_map(blocks: list[Block]) -> dict[str, str]:
    """A free port for each fixed port a document's emulator commands listen on."""
    ports = {}
    for block in blocks:
        for line in block.text.splitlines():
            if EMULATOR_COMMAND.search(line.removeprefix("$ ")):
                for port in PORT_OPTION.findall(line):
                    if port != "0" and port not in ports:
                        ports[port] = str(free_port())
    return ports


def with_ports(text: str, ports: dict[str, str]) -> str:
    for shown, used in ports.items():
        text = re.sub(rf"(?<=127\.0\.0\.1:){shown}\b|(?<=localhost:){shown}\b", used, text)
        text = re.sub(rf"(--port[ =]){shown}\b", rf"\g<1>{used}", text)
    return text


def command_lines(text: str) -> list[str]:
    """The commands of a console block: the `$ ` lines when there are any, else every line."""
    lines = text.splitlines()
    if not any(line.startswith("$ ") for line in lines):
        return lines
    commands, continued = [], False
    for line in lines:
        if line.startswith("$ ") or continued:
            commands.append(line.removeprefix("$ "))
            continued = line.endswith("\\")
    return commands


def background_emulator(line: str) -> str:
    """Run an emulator command in the background, and wait until it accepts connections."""
    command = line.rstrip().removesuffix("&").rstrip()
    port = (PORT_OPTION.findall(command) or ["0"])[0]
    wait = (
        f"for _ in $(seq 150); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; "
        "sleep 0.1; done"
    )
    return (
        f'{command} >>"$DOCS_TEST_DIR/emulators.log" 2>&1 &\n'
        f'echo $! >>"$DOCS_TEST_DIR/pids"\n{wait}'
    )


def shell_script(text: str, token: str) -> str:
    """A bash script for a command block, carrying exported variables and the directory."""
    lines = []
    for line in command_lines(PLACEHOLDER.sub(token, text)):
        lines.append(background_emulator(line) if EMULATOR_COMMAND.search(line) else line)
    return "\n".join(
        [
            'if [ -f "$DOCS_TEST_DIR/state.sh" ]; then . "$DOCS_TEST_DIR/state.sh"; fi',
            "set -eo pipefail",
            "__docs_test_save() {",
            '  { export -p; printf "cd %q\\n" "$PWD"; } >"$DOCS_TEST_DIR/state.sh"',
            "}",
            "trap __docs_test_save EXIT",
            *lines,
            "",
        ]
    )


def as_playbook(block: Block) -> list | None:
    """The block as a list of plays (tasks wrapped in one), or None when it is neither."""
    document = yaml.safe_load(block.text)
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        return None
    if document and all("hosts" in item or "import_playbook" in item for item in document):
        return document
    if document and not any("hosts" in item for item in document):
        play = {"name": f"docs-test {block.name}", "hosts": "localhost", "connection": "local"}
        return [{**play, "gather_facts": False, "tasks": document}]
    return None


# --- Running a document ---------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    output: str = ""
    skipped: str = ""


@dataclass
class DocumentRun:
    """One document run top to bottom; each block's outcome by line."""

    document: Path
    outcomes: dict[int, Outcome] = field(default_factory=dict)


class DocumentRunner:
    def __init__(self, document: Path, scratch: Path) -> None:
        self.blocks = [block for block in ALL_BLOCKS if block.document == document]
        # The clone the reader works in; the runner's own files stay beside it.
        self.workdir = scratch / "ansible-collection-platform"
        self.statedir = scratch / "docs-test"
        self.statedir.mkdir()
        (scratch / "home").mkdir()
        prepare_workspace(self.workdir)
        self.ports = port_map(self.blocks)
        self.emulator = EmulatorProcess()
        self.env = ansible_env(self.emulator)
        self.env.update(
            ANSIBLE_COLLECTIONS_PATH=str(self.workdir / ".cache" / "collections"),
            HOME=str(scratch / "home"),
            ANSIBLE_HOME=str(scratch / "home" / ".ansible"),
            DOCS_TEST_DIR=str(self.statedir),
        )

    def run(self) -> DocumentRun:
        result = DocumentRun(self.blocks[0].document if self.blocks else REPO)
        failed_at = None
        previous_output = ""
        for block in self.blocks:
            if block.marker == "skip":
                result.outcomes[block.line] = Outcome(True, skipped=block.marker_arg)
            elif failed_at is not None and (block.runs or block.marker == "output"):
                result.outcomes[block.line] = Outcome(False, f"not run: {failed_at} failed")
            elif block.marker == "file":
                target = self.workdir / block.marker_arg
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(with_ports(block.text, self.ports), encoding="utf-8")
                result.outcomes[block.line] = Outcome(True)
            elif block.marker == "output":
                outcome = check_output(block, with_ports(block.text, self.ports), previous_output)
                result.outcomes[block.line] = outcome
            elif block.runs:
                outcome = self.run_block(block)
                previous_output = outcome.output
                result.outcomes[block.line] = outcome
            else:
                result.outcomes[block.line] = Outcome(True)
            if not result.outcomes[block.line].ok and failed_at is None:
                failed_at = block.name
        return result

    def run_block(self, block: Block) -> Outcome:
        text = with_ports(block.text, self.ports)
        if block.language in COMMAND_LANGUAGES:
            command = ["bash", "-c", shell_script(text, self.emulator.token)]
        else:
            command = self.playbook_command(block, text)
        try:
            completed = subprocess.run(
                command,
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            return Outcome(False, f"no end within {BLOCK_TIMEOUT} s\n{error.stdout or ''}")
        output = completed.stdout + completed.stderr
        expected_failure = block.marker == "fails"
        ok = (completed.returncode != 0) == expected_failure
        verdict = (
            "failed as expected" if expected_failure and ok else f"exit {completed.returncode}"
        )
        return Outcome(ok, f"{verdict}\n{output}")

    def playbook_command(self, block: Block, text: str) -> list[str]:
        plays = as_playbook(Block(block.document, block.line, block.language, text))
        assert plays is not None, f"{block.name}: neither a play nor a list of tasks"
        stem = re.sub(r"\W+", "-", block.name)
        playbook = self.statedir / f"{stem}.yml"
        playbook.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
        vaulted = {name: f"docs-test-{name}" for name in VAULT_VARIABLE.findall(text)}
        if "vault_humanitec_token" in vaulted:
            vaulted["vault_humanitec_token"] = self.emulator.token
        extra_vars = self.statedir / f"{stem}-vars.json"
        extra_vars.write_text(json.dumps(vaulted), encoding="utf-8")
        return [str(BIN_DIR / "ansible-playbook"), str(playbook), "-e", f"@{extra_vars}"]

    def stop(self) -> None:
        pids = self.statedir / "pids"
        for pid in pids.read_text().split() if pids.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)
        self.emulator.stop()


def prepare_workspace(workdir: Path) -> None:
    """A copy of the repository to run a document in, importable as the collection.

    A copy, not links: what a document does (build the collection, write files) stays in it.
    The virtual environment is linked; the Makefile is left out, since `make` there would
    build another one.
    """
    shutil.copytree(REPO, workdir, ignore=WORKSPACE_IGNORE, symlinks=True)
    (workdir / ".venv").symlink_to(REPO / ".venv")
    link = workdir / ".cache" / "collections" / "ansible_collections" / "humanitec" / "platform"
    link.parent.mkdir(parents=True)
    link.symlink_to(workdir)


def check_output(block: Block, expected: str, output: str) -> Outcome:
    """Each line of `expected` must match a later line of `output` (`...` matches anything)."""
    actual = [" ".join(line.split()) for line in output.splitlines()]
    position = 0
    for wanted in filter(None, (" ".join(line.split()) for line in expected.splitlines())):
        pattern = re.compile(".*".join(re.escape(part) for part in wanted.split("...")))
        while position < len(actual) and not pattern.search(actual[position]):
            position += 1
        if position == len(actual):
            return Outcome(False, f"{block.name}: not in the output: {wanted!r}\n---\n{output}")
        position += 1
    return Outcome(True)


_RUNS: dict[Path, DocumentRun] = {}


def document_run(document: Path) -> DocumentRun:
    if document not in _RUNS:
        with tempfile.TemporaryDirectory(prefix="docs-test-") as scratch:
            runner = DocumentRunner(document, Path(scratch))
            try:
                _RUNS[document] = runner.run()
            finally:
                runner.stop()
    return _RUNS[document]


# --- Tests ----------------------------------------------------------------------------------

RUN_BLOCKS = [
    block for block in ALL_BLOCKS if block.runs or block.marker in ("skip", "file", "output")
]


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=lambda block: block.name)
def test_code_block(block: Block):
    outcome = document_run(block.document).outcomes[block.line]
    if outcome.skipped:
        pytest.skip(f"{block.name}: {outcome.skipped}")
    assert outcome.ok, f"{block.name}\n{block.text}\n{outcome.output}"


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.name)
def test_block_is_classified(block: Block):
    """Every block is runnable, or says why not: no code slips through untested."""
    assert block.language, f"{block.name}: give the fence a language (```text if not code)"
    if block.marker:
        assert block.marker in MARKER_KINDS, f"{block.name}: unknown marker {block.marker!r}"
    if block.marker == "skip":
        assert re.fullmatch(r"\(.{10,}\)", block.marker_arg), "skip needs a (reason)"
    if block.marker == "file":
        assert block.marker_arg and not Path(block.marker_arg).is_absolute()
    if block.marker == "output":
        assert block.language == "text", f"{block.name}: output markers go on ```text blocks"
    if block.language in YAML_LANGUAGES:
        document = yaml.safe_load(block.text)
        if block.runs:
            assert as_playbook(block) is not None, (
                f"{block.name}: neither a play nor a list of tasks; mark it not-code or file"
            )
        assert document is not None


def test_file_blocks_are_used():
    """A file written from the docs must be used by a later command of the same document."""
    for block in ALL_BLOCKS:
        if block.marker != "file":
            continue
        later = [
            other.text
            for other in ALL_BLOCKS
            if other.document == block.document
            and other.line > block.line
            and other.language in COMMAND_LANGUAGES
        ]
        assert any(block.marker_arg in text for text in later), (
            f"{block.name}: no later command uses {block.marker_arg}"
        )


def test_output_blocks_follow_a_run_block():
    for document in DOCUMENTS:
        previous = None
        for block in (block for block in ALL_BLOCKS if block.document == document):
            if block.marker == "output":
                assert previous is not None and previous.runs, f"{block.name}: nothing before"
            previous = block


def test_skips_are_few_and_explained():
    skips = [f"{block.name} {block.marker_arg}" for block in ALL_BLOCKS if block.marker == "skip"]
    runs = [block for block in ALL_BLOCKS if block.runs]
    assert len(skips) <= MAX_SKIPS, "\n".join(skips)
    assert len(skips) < len(runs), "\n".join(skips)


def test_placeholders_are_known():
    """Shell blocks use `...` for a token; other made-up values would not run."""
    for block in ALL_BLOCKS:
        if block.language in COMMAND_LANGUAGES and block.runs:
            assert not re.search(r"<[a-z][\w-]*>", block.text), (
                f"{block.name}: use ... for a token, or a value that works against the emulator"
            )


def test_shell_quoting_of_scripts_is_sound():
    """The generated scripts parse, so a failure is the command's, not the harness's."""
    for block in ALL_BLOCKS:
        if block.language in COMMAND_LANGUAGES and block.runs:
            script = shell_script(block.text, "token")
            completed = subprocess.run(
                ["bash", "-n", "-c", script], capture_output=True, text=True, check=False
            )
            assert completed.returncode == 0, f"{block.name}: {completed.stderr}"
