"""pytest set-up: firmware/ importable under CPython (with the MicroPython shims), tools/ too."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("firmware", "tools/cpython_shims", "tools", "host_tests/mp"):
    q = os.path.join(ROOT, p)
    if q not in sys.path:
        sys.path.insert(0, q)
