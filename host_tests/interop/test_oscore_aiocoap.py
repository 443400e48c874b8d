"""Interop: the firmware OSCORE client (under micropython, from a ROMFS image within a 64 KiB
heap) against an aiocoap OSCORE server with the RFC 8613 Appendix C.1 context.

Proves: a protected request gets a verified response; after the aiocoap server restarts (new
process, same context directory) the client gets a protected 4.01 + Echo and recovers by
repeating with Echo; the client's Sender Sequence Number persists across its own restarts."""
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTEROP = os.path.join(ROOT, "tools", "interop")
sys.path.insert(0, INTEROP)
import romfs  # noqa: E402

PY = os.path.join(ROOT, ".venv", "bin", "python")
pytest.importorskip("aiocoap")


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _start_server(port, ctxdir):
    lock = os.path.join(ctxdir, "lock")
    if os.path.exists(lock):
        os.remove(lock)            # the previous process was killed: its lock is stale
    p = subprocess.Popen([PY, os.path.join(INTEROP, "aiocoap_oscore_server.py"), str(port), ctxdir],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 20:
        line = p.stdout.readline()
        if line.startswith("ready"):
            return p
        if p.poll() is not None:
            break
    p.kill()
    raise AssertionError("aiocoap server did not start: " + p.stderr.read()[-2000:])


def _stop(p):
    p.kill()
    p.wait(timeout=10)


def _client(img, port, state, *ops):
    code = "sys.argv[1:] = %r\nimport mp_oscore_client\n" % ([str(port), state] + list(ops),)
    r = subprocess.run(romfs.argv(img, code), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] == "RESULT":
            res.setdefault(f[1], []).append(dict(x.split("=", 1) for x in f[3:] if "=" in x) |
                                            {"code": f[2]})
    heap = {f[1]: int(f[2]) for f in (ln.split() for ln in r.stdout.splitlines()) if f and f[0] == "HEAP"}
    return res, heap, r.stdout


def test_firmware_client_against_aiocoap(tmp_path):
    ctxdir = tmp_path / "ctx"
    ctxdir.mkdir()
    # RFC 8613 C.1.2: the server's view (Sender ID 01, Recipient ID empty)
    (ctxdir / "settings.json").write_text(json.dumps({
        "sender-id_hex": "01", "recipient-id_hex": "", "secret_hex": "0102030405060708090a0b0c0d0e0f10",
        "salt_hex": "9e7ca92223786340"}))
    state = str(tmp_path / "dev")
    os.mkdir(state)
    img = romfs.build(str(tmp_path / "rom"), [os.path.join(INTEROP, "mp_oscore_client.py")])
    imgsz = os.path.getsize(img)
    port = _free_port()
    srv = _start_server(port, str(ctxdir))
    try:
        res, heap, out = _client(img, port, state, "GET:hello", "POST:hello:hi", "POST:rd/5a3f")
        print(out)
        get = res["GET:hello"][0]
        assert get["code"] == "2.05" and bytes.fromhex(get["payload"]) == b"Hello World!" and get["echo"] == "0"
        assert res["POST:hello:hi"][0]["code"] == "2.04" and bytes.fromhex(res["POST:hello:hi"][0]["payload"]) == b"hi"
        upd = res["POST:rd/5a3f"][0]
        assert upd["code"] == "2.04"
        # the Update with an empty kid (C.1 has an empty client Sender ID): 27 - 1 = 26 B up
        up, down = map(int, upd["bytes"].split("/"))
        assert (up, down) == (26, 16), upd
        first_ssns = [int(res[k][0]["ssn"]) for k in ("GET:hello", "POST:hello:hi", "POST:rd/5a3f")]
        # client restart (new process): SSN continues above every value used
        res2, _h, out2 = _client(img, port, state, "GET:hello")
        assert res2["GET:hello"][0]["code"] == "2.05"
        assert int(res2["GET:hello"][0]["ssn"]) > max(first_ssns)
        # server restart: same context dir, replay window unknown -> 4.01 + Echo -> repeat
        _stop(srv)
        srv = _start_server(port, str(ctxdir))
        res3, heap3, out3 = _client(img, port, state, "POST:hello:again", "GET:hello")
        print(out3)
        a = res3["POST:hello:again"][0]
        assert a["code"] == "2.04" and a["echo"] == "1" and bytes.fromhex(a["payload"]) == b"again", out3
        assert res3["GET:hello"][0]["echo"] == "0" and res3["GET:hello"][0]["code"] == "2.05"
        print("heap (bytes in use, image excluded):",
              {k: v - imgsz for k, v in list(heap.items()) + list(heap3.items())})
        assert heap["after-connect"] - imgsz < 40 * 1024
    finally:
        _stop(srv)
