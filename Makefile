# Everything a fresh machine with only python3 needs: `make demo` runs the product,
# `make test` runs the whole test suite. Both create or reuse the virtual environment.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= .demo
DEMO_USER ?= demo
DEMO_PASSWORD ?= demo-password-123
DEMO_ARGS ?=

.PHONY: venv demo serve test test-package lint clean package

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,redis]'
	touch $@

# The whole product on this machine: a control plane (TLS, temporary database), simulated
# providers and traffic on a clock that runs a day in five minutes, and the console, logged
# in. Closing the console stops everything. Without a display: make demo DEMO_ARGS=--no-gui
demo: venv
	$(BIN)/opsconsole demo $(DEMO_ARGS)

# The control plane alone, kept in .demo/ between runs, with an admin demo/demo-password-123.
serve: venv
	@echo "$(DEMO_PASSWORD)" | $(BIN)/opsconsole admin create-operator $(DEMO_USER) --role admin \
		--password-stdin --data-dir $(DEMO_DIR) 2>/dev/null || true
	@echo "log in as $(DEMO_USER) / $(DEMO_PASSWORD); certificate: $(DEMO_DIR)/tls-cert.pem"
	$(BIN)/opsconsole serve --tls self-signed --data-dir $(DEMO_DIR)

# The bundle test (minutes) runs in `make test-package`, after `make package`.
# Two passes: the server, SDK and simulator in parallel; the console's Qt tests one at a time
# (each runs a server and an event loop in its process), a failure retried twice.
test: venv
	$(BIN)/python -m pytest -n auto -m "not package" --ignore=tests/console $(PYTEST_ARGS)
	$(BIN)/python -m pytest -p no:xdist -m "not package" --reruns 2 tests/console $(PYTEST_ARGS)

test-package: package
	$(BIN)/python -m pytest -p no:xdist -m package tests/packaging $(PYTEST_ARGS)

# The console as a one-folder application in dist/opsconsole/ (see packaging/README.md).
package: venv $(VENV)/.package-installed
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/opsconsole.spec
	@echo "bundle: dist/opsconsole/opsconsole ($$(du -sh dist/opsconsole | cut -f1)," \
		"$$(find dist/opsconsole -type f | wc -l) files)"
	@dist/opsconsole/opsconsole --version

$(VENV)/.package-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,redis,package]'
	touch $@

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy --strict src/

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache build dist
