from harness import run_adhoc, run_tasks


def test_harness_runs_a_task_and_reads_the_state(emulator):
    run = run_tasks(
        emulator,
        [
            {
                "humanitec.platform.humanitec_registry": {
                    "id": "abc",
                    "registry": "r.io",
                    "type": "public",
                }
            }
        ],
    )
    assert run.returncode == 0, run.output
    assert run.results[0]["changed"] is True
    assert "abc" in emulator.registries()


def test_adhoc(emulator):
    run = run_adhoc(emulator, "humanitec.platform.humanitec_registry_info")
    assert run.returncode == 0, run.output
    assert '"humanitec"' in run.stdout
