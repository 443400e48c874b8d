"""Runs host_tests/mp/oscore_channel_cases.py: every case under CPython (pytest), and all of
them in one micropython process with the firmware from a ROMFS image within a 64 KiB heap."""
import os
import subprocess
import sys

import pytest

import oscore_channel_cases as cases

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # host_tests/
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "interop"))
import romfs  # noqa: E402

NAMES = sorted(n for n in dir(cases) if n.startswith("case_"))


@pytest.mark.parametrize("name", NAMES)
def test_case_cpython(name):
    getattr(cases, name)()


def test_cases_under_micropython_64k(tmp_path):
    # firmware, the cases module and fakes.py precompiled in the image; the fakes and the cases
    # run in the same 64 KiB heap as the firmware code they drive
    img = romfs.build(str(tmp_path), [os.path.join(HERE, "mp", "oscore_channel_cases.py"),
                                      os.path.join(HERE, "fakes.py")])
    code = ("import oscore_channel_cases as m\ngc.collect()\n"
            "print('heap after imports', gc.mem_alloc() - IMG)\nok = 0\n"
            "for n in sorted(dir(m)):\n"
            "    if n.startswith('case_'):\n"
            "        getattr(m, n)()\n        gc.collect()\n        ok += 1\n        print('ok', n)\n"
            "print('passed', ok)\n")
    r = subprocess.run(romfs.argv(img, code), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ("passed %d" % len(NAMES)) in r.stdout, r.stdout
    print(r.stdout)
