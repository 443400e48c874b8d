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
PORT ?=
FIRMWARE ?=
DRY ?=
DRYFLAG := $(if $(DRY),--dry-run)
DEB_PKGS := openssl libcoap3-bin
# MicroPython's 32-bit webassembly port (npm), run under Node to measure the heap of a 32-bit
# MCU (tools/wasm, docs/memory.md); installed into .node/ (git-ignored)
WASM_PKG := @micropython/micropython-webassembly-pyscript
WASM_VER := 1.28.0-6
NODE_DIR := .node
WASM_OK := $(NODE_DIR)/ok-$(WASM_VER)

.PHONY: all help setup test test-unit test-mp test-e2e test-interop demo run mpy bench bench-planner clean console flash deploy monitor hw-test size wasm32 heap32 fuzz

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

# one kind of test (host_tests/<kind>/; README "Test"); K=expr passes -k to pytest
test-unit test-mp test-interop: $(VENV)/ok mpy
	$(VPY) -m pytest -q host_tests/$(@:test-%=%) $(if $(K),-k "$(K)")

test-e2e: $(VENV)/ok mpy wasm32
	$(VPY) -m pytest -q host_tests/e2e $(if $(K),-k "$(K)")

mpy: $(VENV)/ok
	@$(VPY) tools/runner.py --build

demo: $(VENV)/ok
	$(VPY) tools/runner.py --scenario $(SCENARIO)

run: $(VENV)/ok
	$(VPY) tools/runner.py --external --board $(BOARD) --server $(SERVER) --wakes $(WAKES) --sleep $(SLEEP) $(if $(SECRETS),--secrets $(SECRETS))

help:
	@echo "make setup                 create .venv with the pinned tools (every target does it on first use)"
	@echo "make test                  all tests (unit under CPython and micropython, end to end, interop)"
	@echo "make test-unit|test-mp|test-e2e|test-interop [K=expr]   one kind: host_tests/unit, mp, e2e, interop"
	@echo "make demo [SCENARIO=demo]  a simulated day of wakes through a NAT; reports/SCENARIO.{json,png}"
	@echo "make bench                 measured bytes per wake of each security mode"
	@echo "make heap32                live-heap peak per wake path, 64-bit unix port vs 32-bit webassembly port"
	@echo "make mpy                   compile firmware/ with mpy-cross and pack build/firmware.romfs"
	@echo "make size                  .mpy bytes per module and in total"
	@echo "make run SERVER=coap://HOST:PORT [WAKES=5] [SLEEP=60] [BOARD=unix] [SECRETS=file]"
	@echo "                           the firmware (unix port, real clock) against your server"
	@echo "make console [PORT=5683] [HOST=0.0.0.0]   the harness LwM2M server on UDP port PORT (HOST: listen address) with its console"
	@echo "make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-ROMFS-....bin [DRY=1]"
	@echo "                           erase the board and write the MicroPython image (esptool)"
	@echo "make deploy PORT=/dev/ttyUSB0 BOARD=esp32 SECRETS=secrets/esp32.json [DRY=1]"
	@echo "                           validate config+secrets, then ROMFS image, /main.py, config, secrets (mpremote)"
	@echo "make monitor PORT=/dev/ttyUSB0   the board's log, WAKE lines as the runner's table"
	@echo "make hw-test PORT=/dev/ttyUSB0 BOARD=esp32 SECRETS=secrets/esp32.json SERVER=coap://HOST:PORT [WAKES=3] [SLEEP=20]"
	@echo "                           deploy, run a few wakes against SERVER, check the WAKE lines"
	@echo "make bench-planner [QUICK=1]   the planner vs every fixed strategy over a scenario suite (docs/planner.md)"
	@echo "make fuzz [FUZZ_N=100000] [TARGETS=coap,dm]   the project's fuzzers under micropython (docs/hostile.md)"
	@echo "make clean                 remove build/, reports/, .sim/"
	@echo "DRY=1: print the exact esptool/mpremote command lines without running them"

console: $(VENV)/ok
	$(VPY) tools/deploy.py console --port $(or $(PORT),5683) $(if $(HOST),--host $(HOST))

flash: $(VENV)/ok
	$(VPY) tools/deploy.py flash --port "$(PORT)" --firmware "$(FIRMWARE)" $(DRYFLAG)

deploy: $(VENV)/ok
	$(VPY) tools/deploy.py deploy --port "$(PORT)" --board "$(if $(filter command line environment,$(origin BOARD)),$(BOARD))" --secrets "$(SECRETS)" $(DRYFLAG)

monitor: $(VENV)/ok
	$(VPY) tools/deploy.py monitor --port "$(PORT)"

hw-test: $(VENV)/ok
	$(VPY) tools/deploy.py hw-test --port "$(PORT)" --board "$(if $(filter command line environment,$(origin BOARD)),$(BOARD),esp32)" --secrets "$(SECRETS)" --server "$(if $(filter command line environment,$(origin SERVER)),$(SERVER))" --wakes $(if $(filter command line environment,$(origin WAKES)),$(WAKES),3) --sleep $(if $(filter command line environment,$(origin SLEEP)),$(SLEEP),20) $(DRYFLAG)

size: $(VENV)/ok mpy
	$(VPY) tools/size.py

bench: $(VENV)/ok wasm32
	$(VPY) tools/bench.py

# the project's own fuzzers under micropython: FUZZ_N inputs per target (tools/fuzz/run.py)
FUZZ_N ?= 100000
fuzz: $(VENV)/ok
	$(VPY) tools/fuzz/run.py --n $(FUZZ_N) $(if $(TARGETS),--targets $(TARGETS))

clean:
	rm -rf build reports .sim .pytest_cache

# the wake planner against every fixed strategy in hindsight (tools/bench_planner.py, docs/planner.md);
# QUICK=1 for a small subset
bench-planner: $(VENV)/ok
	$(VPY) tools/bench_planner.py $(if $(QUICK),--quick)
