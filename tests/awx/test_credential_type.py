# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX / Automation Controller credential type and the playbook that creates it.

The injected variables must be exactly the ones the modules read (taken from their argument
spec, not from a list kept here), and a job that carries the credential must reach the API:
the injectors are rendered the way the controller renders them, and a module runs with the
result against the emulator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from jinja2 import meta as jinja_meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = Path(__file__).resolve().parents[2]
AWX_DIR = REPO / "extensions" / "awx"
CREDENTIAL_TYPE_FILE = AWX_DIR / "credential_type_humanitec_api.yml"
PLAYBOOK_FILE = AWX_DIR / "create_credential_type.yml"
AWX_DOC = REPO / "docs" / "awx.md"

sys.path.insert(0, str(REPO / "tests" / "system"))
from harness import (  # noqa: E402
    BIN_DIR,
    COLLECTIONS_PATH,
    ORG_ID,
    EmulatorProcess,
    ansible_env,
)

# The modules' own code, imported as Ansible imports it.
if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))
from ansible.module_utils.basic import env_fallback  # noqa: E402

from ansible_collections.humanitec.platform.plugins.module_utils._module import (  # noqa: E402
    DEFAULT_API_URL,
    connection_argument_spec,
)

# Options of awx.awx.credential_type the playbook may use besides the controller connection.
CREDENTIAL_TYPE_OPTIONS = {"name", "description", "kind", "inputs", "injectors", "state"}


def env_fallbacks() -> dict[str, str]:
    """Environment variable -> option, for every option that falls back to one."""
    variables = {}
    for option, spec in connection_argument_spec().items():
        fallback = spec.get("fallback")
        if fallback and fallback[0] is env_fallback:
            variables.update({name: option for name in fallback[1]})
    return variables


@pytest.fixture(scope="module")
def credential_type() -> dict:
    return yaml.safe_load(CREDENTIAL_TYPE_FILE.read_text(encoding="utf-8"))


def fields_of(credential_type: dict) -> dict[str, dict]:
    return {field["id"]: field for field in credential_type["inputs"]["fields"]}


def render_injectors(credential_type: dict, inputs: dict) -> dict[str, str]:
    """The job environment the controller builds from a credential's stored inputs.

    Like the controller: a sandboxed Jinja environment whose namespace holds only the inputs
    that have a value (a field's default is a form hint, not an injected value).
    """
    sandbox = ImmutableSandboxedEnvironment()
    namespace = {name: value for name, value in inputs.items() if value}
    return {
        variable: sandbox.from_string(template).render(**namespace)
        for variable, template in credential_type["injectors"]["env"].items()
    }


def test_injected_variables_are_exactly_the_modules_env_fallbacks(credential_type):
    fallbacks = env_fallbacks()
    assert fallbacks, "no env_fallback found in connection_argument_spec()"
    assert set(credential_type["injectors"]["env"]) == set(fallbacks)
    assert set(credential_type["injectors"]) == {"env"}, "only environment variables"


def test_the_token_is_secret_and_required(credential_type):
    token_fields = [
        field
        for field in credential_type["inputs"]["fields"]
        if "{{ " + field["id"] + " }}" == credential_type["injectors"]["env"]["HUMANITEC_TOKEN"]
    ]
    assert len(token_fields) == 1
    assert token_fields[0]["secret"] is True
    assert token_fields[0]["id"] in credential_type["inputs"]["required"]
    others = [field for field in credential_type["inputs"]["fields"] if field.get("secret")]
    assert others == token_fields, "only the token is secret: the org id and URL are not"


def test_the_controller_format(credential_type):
    assert credential_type["name"] == "Humanitec API"
    # Custom credential types must be of kind cloud or net.
    assert credential_type["kind"] == "cloud"
    fields = fields_of(credential_type)
    assert len(fields) == len(credential_type["inputs"]["fields"]), "field ids are unique"
    for field in fields.values():
        assert {"id", "label", "type"} <= set(field)
        assert field["type"] == "string"
    assert set(credential_type["inputs"]["required"]) <= set(fields)
    assert "api_url" not in credential_type["inputs"]["required"]
    assert fields["api_url"]["default"] == DEFAULT_API_URL


def test_every_injector_uses_a_defined_input(credential_type):
    fields = fields_of(credential_type)
    sandbox = ImmutableSandboxedEnvironment()
    used = set()
    for template in credential_type["injectors"]["env"].values():
        names = jinja_meta.find_undeclared_variables(sandbox.parse(template))
        assert len(names) == 1, template
        used |= names
    assert used == set(fields), "every input is injected, and only inputs are used"


def test_the_documentation_shows_the_definition(credential_type):
    """docs/awx.md shows inputs and injectors as in the file, less the fields' help texts."""
    shown = [
        yaml.safe_load(block)
        for block in re.findall(r"^```yaml\n(.*?)^```", AWX_DOC.read_text("utf-8"), re.M | re.S)
        if "injectors:" in block
    ]
    assert len(shown) == 1
    fields = [
        {key: value for key, value in field.items() if key != "help_text"}
        for field in credential_type["inputs"]["fields"]
    ]
    assert shown[0] == {
        "inputs": {**credential_type["inputs"], "fields": fields},
        "injectors": credential_type["injectors"],
    }


