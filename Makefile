# Development tasks. `make demo` and `make test` work on a fresh clone with Python 3.11.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BASE ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python
# The collection must sit at ansible_collections/humanitec/platform to be importable.
COLLECTIONS_ROOT := $(abspath .cache/collections)
COLLECTION_LINK := $(COLLECTIONS_ROOT)/ansible_collections/humanitec/platform

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_ROOT)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PATH := $(BIN):$(PATH)
export PYTHON := $(PY)

.PHONY: help venv collection demo test lint emulator-test system
help:
	@echo "make demo   run the demo playbook against the local API emulator"
	@echo "make test   run every check CI runs"

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

collection: venv
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn $(CURDIR) $(COLLECTION_LINK)

demo: collection
	ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
		tools/with-emulator $(BIN)/ansible-playbook demo/demo.yml

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The emulator's own tests, including its contract test against the published API document.
emulator-test: venv
	$(BIN)/pytest tests/emulator -q

# Real ansible-playbook runs against the emulator; a file's tests share one worker.
system: collection
	$(BIN)/pytest tests/system -q -n 2 --dist loadfile

# Unit tests of module_utils run inside `quality`, through ansible-test units.
test: lint emulator-test system integration molecule reliability docs-test quality

# The role's molecule scenarios (extensions/molecule), each against its own API emulator.
# molecule finds collection scenarios from the collection root, where galaxy.yml is.
.PHONY: molecule
molecule: collection
	cd $(CURDIR) && $(BIN)/molecule test --all

# --- Quality gates of the Ansible ecosystem: `make quality`, part of `make test` ---
# ansible-test and antsibull-docs' linter need a real ansible_collections/<namespace>/<name>
# directory (ansible-test refuses a symlink), so they run on a copy under build/. The
# artifact is built from the repository itself, as a release is.
BUILD_DIR := $(abspath build)
STAGED := $(BUILD_DIR)/ansible_collections/humanitec/platform
DIST_DIR := $(BUILD_DIR)/dist
COLLECTION_VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(DIST_DIR)/humanitec-platform-$(COLLECTION_VERSION).tar.gz
QUALITY_LOG := $(BUILD_DIR)/quality-times.jsonl
# `$(TIMED) GATE PACKAGE -- COMMAND` runs COMMAND and logs its time and PACKAGE's version.
TIMED = $(PY) $(CURDIR)/tools/timed.py run $(QUALITY_LOG)
# --venv: ansible-test builds its own virtual environments (no containers on this machine).
ANSIBLE_TEST_OPTIONS := --venv --python 3.11 --color no
DOCS_OPTIONS := --use-current --squash-hierarchy --output-format simplified-rst \
	--no-add-antsibull-docs-version --fail-on-error --cleanup everything

.PHONY: quality quality-gates stage ansible-test-bootstrap sanity units ansible-lint docs-lint \
	docs docs-check changelog-lint package packaging galaxy-importer release

# Every gate runs (-k) even after one fails, then a table of the gates, versions and times.
quality: venv
	rm -f $(QUALITY_LOG)
	status=0; $(MAKE) --no-print-directory -k -j1 quality-gates || status=$$?; \
	$(PY) tools/timed.py summary $(QUALITY_LOG) || status=1; exit $$status

quality-gates: sanity units ansible-lint docs-lint docs-check changelog-lint packaging \
	galaxy-importer

stage: venv
	$(PY) tools/stage_collection.py $(STAGED)

# ansible-test downloads get-pip.py for each virtual environment it creates; offline, it
# finds tools/get_pip_offline.py in its cache instead.
ansible-test-bootstrap: venv
	$(PY) tools/install_get_pip.py

sanity: stage ansible-test-bootstrap
	cd $(STAGED) && $(TIMED) sanity ansible-core -- \
		$(BIN)/ansible-test sanity $(ANSIBLE_TEST_OPTIONS)

units: stage ansible-test-bootstrap
	cd $(STAGED) && $(TIMED) units ansible-core -- \
		$(BIN)/ansible-test units $(ANSIBLE_TEST_OPTIONS)

# The integration targets (tests/integration/targets) against a fresh API emulator, with this
# machine's Python. ansible-test gives every target the variables of integration_config.yml
# (written here, never committed): humanitec_api_url, humanitec_api_token, humanitec_org_id.
# The copy is a separate one, so that a `make stage` meanwhile cannot pull it away.
INTEGRATION_STAGED := $(BUILD_DIR)/integration/ansible_collections/humanitec/platform
.PHONY: integration
integration: venv
	$(PY) tools/stage_collection.py $(INTEGRATION_STAGED)
	cd $(INTEGRATION_STAGED) && $(CURDIR)/tools/with-emulator bash -euo pipefail -c ' \
		printf "%s\n" "humanitec_api_url: $$HUMANITEC_API_PREFIX" \
			"humanitec_api_token: $$HUMANITEC_TOKEN" "humanitec_org_id: $$HUMANITEC_ORG" \
			> tests/integration/integration_config.yml; \
		$(BIN)/ansible-test integration --local --python 3.11 --color no'

