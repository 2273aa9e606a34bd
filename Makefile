# The two commands of the README:  make demo  and  make test.
# Each creates .venv and installs everything it needs from the package registry.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean system-deps deploy-deps deploy-check container-deps container-check

TOOLS_VENV ?= .venv-tools
TOOLS := $(TOOLS_VENV)/bin
RENDERED := .cache/deploy

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/chatkeeper demo

# The HTML transcript test renders in headless Chromium; the EML test indexes with notmuch
# (Debian's packages).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian) for the HTML rendering test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v notmuch >/dev/null 2>&1 || { \
	  echo "installing notmuch (Debian) for the EML indexing test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq notmuch >/dev/null; }

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Deployment checks (deploy/, docs/deploy.md): checkers live in their own virtualenv;
# promtool comes from Debian's prometheus package.
$(TOOLS)/.installed: deploy/tools-requirements.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS)/pip install --quiet --upgrade pip
	$(TOOLS)/pip install --quiet -r deploy/tools-requirements.txt
	touch $@

deploy-deps:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing prometheus (Debian) for promtool"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

deploy-check: $(BIN)/.installed $(TOOLS)/.installed deploy-deps
	$(TOOLS)/hadolint deploy/container/Dockerfile
	$(TOOLS)/checkov --quiet --compact --skip-download --framework dockerfile -f deploy/container/Dockerfile
	mkdir -p $(RENDERED)
	for overlay in staging production; do \
	  $(BIN)/python deploy/kubernetes/render.py deploy/kubernetes/overlays/$$overlay > $(RENDERED)/$$overlay.yaml || exit 1; \
	  $(TOOLS)/kubernetes-validate --strict --quiet $(RENDERED)/$$overlay.yaml || exit 1; \
	  $(TOOLS)/checkov --quiet --compact --skip-download --framework kubernetes -f $(RENDERED)/$$overlay.yaml || exit 1; \
	done
	$(TOOLS)/checkov --quiet --compact --skip-download --framework terraform -d deploy/terraform
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts.test.yml

# The container image built and run with podman (slow, root, not part of make test).
container-deps:
	@command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 || { \
	  echo "installing podman, runc and debootstrap (Debian) for the container check"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc debootstrap >/dev/null; }

container-check: $(BIN)/.installed container-deps
	bash deploy/container/check.sh

test: lint system-deps deploy-check
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

bench: $(BIN)/.installed
	$(BIN)/python bench/capture.py
	$(BIN)/python bench/seal.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .mypy_cache .ruff_cache .pytest_cache $(RENDERED)
