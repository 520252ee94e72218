# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""validate_certs against an HTTPS emulator whose certificate no public CA signed.

The machine's environment sets REQUESTS_CA_BUNDLE for every process, so each task sets it
(and CURL_CA_BUNDLE, which requests reads too) itself: to the public bundle, which does not
hold the emulator's certificate, or to that certificate.
"""

from __future__ import annotations

import json
import subprocess
import warnings

import certifi
import pytest
from harness import ORG_ID, Emulator, EmulatorProcess, run_tasks
from rel_support import is_one_line_failure, record_outcome, scan_for_leaks

from ansible_collections.humanitec.platform.plugins.module_utils._module import (
    connection_argument_spec,
)

REGISTRY = "humanitec.platform.humanitec_registry"
INFO = "humanitec.platform.humanitec_registry_info"
TLS_ID = "tls-images"
CERT_ERROR = "TLS certificate verification failed (see validate_certs)"


@pytest.fixture(scope="module")
def https_emulator(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tls")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    process = EmulatorProcess("--tls-cert", str(cert), "--tls-key", str(key))
    emulator = Emulator(process)
    # The hooks are called unverified; REQUESTS_CA_BUNDLE would override the session's
    # verify=False, so the environment is not read for them.
    emulator.http.trust_env = False
    warnings.simplefilter("ignore")
    yield emulator, str(cert)
    process.stop()


def ca_bundle(path: str) -> dict:
    return {"REQUESTS_CA_BUNDLE": path, "CURL_CA_BUNDLE": path}


def cases(cert: str) -> list[tuple[str, dict, bool]]:
    """(case, task, whether it must succeed), in the order they run."""
    public = ca_bundle(certifi.where())
    create = {"id": TLS_ID, "registry": "tls.example.com", "type": "public"}
    return [
        ("registry, default validate_certs", {REGISTRY: create, "environment": public}, False),
        (
            "registry, validate_certs true",
            {REGISTRY: {**create, "validate_certs": True}, "environment": public},
            False,
        ),
        ("info, default validate_certs", {INFO: {}, "environment": public}, False),
        (
            "registry, validate_certs false",
            {REGISTRY: {**create, "validate_certs": False}, "environment": public},
            True,
        ),
        (
            "registry, CA bundle holding the certificate",
            {REGISTRY: create, "environment": ca_bundle(cert)},
            True,
        ),
        (
            "info, CA bundle holding the certificate",
            {INFO: {}, "environment": ca_bundle(cert)},
            True,
        ),
        (
            "info, validate_certs false",
            {INFO: {"validate_certs": False}, "environment": public},
            True,
        ),
    ]


def check(case: str, result: dict, must_succeed: bool) -> list[str]:
    if must_succeed:
        return [] if not result.get("failed") else [f"{case}: failed: {result.get('msg')}"]
    msg = str(result.get("msg"))
    path = f"/orgs/{ORG_ID}/registries" + ("" if case.startswith("info") else f"/{TLS_ID}")
    wanted = [CERT_ERROR, f"GET {path} failed"]
    if not is_one_line_failure(result):
        return [f"{case}: not a clean one-line failure: {result}"]
    return [f"{case}: message lacks {part!r}: {msg}" for part in wanted if part not in msg]


def test_validate_certs_defaults_to_true():
    assert connection_argument_spec()["validate_certs"]["default"] is True


def test_validate_certs_is_honoured(https_emulator):
    emulator, cert = https_emulator
    emulator.reset()
    table = cases(cert)
    run = run_tasks(
        emulator, [task for _case, task, _must_succeed in table], args=("-vvvv", "--diff")
    )
    assert len(run.results) == len(table), run.output[-3000:]

    problems = []
    for (case, _task, must_succeed), result in zip(table, run.results, strict=True):
        found = check(case, result, must_succeed)
        record_outcome("tls", case=case, ok=not found)
        problems += found
    # A refused certificate ends the connection before any request, token included, is sent.
    calls = [(entry["method"], entry["path"]) for entry in emulator.requests()]
    record_path = f"/orgs/{ORG_ID}/registries/{TLS_ID}"
    expected_calls = [("GET", record_path), ("POST", f"/orgs/{ORG_ID}/registries")]
    expected_calls += [("GET", record_path)] + [("GET", f"/orgs/{ORG_ID}/registries")] * 2
    texts = {"stdout": run.stdout, "stderr": run.stderr, "results": json.dumps(run.results)}
    leaks = scan_for_leaks("TLS, ansible-playbook -vvvv --diff", texts)
    assert not problems, "\n".join(problems)
    assert calls == expected_calls
    assert run.results[4]["changed"] is False  # the verified rerun found the record in place
    assert not leaks, leaks
