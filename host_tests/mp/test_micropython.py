"""Every host_tests/mp/test_*.py module also runs under the micropython binary, at the device's
heap budget (tools/heap_budget.py). This file is the one CPython-only test in host_tests/mp/:
it is the runner, not one of the modules it runs."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MP = os.path.join(ROOT, ".venv", "bin", "micropython")
MODS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "host_tests", "mp", "test_*.py"))
              if not p.endswith("test_micropython.py"))


@pytest.mark.parametrize("mod", MODS)
def test_under_micropython(mod):
    """Firmware from the ROMFS image (as on the device), the test module from source, within
    the device's heap budget (tools/heap_budget.py, plus the image block that stands for flash)."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import runner
    argv = runner.device_argv()
    here = os.path.join(ROOT, "host_tests")
    prog = argv[-1].replace("import main\n", "") + "sys.path.append(%r)\nimport mp_run\nmp_run.run(%r, %r)\n" % (here, mod, here)
    r = subprocess.run(argv[:-1] + [prog], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " 0 failed" in r.stdout


def test_every_firmware_module_imports_under_micropython():
    """Each module imports from the ROMFS image (as deployed) within the device's heap budget."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import runner
    argv = runner.device_argv()
    mods = []
    fw = os.path.join(ROOT, "firmware")
    for dp, _dn, fns in os.walk(fw):
        for fn in fns:
            if fn.endswith(".py") and fn != "main.py":
                rel = os.path.relpath(os.path.join(dp, fn), fw)[:-3].replace(os.sep, ".")
                mods.append(rel[:-9] if rel.endswith(".__init__") else rel)
    boot = argv[-1].replace("import main\n", "")
    prog = boot + "import gc\nbad = []\n"
    prog += "for m in %r:\n    try:\n        __import__(m)\n    except Exception as e:\n        bad.append((m, repr(e)))\n" % sorted(mods)
    prog += "    for k in list(sys.modules):\n        if k not in ('vfs',):\n            sys.modules.pop(k)\n    gc.collect()\n"
    prog += "print('BAD', bad) if bad else print('ALL OK', %d)\n" % len(mods)
    r = subprocess.run(argv[:-1] + [prog], capture_output=True, text=True, timeout=120)
    assert "ALL OK" in r.stdout, r.stdout + r.stderr
