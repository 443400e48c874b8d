"""RFC 8613 App. B.1.1 property: no sender sequence number reused under one context across
deep sleeps, resets and power cuts (host_tests/mp/oscore_property.py), the real channel code
under CPython (1,200 wakes per seed) and under micropython from ROMFS in a 64 KiB heap."""
import os
import subprocess
import sys

import pytest

import oscore_property as prop

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # host_tests/
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "interop"))
import romfs  # noqa: E402


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_no_piv_reuse_over_1200_wakes_cpython(seed):
    n = prop.run(1200, seed)
    print(n)
    # the run did exercise what it claims to: every kind of ending, cuts inside writes,
    # B.2 re-runs after the server or the device lost the context, many requests
    for k in ("sleep", "reset", "cut", "cut_in_write", "server_lost", "device_forgot"):
        assert n[k] > 5, (k, n)
    assert n["b2"] > 10 and n["requests"] > 1500 and n["checked"] > 1500, n


def test_no_piv_reuse_under_micropython_64k(tmp_path):
    img = romfs.build(str(tmp_path), [os.path.join(HERE, "mp", "oscore_property.py")])
    code = ("import oscore_property as p\ngc.collect()\n"
            "n = p.run(200, 5)\nprint('RESULT', n['requests'], n['b2'], n['cut'], n['checked'])\n")
    r = subprocess.run(romfs.argv(img, code), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    f = [ln.split() for ln in r.stdout.splitlines() if ln.startswith("RESULT")][0]
    assert int(f[1]) > 200 and int(f[2]) > 2 and int(f[3]) > 10, r.stdout
