"""The firmware DTLS 1.2 PSK client (firmware/dtls, under the micropython binary, 64 KiB heap
budget, code in a ROMFS image as on the device) against an independent server: Mbed TLS 2.28
through python-mbedtls (tools/interop/mbedtls_server.py, a subprocess on 127.0.0.1):
  - full handshake with the HelloVerifyRequest cookie exchange and application data both ways,
    with and without extended master secret, with a CID offered (Mbed TLS here has no CID: it
    must ignore the extension); flight sizes and the extensions Mbed TLS answers with
  - wrong PSK / unknown identity -> outcome "auth-failed" at once (Mbed TLS sends a fatal alert),
    bounded in time and datagrams
  - through a UDP relay on the path: garbage, malformed and tampered datagrams and a replayed
    record injected both ways are dropped without breaking the association; lost flights are
    retransmitted
The binding has no session cache: no resumption test here (openssl s_server covers it in
test_dtls_interop.py). Every wait is bounded (subprocess timeouts, relay and server lifetimes);
skips with the reason when python-mbedtls or the micropython binary is missing."""
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

pytest.importorskip("mbedtls.tls", reason="python-mbedtls not importable (pip install python-mbedtls)",
                    exc_type=ImportError)     # also a broken install (a shared library missing)

from interop import mpdev   # noqa: E402

PSK = "000102030405060708090a0b0c0d0e0f"
ROOT = mpdev.ROOT
SERVER = os.path.join(ROOT, "tools", "interop", "mbedtls_server.py")

if not os.path.exists(mpdev.MP):
    pytest.skip("micropython binary missing (%s): run make setup" % mpdev.MP, allow_module_level=True)


@pytest.fixture(scope="module")
def img():
    d = tempfile.mkdtemp(prefix="dtls-mbedtls-romfs-")
    try:
        yield mpdev.build(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def mp(img, opts, budget=None):
    """Run tools/interop/mp_dtls_client.py (raw mode) under micropython; its RESULT dict."""
    env = dict(os.environ, DTLS_OPTS=json.dumps(opts))
    t0 = time.monotonic()
    r = subprocess.run(mpdev.argv(img, heap_budget=budget), env=env, capture_output=True, text=True, timeout=60)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert line, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(line[0][7:])
    res["elapsed"] = time.monotonic() - t0
    assert PSK not in r.stdout and PSK not in r.stderr     # never print the key
    return res


class MbedtlsServer:
    """tools/interop/mbedtls_server.py as a subprocess: port 0 (the kernel picks a free one,
    read back from READY), output lines collected by a thread. Lifetime bounded twice: the
    server's own --timeout and kill() in stop()."""

    def __init__(self, psk=PSK, identity="Client_identity", once=True, lifetime=30, rto=2.0):
        # rto: Mbed TLS's first retransmission timeout; longer than the client's (300-500 ms
        # here) so that only the client's timer fires first and the flights are deterministic
        argv = [sys.executable, SERVER, "--port", "0", "--psk", psk, "--identity", identity,
                "--timeout", str(lifetime), "--rto", str(rto)] + (["--once"] if once else [])
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        if not self._ready.wait(15) or not self.lines[-1].startswith("READY "):
            self.stop()
            pytest.fail("mbedtls_server did not start:\n" + "\n".join(self.lines[-30:]))
        self.port = int(self.lines[-1].split()[1])

    def _read(self):
        for l in self.p.stdout:
            self.lines.append(l.rstrip("\n"))
            if l.startswith(("READY ", "EXIT ")):
                self._ready.set()
        self._ready.set()

    def wait(self, timeout=10):
        """Wait for the server to exit on its own (--once); kill it after timeout. Its lines."""
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        return self.stop()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)
        self._t.join(5)
        self.p.stdout.close()
        out = "\n".join(self.lines)
        assert PSK not in out
        return self.lines

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def grep(self, word):
        return [l for l in self.lines if l.split(" ", 1)[0] == word]


class Relay:
    """A UDP relay on 127.0.0.1 between the client (which talks to relay.port) and the server:
    the man on the path. hook(direction, index, datagram) -> the datagrams to forward in its
    place ('up': client -> server, 'down': server -> client; index counts per direction);
    default: forward unchanged. Runs in a thread until stop() (at most `lifetime` seconds)."""

    def __init__(self, server_port, hook=None, lifetime=30):
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.back.connect(("127.0.0.1", server_port))
        self.hook = hook or (lambda d, i, dg: [dg])
        self.client = None
        self.seen = {"up": [], "down": []}       # datagrams as received, per direction
        self.stopped = threading.Event()
        self.end = time.monotonic() + lifetime
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self.stopped.is_set() and time.monotonic() < self.end:
            r, _w, _x = select.select([self.front, self.back], [], [], 0.05)
            for s in r:
                try:
                    dg, addr = s.recvfrom(4096)
                except OSError:      # ICMP port unreachable from a finished peer
                    continue
                if s is self.front:
                    self.client = addr
                    self.seen["up"].append(dg)
                    for d in self.hook("up", len(self.seen["up"]) - 1, dg):
                        self.back.send(d)
                elif self.client is not None:
                    self.seen["down"].append(dg)
                    for d in self.hook("down", len(self.seen["down"]) - 1, dg):
                        self.front.sendto(d, self.client)

    def stop(self):
        self.stopped.set()
        self._t.join(5)
        self.front.close()
        self.back.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def kind(dg):
    """'CH', 'HVR', 'SH' (first handshake message of a plaintext record), 'CCS', 'APP' or '?'."""
    if len(dg) > 13 and dg[0] == 22:
        return {1: "CH", 2: "SH", 3: "HVR"}.get(dg[13], "?")
    return {20: "CCS", 23: "APP"}.get(dg[0] if dg else 0, "?")


