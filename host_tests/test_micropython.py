"""Every host_tests/mp/test_*.py module also runs under the micropython binary, 64 KiB heap."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MP = os.path.join(ROOT, ".venv", "bin", "micropython")
MODS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "host_tests", "mp", "test_*.py")))


@pytest.mark.parametrize("mod", MODS)
def test_under_micropython(mod):
    r = subprocess.run([MP, "-X", "heapsize=64K", os.path.join(ROOT, "host_tests", "mp_run.py"), mod],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " 0 failed" in r.stdout


def test_every_firmware_module_imports_under_micropython():
    mods = []
    fw = os.path.join(ROOT, "firmware")
    for dp, _dn, fns in os.walk(fw):
        for fn in fns:
            if fn.endswith(".py") and fn != "main.py":
                rel = os.path.relpath(os.path.join(dp, fn), fw)[:-3].replace(os.sep, ".")
                mods.append(rel[:-9] if rel.endswith(".__init__") else rel)
    prog = "import sys\nsys.path.insert(0, %r)\nbad = []\n" % fw
    prog += "for m in %r:\n    try:\n        __import__(m)\n    except ImportError as e:\n        bad.append((m, str(e)))\n" % sorted(mods)
    prog += "print('BAD', bad) if bad else print('ALL OK', %d)\n" % len(mods)
    r = subprocess.run([MP, "-X", "heapsize=64K", "-c", prog], capture_output=True, text=True, timeout=120)
    assert "ALL OK" in r.stdout, r.stdout + r.stderr
