"""The shape issue #15 asks of firmware/: no function over ~80 lines (tools/funclen.py), and the
wake cycle uses the channel contract without probing it (getattr/hasattr on the channel)."""
import os
import re

import funclen

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# cfgcheck.check: 22 of its 85 lines are the spec string (data, written to intern few names)
EXCEPTIONS = {("firmware/cfgcheck.py", "check")}


def test_no_function_in_firmware_over_80_lines():
    rows = funclen.long_functions(80)
    over = [r for r in rows if (r[0].replace(os.sep, "/"), r[1]) not in EXCEPTIONS]
    assert not over, over
    # and the scanner does see long functions: the exception is over the limit
    assert any(r[1] == "check" for r in rows)


def test_the_wake_cycle_does_not_probe_the_channel():
    src = open(os.path.join(ROOT, "firmware", "wake", "cycle.py")).read()
    assert not re.search(r"(getattr|hasattr)\(chan\b", src)
    for step in ("def load(", "def socket(", "def plan(", "def connect(", "def serve(", "def schedule("):
        assert step in src, step
