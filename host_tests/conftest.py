"""pytest set-up: firmware/ importable under CPython (with the MicroPython shims), tools/ too,
and host_tests/ itself (fakes.py, scenario_util.py) and host_tests/mp/ (its fixtures) for the
tests in host_tests/unit/, e2e/, interop/ and mp/."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("firmware", "tools/cpython_shims", "tools", "host_tests", "host_tests/mp"):
    q = os.path.join(ROOT, p)
    if q not in sys.path:
        sys.path.insert(0, q)