def test_an_empty_api_url_injects_the_public_api(credential_type):
    env = render_injectors(credential_type, {"token": "t0k", "organization": "acme"})
    assert env == {
        "HUMANITEC_TOKEN": "t0k",
        "HUMANITEC_ORG": "acme",
        "HUMANITEC_API_PREFIX": DEFAULT_API_URL,
    }
    env = render_injectors(credential_type, {"token": "t", "organization": "o", "api_url": ""})
    assert env["HUMANITEC_API_PREFIX"] == DEFAULT_API_URL


def test_a_job_with_the_credential_reaches_the_api(credential_type):
    """The injected environment alone is enough for a module (here against the emulator)."""
    emulator = EmulatorProcess()
    try:
        inputs = {"token": emulator.token, "organization": ORG_ID, "api_url": emulator.url}
        injected = render_injectors(credential_type, inputs)
        assert injected["HUMANITEC_API_PREFIX"] == emulator.url
        completed = subprocess.run(
            [str(BIN_DIR / "ansible"), "localhost", "-o", "-m"]
            + ["humanitec.platform.humanitec_registry_info"],
            env={**ansible_env(None), **injected},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        emulator.stop()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert '"id": "humanitec"' in completed.stdout
    assert emulator.token not in completed.stdout + completed.stderr


# --- The playbook that creates the credential type ----------------------------------------


@pytest.fixture(scope="module")
def playbook_task() -> dict:
    plays = yaml.safe_load(PLAYBOOK_FILE.read_text(encoding="utf-8"))
    assert len(plays) == 1 and plays[0]["hosts"] == "localhost"
    modules = [task for task in plays[0]["tasks"] if "awx.awx.credential_type" in task]
    assert len(modules) == 1, "one awx.awx.credential_type task"
    return {**modules[0], "play": plays[0]}


def test_the_playbook_loads_the_credential_type_file(playbook_task):
    definition = playbook_task["play"]["vars"]["humanitec_credential_type"]
    assert CREDENTIAL_TYPE_FILE.name in definition
    assert "lookup('ansible.builtin.file'" in definition and "from_yaml" in definition
    args = playbook_task["awx.awx.credential_type"]
    assert set(args) <= CREDENTIAL_TYPE_OPTIONS
    for option in ("name", "kind", "inputs", "injectors"):
        assert args[option] == f"{{{{ humanitec_credential_type.{option} }}}}"


def stub_awx_collection(root: Path) -> Path:
    """A stand-in awx.awx whose credential_type module writes its arguments to a file."""
    modules = root / "ansible_collections" / "awx" / "awx" / "plugins" / "modules"
    modules.mkdir(parents=True)
    (modules / "credential_type.py").write_text(
        "#!/usr/bin/python\n"
        "import json\n"
        "import os\n\n"
        "from ansible.module_utils.basic import AnsibleModule\n\n"
        f"SPEC = {{name: {{'type': 'raw'}} for name in {sorted(CREDENTIAL_TYPE_OPTIONS)!r}}}\n"
        "module = AnsibleModule(argument_spec=SPEC)\n"
        "with open(os.environ['AWX_STUB_RESULT'], 'w') as result:\n"
        "    json.dump(module.params, result)\n"
        "module.exit_json(changed=False)\n",
        encoding="utf-8",
    )
    return root


def run_playbook(collections_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN_DIR / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK_FILE), *args],
        env={**ansible_env(None), "ANSIBLE_COLLECTIONS_PATH": str(collections_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_playbook_sends_the_definition_unrendered(tmp_path, credential_type):
    """Ansible must not render "{{ token }}" itself: the controller does, at job time."""
    collections = stub_awx_collection(tmp_path / "collections")
    result_file = tmp_path / "given.json"
    completed = run_playbook(collections, AWX_STUB_RESULT=str(result_file))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    given = json.loads(result_file.read_text(encoding="utf-8"))
    expected = {key: credential_type[key] for key in ("name", "description", "kind")}
    expected.update(
        inputs=credential_type["inputs"], injectors=credential_type["injectors"], state="present"
    )
    assert given == expected


def awx_collection_root() -> Path | None:
    """A collections path holding the real awx.awx, when this machine has one.

    It is not a development requirement (it comes from Galaxy or the `ansible` package), so
    AWX_COLLECTIONS_PATH may name one; the usual places are looked at too.
    """
    candidates = [
        *filter(None, os.environ.get("AWX_COLLECTIONS_PATH", "").split(os.pathsep)),
        str(Path.home() / ".ansible" / "collections"),
        "/usr/share/ansible/collections",
        sysconfig.get_paths()["purelib"],
    ]
    for candidate in candidates:
        module = Path(candidate, "ansible_collections/awx/awx/plugins/modules/credential_type.py")
        if module.is_file():
            return Path(candidate)
    return None


def test_the_playbook_against_the_real_awx_collection():
    """With awx.awx at hand: the syntax check passes and the module accepts the arguments.

    No controller runs here: the module is pointed at a closed port, so it gets as far as
    connecting, which it does only after validating every argument.
    """
    root = awx_collection_root()
    if root is None:
        pytest.skip("awx.awx is not installed here (set AWX_COLLECTIONS_PATH to use one)")
    syntax = run_playbook(root, "--syntax-check")
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    completed = run_playbook(
        root, CONTROLLER_HOST="http://127.0.0.1:9", CONTROLLER_OAUTH_TOKEN="not-a-token"
    )
    assert completed.returncode != 0
    assert "Connection refused" in completed.stdout, completed.stdout + completed.stderr
    assert "Unsupported parameters" not in completed.stdout
