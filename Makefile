# One-command set-up: every target that needs tools depends on .venv/ok, which creates the
# virtual environment and installs the pinned packages on first use.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
MPY := $(VENV)/bin/micropython
BOARD ?= unix
WAKES ?= 5
SLEEP ?= 60
SERVER ?= coap://127.0.0.1:5683
SECRETS ?=
SCENARIO ?= demo
DEB_PKGS := openssl libcoap3-bin

.PHONY: all setup test demo run mpy bench clean console flash deploy fuzz

all: test

$(VENV)/ok: requirements.txt
	@command -v openssl >/dev/null && command -v coap-client-openssl >/dev/null || \
	  { echo "installing Debian packages: $(DEB_PKGS)"; \
	    if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS)) >/dev/null || echo "warning: apt-get failed; interop tests needing them will be skipped"; \
	    else echo "warning: not root; install $(DEB_PKGS) for the interop tests"; fi; }
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements.txt
	@$(MPY) -c "import sys; print('micropython', sys.version)"
	touch $@

setup: $(VENV)/ok

test: $(VENV)/ok mpy
	$(VPY) -m pytest -q host_tests

mpy: $(VENV)/ok
	@$(VPY) tools/runner.py --build

demo: $(VENV)/ok
	$(VPY) tools/runner.py --scenario $(SCENARIO)

run: $(VENV)/ok
	$(VPY) tools/runner.py --external --board $(BOARD) --server $(SERVER) --wakes $(WAKES) --sleep $(SLEEP) $(if $(SECRETS),--secrets $(SECRETS))

console: $(VENV)/ok
	$(VPY) tools/harness/console.py

bench: $(VENV)/ok
	$(VPY) tools/bench.py

# the project's own fuzzers under micropython: FUZZ_N inputs per target (tools/fuzz/run.py)
FUZZ_N ?= 100000
fuzz: $(VENV)/ok
	$(VPY) tools/fuzz/run.py --n $(FUZZ_N) $(if $(TARGETS),--targets $(TARGETS))

clean:
	rm -rf build reports .sim .pytest_cache
