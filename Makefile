# Everything a fresh machine with only python3 needs: `make demo` runs the product,
# `make test` runs the whole test suite. Both create or reuse the virtual environment.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= .demo
DEMO_USER ?= demo
DEMO_PASSWORD ?= demo-password-123

.PHONY: venv demo test lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,redis]'
	touch $@

demo: venv
	@echo "$(DEMO_PASSWORD)" | $(BIN)/opsconsole admin create-operator $(DEMO_USER) --role admin \
		--password-stdin --data-dir $(DEMO_DIR) 2>/dev/null || true
	@echo "log in as $(DEMO_USER) / $(DEMO_PASSWORD); certificate: $(DEMO_DIR)/tls-cert.pem"
	$(BIN)/opsconsole serve --tls self-signed --data-dir $(DEMO_DIR)

test: venv
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy --strict src/

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