def first(d, want):
    """A relay hook predicate: true for the first datagram of kind `want` in direction d."""
    seen = set()

    def f(direction, dg):
        if direction != d or kind(dg) != want or want in seen:
            return False
        seen.add(want)
        return True
    return f


def flip(dg, i=-1):
    """dg with one bit of byte i flipped (the last byte: inside the CCM_8 tag)."""
    b = bytearray(dg)
    b[i] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize("variant,extra,client_exts,server_exts", [
    ("ems", {}, "23", "65281,23"),
    ("no-ems", {"ems": False}, "", "65281"),
    ("cid-rfc9146-offered", {"cid": 54}, "23,54", "65281,23"),
    ("cid-legacy254-offered", {"cid": 254}, "23,254", "65281,23"),
], ids=["ems", "no-ems", "cid54-offered", "cid254-offered"])
def test_full_handshake_cookie_and_echo(img, variant, extra, client_exts, server_exts):
    with MbedtlsServer() as srv:
        opts = dict({"port": srv.port, "psk": PSK, "send": ["hello-from-micropython"], "recv": 1,
                     "close": True, "rto": 500, "tries": 4}, **extra)
        r = mp(img, opts)
        lines = srv.wait()
    log = "\n".join(lines)
    assert r["ok"], (r, log)
    assert r["path"] == "full-handshake" and r["cookie_len"] > 0, r
    assert r["received"] == ["echo:hello-from-micropython"], (r, log)
    assert r["dropped"] == 0
    assert [l.split(" ", 2)[2] for l in srv.grep("RECV")] == ['"hello-from-micropython"'], log
    assert [l.split(" ", 2)[2] for l in srv.grep("SENT")] == ['"echo:hello-from-micropython"'], log
    assert len(srv.grep("HVR")) == 1 and srv.grep("HVR")[0].endswith("cookie=%d" % r["cookie_len"])
    assert srv.grep("HANDSHAKE")[0].endswith("cipher=TLS-PSK-WITH-AES-128-CCM-8 version=DTLSVersion.DTLSv1_2")
    assert srv.grep("CLOSED") and srv.grep("EXIT") == ["EXIT once: closed"], log
    # ClientHello: our suite + SCSV (RFC 5746) and what we offer; ServerHello: Mbed TLS answers the
    # SCSV with an empty renegotiation_info (65281) and echoes EMS (23) when offered, never a CID
    ch = srv.grep("CLIENTHELLO")
    assert [l.split()[2:] for l in ch] == [["cookie=0", "sid=0", "suites=c0a8,00ff", "exts=" + client_exts],
                                          ["cookie=%d" % r["cookie_len"], "sid=0", "suites=c0a8,00ff",
                                           "exts=" + client_exts]]
    assert [l.split()[2:] for l in srv.grep("SERVERHELLO")] == [["sid=32", "suite=c0a8", "exts=" + server_exts]]
    # wire (UDP payload bytes): CH, CH+cookie, CKE+CCS+Fin, app data, close_notify / HVR
    # (32-byte cookie), SH+SHD (one datagram, 32-byte session ID), CCS+Fin, echo; an
    # application record is 13 (header) + 8 (explicit nonce) + data + 8 (CCM_8 tag)
    # ClientHello: 69 B bare, +2 extension block, +4 EMS, +5 CID (zero-length own CID)
    ch1 = {"ems": 75, "no-ems": 69}.get(variant, 80)
    ems = 0 if variant == "no-ems" else 4
    assert r["sizes_up"] == [ch1, ch1 + 32, 109, 29 + 22, 31], r
    assert r["sizes_down"] == [60, 127 + ems, 67, 29 + 27], r
    assert r["elapsed"] < 10


@pytest.mark.parametrize("psk,identity,alert", [
    ("ff" * 16, "Client_identity", 20),          # bad_record_mac: our Finished does not decrypt
    (PSK, "Someone_else", 115),                  # unknown_psk_identity
], ids=["wrong-key", "unknown-identity"])
def test_wrong_psk_is_auth_failed_bounded(img, psk, identity, alert):
    with MbedtlsServer() as srv:
        t0 = time.monotonic()
        r = mp(img, {"port": srv.port, "psk": psk, "identity": identity, "rto": 300, "tries": 3,
                     "send": ["never-sent"], "recv": 1})
        dt = time.monotonic() - t0
        lines = srv.wait()
    log = "\n".join(lines)
    assert not r["ok"] and r["outcome"] == "auth-failed", (r, log)
    assert "alert %d" % alert in r["error"]
    # no retry storm: CH, CH+cookie, CKE+CCS+Fin and nothing after the alert
    assert r["dg_up"] == 3 and r["dg_down"] == 3 and r["sizes_down"][-1] == 15, r
    assert len([l for l in lines if l.startswith("DGRAM up ")]) == 3, log
    assert any(l.endswith(":alert2.%d" % alert) for l in lines if l.startswith("DGRAM down ")), log
    assert srv.grep("FAIL") and not srv.grep("RECV") and not srv.grep("HANDSHAKE"), log
    assert dt < 10


