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
# MicroPython's 32-bit webassembly port (npm), run under Node to measure the heap of a 32-bit
# MCU (tools/wasm, docs/memory.md); installed into .node/ (git-ignored)
WASM_PKG := @micropython/micropython-webassembly-pyscript
WASM_VER := 1.28.0-6
NODE_DIR := .node
WASM_OK := $(NODE_DIR)/ok-$(WASM_VER)

.PHONY: all setup test demo run mpy bench clean console flash deploy wasm32 heap32

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

# Node + the webassembly port; a failure here (no network, not root) only warns: the 32-bit
# figures and their tests then say they are unavailable
$(WASM_OK):
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "installing Debian packages: nodejs npm"; \
	    if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null || echo "warning: apt-get nodejs npm failed"; \
	    else echo "warning: not root; install nodejs and npm for the 32-bit heap figures"; fi; }
	@mkdir -p $(NODE_DIR)
	@if command -v npm >/dev/null && npm install --prefix $(NODE_DIR) --no-audit --no-fund --no-save --silent $(WASM_PKG)@$(WASM_VER); then \
	  rm -f $(NODE_DIR)/ok-*; touch $@; echo "$(WASM_PKG)@$(WASM_VER) in $(NODE_DIR)/"; \
	else echo "warning: $(WASM_PKG)@$(WASM_VER) not installed: no 32-bit heap figures"; fi

wasm32: $(WASM_OK)

# the live-heap peak of each wake path on the 64-bit unix port and the 32-bit webassembly port
heap32: $(VENV)/ok wasm32
	$(VPY) tools/wasm/measure.py

test: $(VENV)/ok mpy wasm32
	$(VPY) -m pytest -q host_tests

mpy: $(VENV)/ok
	@$(VPY) tools/runner.py --build

demo: $(VENV)/ok
	$(VPY) tools/runner.py --scenario $(SCENARIO)

run: $(VENV)/ok
	$(VPY) tools/runner.py --external --board $(BOARD) --server $(SERVER) --wakes $(WAKES) --sleep $(SLEEP) $(if $(SECRETS),--secrets $(SECRETS))

console: $(VENV)/ok
	$(VPY) tools/harness/console.py

bench: $(VENV)/ok wasm32
	$(VPY) tools/bench.py

clean:
	rm -rf build reports .sim .pytest_cache
