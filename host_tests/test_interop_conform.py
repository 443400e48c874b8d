"""Interop (issue 18): the whole firmware (micropython, ROMFS image, 64 KiB heap, one process per
wake, tools/runner.Device on the real clock) against servers we did not write, loopback only.

- aiocoap-rd --lwm2m-compat (PyPI aiocoap, RFC 9176 resource directory): it answers Register with
  Location-Path "reg/1/" (an empty last segment); every later wake must Update exactly that path,
  never Register again. The RD has no /dp, so the Send gets 4.04: the wake is still ok.
- libcoap's coap-server-openssl (Debian libcoap3-bin) over DTLS-PSK: see test_libcoap_* below.
"""
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import runner  # noqa: E402
from scenarios import FAST_COAP  # noqa: E402

RD = os.path.join(ROOT, ".venv", "bin", "aiocoap-rd")


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _board(uri, **over):
    b = runner.load_board("unix")
    b["server"]["uri"] = uri
    b["security"]["mode"] = "psk" if uri.startswith("coaps") else "nosec"
    b["schedule"].update({"sleep_s": 3600, "listen_ms": 300, "listen_max_ms": 2000})
    b["coap"].update(FAST_COAP)
    return runner.merge(b, over)


def _wakes(board, n, secrets=None, between=None):
    runner.build_mpy()
    runner.build_romfs()
    work = tempfile.mkdtemp(prefix="lwm2m-interop-")
    try:
        dev = runner.Device(work, board, secrets)
        out = []
        for i in range(n):
            if between and i:
                between(i)
            out.append(asyncio.run(asyncio.wait_for(dev.wake(), 180)))
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rd_lookup(port):
    # the RD's own view: endpoint lookup (RFC 9176 7), via aiocoap's client
    code = ("import asyncio, aiocoap\n"
            "async def m():\n"
            "    c = await aiocoap.Context.create_client_context()\n"
            "    r = await c.request(aiocoap.Message(code=aiocoap.GET, uri='coap://127.0.0.1:%d/endpoint-lookup/')).response\n"
            "    print(r.code, r.payload.decode())\n"
            "    await c.shutdown()\n"
            "asyncio.run(m())\n" % port)
    r = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c", code], capture_output=True,
                       text=True, timeout=60)
    return r.stdout


@pytest.mark.skipif(not os.path.exists(RD), reason="aiocoap-rd not installed (make setup)")
def test_five_wakes_against_aiocoap_rd_update_the_given_location():
    port = _free_port()
    p = subprocess.Popen([RD, "--bind", "127.0.0.1:%d" % port, "--lwm2m-compat"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        t0 = time.time()
        while time.time() - t0 < 30 and "2.05" not in _rd_lookup(port):
            assert p.poll() is None, p.stdout.read()[-2000:]
            time.sleep(0.5)
        w = _wakes(_board("coap://127.0.0.1:%d" % port, endpoint="urn:dev:rd-test"), 5)
        look = _rd_lookup(port)
    finally:
        p.kill()
        p.wait(timeout=10)
    info = [(x.get("path"), x.get("result"), x.get("loc"), x.get("error")) for x in w]
    assert [x[:2] for x in info] == [("nosec+register", "ok")] + [("nosec+update", "ok")] * 4, info
    assert all(x["loc"].endswith("/") for x in w), info          # reg/1/ kept as given
    assert len(set(x["loc"] for x in w)) == 1, info
    assert not any("lost the registration" in ln for x in w for ln in x["log"]), [x["log"] for x in w]
    # the RD holds one registration, ours, with our endpoint name
    assert look.count("ep=\"urn:dev:rd-test\"") == 1 and look.count("<") == 1, look
