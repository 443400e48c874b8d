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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


def _wakes(board, n, secrets=None, sleep_s=None):
    """n wakes of the device, one process each. sleep_s: a virtual clock (tools/simclock.py) is
    advanced that far between wakes (the device 'slept': its planner does not count on a live
    NAT mapping); the server runs on the real clock."""
    runner.build_mpy()
    runner.build_romfs()
    work = tempfile.mkdtemp(prefix="lwm2m-interop-")
    try:
        clock = None
        if sleep_s:
            from simclock import SimClock
            clock = SimClock(os.path.join(work, "clock"), start=runner.T0)
        dev = runner.Device(work, board, secrets, clock.path if clock else None)
        out = []
        for i in range(n):
            if clock and i:
                clock.advance(sleep_s)
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
        # a resource directory has no LwM2M Send (/dp): no report, or every wake would rightly be
        # 'partial' (a Send due and not delivered)
        w = _wakes(_board("coap://127.0.0.1:%d" % port, endpoint="urn:dev:rd-test",
                          schedule={"report": "none"}), 5)
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


# -- libcoap coap-server-openssl, DTLS-PSK ------------------------------------------------------
# coap-server is a plain CoAP server, not an LwM2M server. With -d it creates a resource on the
# first POST to an unknown path and answers 2.01 Created with Location-Path "rd" (plus
# Location-Query echoing ep/lt, which the client ignores); a later POST /rd answers 2.04 Changed.
# That is enough for LwM2M: Register (POST /rd?ep=..) gets 2.01 + Location-Path rd, every Update
# (POST /rd) gets 2.04. A second Register would get 2.04 (not 2.01) and fail: the tests rely on
# no re-registration. Its openssl backend resumes sessions by session ID.
LIBCOAP = shutil.which("coap-server-openssl")
PSK_ASCII = "secretPSK"
SECRETS = {"psk_identity": "Client_identity", "psk_key": PSK_ASCII.encode().hex()}


def _libcoap(tmp_path):
    for _ in range(20):
        p = _free_port()
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", p + 1))       # coap-server listens on p (CoAP) and p+1 (CoAPS)
            s.close()
            break
        except OSError:
            continue
    log = open(str(tmp_path / "libcoap.log"), "w")
    srv = subprocess.Popen([LIBCOAP, "-A", "127.0.0.1", "-p", str(p), "-k", PSK_ASCII, "-d", "8", "-v", "7"],
                           stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    assert srv.poll() is None, open(str(tmp_path / "libcoap.log")).read()[-2000:]
    return srv, p + 1, str(tmp_path / "libcoap.log")


def _stop(srv):
    import signal
    srv.send_signal(signal.SIGINT)          # coap-server quits cleanly: its log is flushed
    try:
        srv.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.kill()
        srv.wait(timeout=10)


def _summary(w):
    return [(x["wake"] if "wake" in x else i, x.get("path"), x.get("result"), x.get("tried"), x.get("error"))
            for i, x in enumerate(w)]


@pytest.mark.skipif(not LIBCOAP, reason="coap-server-openssl (libcoap3-bin) not installed")
def test_five_wakes_resumed_against_libcoap(tmp_path):
    # an hour asleep between wakes, a fresh local port each wake (the NAT forgot us): wake 0 is
    # a full handshake + Register, every later wake a resumption + Update, never a fallback.
    # The Update goes in a datagram of its own after our CCS+Finished (security.piggyback false,
    # the default): libcoap 4.3 logs a request carried with the Finished as "delayed" and never
    # answers it (nor its retransmissions: "mid=..: already in-use - dropped").
    srv, port, logf = _libcoap(tmp_path)
    try:
        board = _board("coaps://127.0.0.1:%d" % port, security={"cid": None},
                       schedule={"report": "none"})
        w = _wakes(board, 5, SECRETS, sleep_s=3600)
    finally:
        _stop(srv)
    log = open(logf).read()
    s = _summary(w)
    assert [x[1:3] for x in s] == [("full-handshake+register", "ok")] + [("resume+update", "ok")] * 4, s
    assert not any(x.get("tried") for x in w), s
    assert log.count("session connected") == 5, log[-3000:]     # one handshake per wake
    assert "delayed" not in log
    assert log.count("c:POST") >= 5 and log.count("c:2.01") == 1 and log.count("c:2.04") >= 4
    # resumption: ClientHello with the session ID, no ServerKeyExchange/ClientKeyExchange
    assert log.count("read client key exchange") == 1, log.count("read client key exchange")
    for x in w[1:]:       # seen: 617 B per resumption + Update, 794 B for handshake + Register
        assert x["up"] + x["down"] < w[0]["up"] + w[0]["down"], x
        assert x["dg_up"] == 4, x   # ClientHello, again with the cookie, CCS+Finished, the Update alone


@pytest.mark.skipif(not LIBCOAP, reason="coap-server-openssl (libcoap3-bin) not installed")
def test_libcoap_piggybacked_update_falls_back_to_a_handshake_from_a_fresh_port(tmp_path):
    # security.piggyback true: the resumed handshake completes but libcoap never answers the
    # Update carried with our Finished; the fallback full handshake must come from a fresh local
    # port (libcoap ignores a new ClientHello from an address it holds a session for) and the
    # wake still succeeds. register_after_handshake "never": libcoap's /rd is no LwM2M server
    # (a second Register would get 2.04), so the new context is followed by an Update here.
    srv, port, logf = _libcoap(tmp_path)
    try:
        board = _board("coaps://127.0.0.1:%d" % port, security={"cid": None, "piggyback": True},
                       server={"register_after_handshake": "never"}, schedule={"report": "none"})
        w = _wakes(board, 2, SECRETS, sleep_s=3600)
    finally:
        _stop(srv)
    log = open(logf).read()
    s = _summary(w)
    assert [x[1:3] for x in s] == [("full-handshake+register", "ok"), ("full-handshake+update", "ok")], s
    assert w[1]["tried"] == [["resume", "no-answer"], ["full-handshake", "ok"]], s
    assert "delayed" in log                               # the piggybacked Update, never answered
    assert log.count("read client key exchange") == 2     # the fallback handshake completed
