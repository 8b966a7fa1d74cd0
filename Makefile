# Winnow's two commands: `make demo` and `make test`. Both set up everything they need.
#
# Virtualenvs are cached under $(CACHE_DIR), keyed by the hash of their lock file, so a second
# clone (or a second CI run on the same machine) reuses them. Each checkout gets a thin
# `.venv` that layers the cached dependencies under an editable install of this checkout.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
CACHE_DIR ?= $(HOME)/.cache/winnow

APP_LOCK := requirements/lock.txt
LS_LOCK := requirements/label-studio.lock.txt
APP_HASH := $(shell cat $(APP_LOCK) | sha256sum | cut -c1-16)
LS_HASH := $(shell cat $(LS_LOCK) | sha256sum | cut -c1-16)
DEPS_VENV := $(CACHE_DIR)/venv-deps-$(APP_HASH)
LS_VENV := $(CACHE_DIR)/venv-label-studio-$(LS_HASH)
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := tuxpaint-stamps-default dataset-fashion-mnist labelme-examples chromium postgresql-15 opencv-doc
SAMPLES := build/samples
DEMO_DIR := build/demo
CODE := winnow ml_backend sync analysis serve tests benchmarks

.PHONY: demo test setup apt venv label-studio lint clean bench stack-test

demo: setup label-studio
	$(VENV)/bin/winnow samples $(SAMPLES) --which demo
	WINNOW_DATA_DIR=$(DEMO_DIR) WINNOW_LS_VENV=$(abspath $(LS_VENV)) \
	  $(VENV)/bin/winnow demo $(SAMPLES)/demo

test: setup label-studio lint
	WINNOW_LS_VENV=$(abspath $(LS_VENV)) $(PY) -m pytest -q

setup: apt venv

apt: build/.apt-$(shell echo $(APT_PACKAGES) | sha256sum | cut -c1-8)
build/.apt-%:
	@mkdir -p build
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then echo "apt packages present"; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $(APT_PACKAGES); fi
	@touch $@

# The directory name carries the lock's hash, so no file-time prerequisite: a fresh clone
# (new mtimes) must reuse, never rebuild, a venv that other checkouts may be using.
$(DEPS_VENV)/.complete:
	rm -rf $(DEPS_VENV)
	$(PYTHON) -m venv $(DEPS_VENV)
	$(DEPS_VENV)/bin/pip install -q --upgrade pip
	$(DEPS_VENV)/bin/pip install -q --no-deps -r $(APP_LOCK)
	$(DEPS_VENV)/bin/python requirements/pip_check.py
	touch $@

venv: $(VENV)/.complete-$(APP_HASH)
$(VENV)/.complete-$(APP_HASH): $(DEPS_VENV)/.complete pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv --without-pip $(VENV)
	$(DEPS_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
	  > $$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/_winnow_deps.pth
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	ln -sf $(DEPS_VENV)/bin/weed $(VENV)/bin/weed
	touch $@

label-studio: $(LS_VENV)/.complete
$(LS_VENV)/.complete:
	rm -rf $(LS_VENV)
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q --upgrade pip
	$(LS_VENV)/bin/pip install -q --no-deps -r $(LS_LOCK)
	touch $@

bench: setup
	$(VENV)/bin/winnow samples $(SAMPLES) --which bench
	$(PY) benchmarks/features.py --folder $(SAMPLES)/bench

# The compose stack, built and run for real under Podman (long: not part of `make test`).
STACK_APT := podman runc uidmap fuse-overlayfs slirp4netns debootstrap
PODMAN_COMPOSE := podman-compose==1.6.0
COMPOSE_VENV := $(CACHE_DIR)/venv-podman-compose-$(shell echo $(PODMAN_COMPOSE) | sha256sum | cut -c1-8)

stack-test: setup
	@dpkg -s $(STACK_APT) >/dev/null 2>&1 || $(MAKE) APT_PACKAGES="$(STACK_APT)" apt
	@test -x $(COMPOSE_VENV)/bin/podman-compose || { $(PYTHON) -m venv $(COMPOSE_VENV) && \
	  $(COMPOSE_VENV)/bin/pip install -q $(PODMAN_COMPOSE); }
	$(PY) deploy/stack_test.py --compose $(COMPOSE_VENV)/bin/podman-compose

lint: venv
	$(PY) -m ruff check $(CODE)
	$(PY) -m ruff format --check $(CODE)

clean:
	rm -rf $(VENV) build .pytest_cache