# Settings in .ansible-lint: the production profile, offline. ansible-lint warns when it may
# not add its own collection paths, which ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false forbids.
ansible-lint: collection
	$(TIMED) ansible-lint ansible-lint -- \
		env -u ANSIBLE_COLLECTIONS_SCAN_SYS_PATH $(BIN)/ansible-lint

docs-lint: stage
	cd $(STAGED) && $(TIMED) docs-lint antsibull-docs -- \
		$(BIN)/antsibull-docs lint-collection-docs --plugin-docs \
		--validate-collection-refs all --disallow-unknown-collection-refs .

# The reference pages in docs/reference are generated from the plugins' own documentation.
docs: collection
	mkdir -p docs/reference
	$(BIN)/antsibull-docs collection $(DOCS_OPTIONS) --dest-dir docs/reference \
		humanitec.platform

docs-check: collection
	$(TIMED) docs-check antsibull-docs -- bash -euo pipefail -c ' \
		fresh=$$(mktemp -d); trap "rm -rf $$fresh" EXIT; \
		$(BIN)/antsibull-docs collection $(DOCS_OPTIONS) --dest-dir $$fresh humanitec.platform; \
		diff -ru docs/reference $$fresh || { echo "docs/reference is stale: run make docs"; exit 1; }'

changelog-lint: venv
	$(TIMED) changelog-lint antsibull-changelog -- bash -euo pipefail -c ' \
		$(BIN)/antsibull-changelog lint; \
		$(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml'

package: venv
	mkdir -p $(DIST_DIR)
	$(TIMED) build ansible-core -- \
		$(BIN)/ansible-galaxy collection build --force --output-path $(DIST_DIR) .

# The tarball's contents, an offline install and verify, and ansible-doc on each plugin.
packaging: package
	HUMANITEC_COLLECTION_TARBALL=$(TARBALL) $(TIMED) packaging ansible-core -- \
		$(BIN)/pytest tests/packaging -q

# galaxy-importer exits 0 after warnings, so its log must hold no WARNING or ERROR line. It
# writes importer_result.json to the working directory: run it in a temporary one.
galaxy-importer: package
	$(TIMED) galaxy-importer galaxy-importer -- bash -euo pipefail -c ' \
		work=$$(mktemp -d); trap "rm -rf $$work" EXIT; cd $$work; \
		GALAXY_IMPORTER_CONFIG=$(CURDIR)/tools/galaxy-importer.cfg \
			$(PY) -m galaxy_importer.main $(TARBALL) | tee importer.log; \
		! grep -E "^(WARNING|ERROR|CRITICAL)" importer.log'

# Turns changelogs/fragments into CHANGELOG.md for the version in galaxy.yml.
release: collection
	$(BIN)/antsibull-changelog release
	$(MAKE) --no-print-directory docs

# The reliability and security suite (tests/reliability): faults at every request step,
# concurrent runs, invalid inputs, secrets in outputs, TLS, and the emulator under load.
# Then a table of what the tests measured, built from the outcomes they recorded.
RELIABILITY_OUTCOMES := $(abspath .cache/reliability/outcomes.jsonl)
.PHONY: reliability
reliability: collection
	status=0; RELIABILITY_OUTCOMES=$(RELIABILITY_OUTCOMES) \
		$(BIN)/pytest tests/reliability -q -n 2 -p no:logging || status=$$?; \
	$(PY) tests/reliability/summary.py $(RELIABILITY_OUTCOMES) || status=1; exit $$status

# Every playbook and command in README.md and docs/*.md, run against the API emulator in the
# order a reader follows them (tests/docs), and the AWX pieces: the credential type and an
# execution environment built with ansible-builder (tests/awx).
.PHONY: docs-test
docs-test: collection
	$(BIN)/pytest tests/docs tests/awx -q

# Benchmarks against the local API emulator (bench/run_bench.py, about 10 minutes on an idle
# machine): per-task overhead, the collection against ansible.builtin.uri, scale, and the
# emulator's own time. Prints the report and writes it to docs/performance.md.
.PHONY: bench
bench: collection
	$(PY) bench/run_bench.py --output docs/performance.md
