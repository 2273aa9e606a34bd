# The two commands of the README:  make demo  and  make test.
# Each creates .venv and installs everything it needs from the package registry.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean system-deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/chatkeeper demo

# The HTML transcript test renders in headless Chromium (Debian's package).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian) for the HTML rendering test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint system-deps
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

bench: $(BIN)/.installed
	$(BIN)/python bench/capture.py
	$(BIN)/python bench/seal.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