def test_injected_garbage_and_tampering_both_ways(img):
    """Through a relay: before the HVR the client gets a non-DTLS datagram, a truncated record
    and a handshake record with a malformed fragment; a copy of the server's CCS+Finished with a
    bad tag before the real one; a tampered copy of the first echo before it and a replay of it
    after it. Towards Mbed TLS: a stale non-handshake datagram before our ClientHello (the
    accept() pitfall, dropped by the server script), and a tampered and a replayed copy of our
    first application record (Mbed TLS drops both). The association survives all of it."""
    # a ServerHello fragment claiming 200 bytes in a 16-byte record (12-byte header + 4)
    bogus_hs = bytes.fromhex("16fefd" "0000" "000000000063" "0010" "02" "000050" "0000" "000000" "0000c8") + b"\0" * 4

    hvr, fin, echo1 = first("down", "HVR"), first("down", "CCS"), first("down", "APP")
    ch, app1 = first("up", "CH"), first("up", "APP")

    def hook(d, _i, dg):
        if hvr(d, dg):
            return [b"\x00 not a DTLS record", dg[:9], bogus_hs, dg]
        if fin(d, dg):                                    # CCS + Finished (epoch 1)
            return [flip(dg), dg]
        if echo1(d, dg):                                  # echo:one, one bit of its ciphertext
            return [flip(dg, 30), dg, dg]
        if ch(d, dg):
            return [b"\x15\xfe\xfd stale close_notify of an old client", dg]
        if app1(d, dg):                                   # our first application record: "one"
            return [flip(dg), dg, dg]
        return [dg]

    with MbedtlsServer() as srv, Relay(srv.port, hook) as relay:
        r = mp(img, {"port": relay.port, "psk": PSK, "send": ["one", "two"], "recv": 2, "close": True,
                     "rto": 500, "tries": 4})
        lines = srv.wait()
    log = "\n".join(lines)
    assert r["ok"] and r["path"] == "full-handshake", (r, log)
    assert r["received"] == ["echo:one", "echo:two"], (r, log)
    # garbage, truncated header, malformed fragment, bad-tag Finished, tampered echo, replayed echo
    assert r["dropped"] == 6, r
    assert [l.split(" ", 2)[2] for l in srv.grep("RECV")] == ['"one"', '"two"'], log
    assert len(srv.grep("DROP")) == 1 and srv.grep("DROP")[0].endswith("stale"), log
    assert len(srv.grep("HANDSHAKE")) == 1 and srv.grep("EXIT") == ["EXIT once: closed"], log
    assert len(relay.seen["up"]) == 6 and len(relay.seen["down"]) == 5, relay.seen


@pytest.mark.parametrize("timer", ["client", "server"])
def test_lost_flights_are_retransmitted(img, timer):
    """client: the relay loses the server's ServerHello flight and its CCS+Finished once each;
    our client's timer (300 ms) fires first and resends its flight, Mbed TLS answers the repeated
    flight with its own. server: the ServerHello flight is lost and our client's timer is long
    (3 s): Mbed TLS's timer (0.4 s) resends it and the client takes it."""
    sh, fin = first("down", "SH"), first("down", "CCS")
    if timer == "client":
        def hook(d, _i, dg):
            return [] if sh(d, dg) or fin(d, dg) else [dg]
        rto, srv_rto = 300, 2.0
        up = [75, 107, 107, 109, 109]            # CH+cookie and CKE+CCS+Fin twice
        down = ["HVR", "SH", "SH", "CCS", "CCS", "APP"]
    else:
        def hook(d, _i, dg):
            return [] if sh(d, dg) else [dg]
        rto, srv_rto = 3000, 0.4
        up = [75, 107, 109]
        down = ["HVR", "SH", "SH", "CCS", "APP"]

    with MbedtlsServer(rto=srv_rto) as srv, Relay(srv.port, hook) as relay:
        r = mp(img, {"port": relay.port, "psk": PSK, "send": ["after-loss"], "recv": 1, "close": True,
                     "rto": rto, "tries": 4})
        lines = srv.wait()
    log = "\n".join(lines)
    assert r["ok"] and r["path"] == "full-handshake", (r, log)
    assert r["received"] == ["echo:after-loss"], (r, log)
    assert [l.split(" ", 2)[2] for l in srv.grep("RECV")] == ['"after-loss"'], log
    assert r["sizes_up"][:len(up)] == up, r
    assert [kind(dg) for dg in relay.seen["down"]] == down, log
    assert r["elapsed"] < 15
