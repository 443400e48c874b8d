"""Helpers for end-to-end tests: run a scenario dict through tools/runner.py, bounded in time."""
import asyncio
import copy
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import runner  # noqa: E402
from scenarios import FAST_COAP, FAST_SCHED  # noqa: E402


def base(**kw):
    sc = {"wakes": 3, "mode": "nosec", "plugins": ["nosec"],
          "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": dict(FAST_COAP)},
          "nat": {"timeout_s": 120}, "local_port": "fresh"}
    for k, v in kw.items():
        if isinstance(v, dict) and isinstance(sc.get(k), dict):
            sc[k] = runner.merge(sc[k], v)
        else:
            sc[k] = copy.deepcopy(v)
    return sc


def run(sc, timeout=240, name="test"):
    return asyncio.run(asyncio.wait_for(runner.run_scenario(name, sc, out_dir=None, quiet=True), timeout))


def events(rep, kind):
    return [e for e in rep["server_events"] if e["ev"] == kind]
