"""The harness server's security plugins are independent of the firmware (house rule: the
harness server must not decode with firmware code):
- tools/harness/dtls_server.py, oscore_server.py and their wire modules import nothing from
  firmware/ (checked in a fresh interpreter whose sys.path has no firmware/, and statically);
- their own RFC code gives the RFCs' known answers: RFC 8613 Appendix C (key derivation,
  protected requests and responses), the TLS 1.2 PRF test vector, wire-budget.md 3.2's AADs;
- a misreading shared by both ends of the firmware (a wrong AAD) fails against them.
Peers we did not write against the plugins: host_tests/interop/test_harness_peers.py."""
import ast
import json
import os
import subprocess
import sys
from binascii import unhexlify

import pytest

from harness import coap as C
from harness import dtls_wire as W
from harness import oscore_wire as O

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
HARNESS = os.path.join(TOOLS, "harness")
PY = sys.executable
PSK = "000102030405060708090a0b0c0d0e0f"
PLUGIN_FILES = ("dtls_server.py", "oscore_server.py", "dtls_wire.py", "oscore_wire.py")


def h(s):
    return unhexlify(s.replace(" ", ""))


# -- no firmware code -----------------------------------------------------------------------
_PROBE = r"""
import sys, os, json
root, tools = sys.argv[1], sys.argv[2]
fw = os.path.join(root, "firmware")
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.abspath(root)]
sys.path.insert(0, tools)
import harness.dtls_server, harness.oscore_server

class Clock:
    def now(self): return 0.0

class Srv:
    clock = Clock()
    def log(self, *a, **k): pass
    def sendto(self, *a): pass
    def deliver(self, *a): pass

d = harness.dtls_server.DtlsPlugin(Srv())
o = harness.oscore_server.OscorePlugin(Srv(), clients=[{"master_secret": "00" * 16, "sender_id": "01",
                                                       "recipient_id": "00"}])
fw_mods = sorted(n for n, m in list(sys.modules.items())
                 if os.path.abspath(getattr(m, "__file__", None) or "/").startswith(fw + os.sep))
shims = sorted(n for n, m in list(sys.modules.items())
               if "cpython_shims" in (getattr(m, "__file__", None) or ""))
print(json.dumps({"firmware": fw_mods, "shims": shims,
                  "names": sorted(n for n in ("dtls", "oscore", "crypto", "errors", "micropython", "coap",
                                              "harness._paths") if n in sys.modules),
                  "path": [p for p in sys.path if p.startswith(fw)]}))
"""


def test_plugins_import_nothing_from_firmware():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([PY, "-c", _PROBE, ROOT, TOOLS], capture_output=True, text=True, timeout=60,
                       env=env, cwd=TOOLS)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == {"firmware": [], "shims": [], "names": [], "path": []}, got


def test_plugin_sources_import_only_stdlib_cryptography_cbor2_and_harness_modules():
    allowed_top = {"hashlib", "hmac", "os", "struct", "asyncio", "cbor2", "cryptography"}
    allowed_harness = {"coap", "dtls_wire", "oscore_wire"}
    for f in PLUGIN_FILES:
        tree = ast.parse(open(os.path.join(HARNESS, f)).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert a.name.split(".")[0] in allowed_top, (f, a.name)
            elif isinstance(node, ast.ImportFrom):
                if node.module == "harness":
                    assert {a.name for a in node.names} <= allowed_harness, (f, [a.name for a in node.names])
                elif node.module.startswith("harness."):
                    assert node.module.split(".")[1] in allowed_harness, (f, node.module)
                else:
                    assert node.module.split(".")[0] in allowed_top, (f, node.module)


# -- RFC 8613 Appendix C known answers -------------------------------------------------------
SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")


def test_rfc8613_c1_to_c3_key_derivation():
    assert O.info(b"", None, "Key", 16) == h("8540f60a634b657910")             # C.1.1
    assert O.info(h("01"), None, "Key", 16) == h("854101f60a634b657910")
    assert O.info(b"", None, "IV", 13) == h("8540f60a6249560d")
    sk, rk, iv = O.derive(SECRET, SALT, b"", h("01"))                         # C.1.1 client
    assert (sk, rk, iv) == (h("f0910ed7295e6ad4b54fc793154302ff"), h("ffb14e093c94c9cac9471648b4f98710"),
                            h("4622d4dd6d944168eefb54987c"))
    assert O.nonce(iv, b"", b"\x00") == h("4622d4dd6d944168eefb54987c")
    assert O.nonce(iv, h("01"), b"\x00") == h("4722d4dd6d944169eefb54987c")
    assert O.derive(SECRET, SALT, h("01"), b"")[:2] == (rk, sk)              # C.1.2 server
    sk, rk, iv = O.derive(SECRET, b"", h("00"), h("01"))                      # C.2.1 (no salt)
    assert (sk, rk, iv) == (h("321b26943253c7ffb6003b0b64d74041"), h("e57b5635815177cd679ab4bcec9d7dda"),
                            h("be35ae297d2dace910c52e99f9"))
    assert O.nonce(iv, h("00"), b"\x00") == h("bf35ae297d2dace910c52e99f9")
    assert O.nonce(iv, h("01"), b"\x00") == h("bf35ae297d2dace810c52e99f9")
    idc = h("37cbf3210017a2d3")                                               # C.3.1 (ID Context)
    assert O.info(h("01"), idc, "Key", 16) == h("8541014837cbf3210017a2d30a634b657910")
    sk, rk, iv = O.derive(SECRET, SALT, b"", h("01"), idc)
    assert (sk, rk, iv) == (h("af2a1300a5e95788b356336eeecd2b92"), h("e39a0c7c77b43f03b4b39ab9a268699f"),
                            h("2ca58fb85ff1b81c0b7181b85e"))
    with pytest.raises(O.OscoreError):
        O.derive(SECRET, SALT, bytes(8), b"")                                 # 3.3: IDs <= 7 bytes


def test_rfc8613_5_4_aad_examples():
    assert O.aad(h("00"), h("25")) == h("8368456e63727970743040498501810a4100412540")
    assert O.aad(b"", h("14")) == h("8368456e63727970743040488501810a40411440")


@pytest.mark.parametrize("name,secret_salt,client_ids,idc,plain,prot", [
    ("C.4", (SECRET, SALT), (b"", h("01")), None, "44015d1f00003974396c6f63616c686f737483747631",
     "44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e"),
    ("C.5", (SECRET, b""), (h("00"), h("01")), None, "440171c30000b932396c6f63616c686f737483747631",
     "440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0"),
    ("C.6", (SECRET, SALT), (b"", h("01")), h("37cbf3210017a2d3"),
     "44012f8eef9bbf7a396c6f63616c686f737483747631",
     "44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff72cd7273fd331ac45cffbe55c3"),
])
def test_rfc8613_c4_to_c6_protected_requests(name, secret_salt, client_ids, idc, plain, prot):
    client = O.Context(*secret_salt, client_ids[0], client_ids[1], idc)
    server = O.Context(*secret_salt, client_ids[1], client_ids[0], idc)
    p, req_id = O.protect(client, C.decode(h(plain)), 20, None, idc)
    assert C.encode(p) == h(prot), name
    inner, sreq_id, piv = O.unprotect(server, C.decode(h(prot)))
    assert C.encode(inner) == h(plain) and sreq_id == req_id and piv == b"\x14"
    with pytest.raises(O.OscoreError, match="replay"):
        O.unprotect(server, C.decode(h(prot)))
    bad = bytearray(h(prot))
    bad[-1] ^= 1
    with pytest.raises(O.OscoreError, match="verify"):
        O.unprotect(O.Context(*secret_salt, client_ids[1], client_ids[0], idc), C.decode(bytes(bad)))


def test_rfc8613_c7_c8_protected_responses():
    server = O.Context(SECRET, SALT, h("01"), b"")
    client = O.Context(SECRET, SALT, b"", h("01"))
    req_id = (b"", h("14"))
    resp = C.decode(h("64455d1f00003974ff48656c6c6f20576f726c6421"))
    c7 = C.encode(O.protect(server, resp, None, req_id)[0])
    assert c7 == h("64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106")
    c8 = C.encode(O.protect(server, resp, 0, req_id)[0])
    assert c8 == h("64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e")
    for data, piv in ((c7, None), (c8, b"\x00")):
        inner, _r, got = O.unprotect(client, C.decode(data), None, req_id)
        assert got == piv and inner.code == C.CONTENT and inner.payload == b"Hello World!"


def test_oscore_option_and_observe_classes():
    # 6.1 with a CBOR-wrapped kid context (App. B.2 as Californium reads it) and 4.1.3.5
    v = O.encode_option(b"\x05", bytes(range(16)), b"\x01", wrap=True)
    assert v[0] == 0x19 and v[2] == 17 and v[3] == 0x50
    m = C.Message(C.CON, C.POST).add(C.OSCORE, v)
    assert O.option_of(m, wrap=True) == (b"\x05", bytes(range(16)), b"\x01")
    for bad in (b"\x20", b"\x06" + bytes(6), b"\x11", b"\x01"):
        with pytest.raises(O.OscoreError):
            O.option_of(C.Message(C.CON, C.POST).add(C.OSCORE, bad))
    srv = O.Context(SECRET, SALT, h("01"), h("02"))
    cli = O.Context(SECRET, SALT, h("02"), h("01"))
    obs = C.Message(C.CON, C.GET, 1, b"\x01").add(C.OBSERVE, 0).set_path("3303/0")
    prot, req_id = O.protect(srv, obs, 7)
    assert prot.code == C.FETCH and prot.get(C.OBSERVE) == b"" and prot.get(C.URI_PATH) is None
    inner, rid, _p = O.unprotect(cli, prot)
    assert inner.code == C.GET and inner.path() == "3303/0" and inner.get(C.OBSERVE) == b""
    note = C.Message(C.NON, C.CONTENT, 9, b"\x01", b"21.5").add(C.OBSERVE, 12)
    pn, _ = O.protect(cli, note, 3, rid)
    assert pn.code == C.CONTENT and pn.get(C.OBSERVE) == b"\x0c"
    got, _r, piv = O.unprotect(srv, pn, None, req_id)
    assert piv == b"\x03" and got.get(C.OBSERVE) == b"\x0c" and got.payload == b"21.5"


# -- DTLS known answers ---------------------------------------------------------------------
def test_tls12_prf_sha256_test_vector():
    # the TLS 1.2 PRF (SHA-256) test vector published on the IETF TLS list (100 bytes)
    out = W.prf(h("9bbe436ba940f017b17652849a71db35"), b"test label", h("a0ba9f936cda311827a6f796ffd5198c"), 100)
    assert out == h("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e"
                    "14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5"
                    "a72e5a5110fff70187347b66")


def test_record_aads_and_sizes_wire_budget_3_2():
    cid = h("c1d2e3f4")
    assert W.aad(54, 25, 1, 42, cid, 14) == h("ffffffffffffffff 19 04 19 fefd 0001 00000000002a c1d2e3f4 000e")
    assert W.aad(254, 25, 1, 42, cid, 14) == h("0001 00000000002a 19 fefd c1d2e3f4 04 000e")
    assert W.aad(54, 23, 1, 42, b"", 13) == h("0001 00000000002a 17 fefd 000d")
    assert W.psk_premaster(b"\x01\x02") == h("0002 0000 0002 0102")          # RFC 4279 2
    k, iv = bytes(16), bytes(4)
    client = W.Protection(1, k, iv, k, iv, peer_cid=cid, own_cid=b"")       # the device's view
    server = W.Protection(1, k, iv, k, iv, peer_cid=b"", own_cid=cid)
    rec = client.seal(23, bytes(13), 42)
    assert len(rec) == 47 and rec[:17] == h("19 fefd 0001 00000000002a c1d2e3f4 001e")
    r = next(W.records(rec, 4))
    assert server.open(r) == (23, bytes(13)) and server.open(r) is None     # then a replay
    assert len(server.seal(23, bytes(5), 0)) == 34                          # the ACK, RFC 6347 form
    padded = W.Protection(1, k, iv, k, iv, peer_cid=cid, pad=16).seal(23, bytes(5), 1)
    assert server.open(next(W.records(padded, 4))) == (23, bytes(5))        # padding stripped
    bad = bytearray(client.seal(23, b"x", 43))
    bad[-1] ^= 1
    with pytest.raises(W.BadRecordMac):
        server.open(next(W.records(bytes(bad), 4)))


# -- a misreading shared by the firmware's both sides no longer passes ------------------------
# Before, the plugins ran the firmware's own record layer and OSCORE code: a wrong AAD in the
# firmware was wrong on both ends and every test passed. Now the harness refuses it.
def _dtls_cid_update(monkeypatch=None, bug=None):
    from fakes import FakeServer, FakeBoard, PipeNet
    from harness.dtls_server import DtlsPlugin
    from state import Store
    from sec.dtls_channel import DtlsChannel
    from coap import codec as FC
    from dtls import record as R
    from errors import LwError
    if bug:
        monkeypatch.setattr(R, "aad", bug(R.aad))
    srv = FakeServer()
    pl = DtlsPlugin(srv)
    board = FakeBoard()
    store = Store(board)
    store.load()
    ch = DtlsChannel(PipeNet(srv, pl), store, board, {"mode": "psk", "cid": "rfc9146"},
                     {"psk_identity": "Client_identity", "psk_key": PSK})
    try:
        ch.connect("full-handshake")
        m = FC.Message(FC.CON, FC.POST, 7, b"\x7a")
        m.set_path("/rd/5a3f")
        ch.send(m)
        r = ch.recv(50)
    except LwError as e:                     # AuthFailed, NoAnswer, ...: typed outcomes
        return None, pl.stats, e
    return r, pl.stats, None


def test_a_wrong_cid_aad_in_the_firmware_fails_against_the_harness(monkeypatch):
    r, st, err = _dtls_cid_update()
    assert err is None and r.code == 68 and st["handshakes"] == 1 and st["bad_auth"] == 0

    def swapped(good):
        # the bug: RFC 9146's AAD with cid_length after the CID (the drafts' order)
        def aad(v, ep, seq, ct, cid, n):
            a = bytes(good(v, ep, seq, ct, cid, n))
            if ct == 25 and v == 54:
                a = a[:9] + a[10:21 + len(cid)] + a[9:10] + a[21 + len(cid):]
            return a
        return aad
    r, st, err = _dtls_cid_update(monkeypatch, swapped)
    assert r is None and err is not None, r
    assert st["handshakes"] == 0 and st["bad_auth"] >= 1     # the client Finished (a CID record)


def test_a_wrong_oscore_aad_in_the_firmware_fails_against_the_harness(monkeypatch):
    import oscore as FO
    from harness.oscore_server import OscorePlugin
    from sec.oscore_channel import OscoreChannel
    from state import Store
    from coap import codec as FC
    from fakes import FakeServer, FakeBoard
    from errors import LwError

    def update(bug=False):
        if bug:
            good = FO.aad
            monkeypatch.setattr(FO, "aad", lambda kid, piv: _bad_aad(good, kid, piv))
        srv = FakeServer()
        client = {"master_secret": SECRET.hex(), "master_salt": SALT.hex(), "sender_id": "01", "recipient_id": "00"}
        plug = OscorePlugin(srv, clients=[client])

        class Net:
            def __init__(self):
                self.inbox = []

            def send(self, d):
                n0 = len(srv.sent)
                plug.datagram_received(bytes(d), ("127.0.0.1", 40000))
                self.inbox += [x for x, _a in srv.sent[n0:]]

            def recv(self, timeout_ms):
                return self.inbox.pop(0) if self.inbox else None

        board = FakeBoard()
        ch = OscoreChannel(Net(), Store(board), board, {"rederive": False}, {"oscore": client})
        ch.connect(ch.paths()[0])
        ch.send(FC.Message(FC.CON, FC.POST, 9, b"\x7a").set_path("rd/5a3f"))
        try:
            return ch.recv(50), plug.stats, srv.delivered
        except LwError as e:                 # the channel reports the 4.00 as an outcome
            return e, plug.stats, srv.delivered

    r, st, got = update()
    assert getattr(r, "code", None) == 68 and st["verify_failed"] == 0 and len(got) == 1
    r, st, got = update(bug=True)
    assert st["verify_failed"] == 1 and got == [], (r, st)


def _bad_aad(good, kid, piv):
    # the bug: alg_aead not in an array ([1, 10, ...] instead of RFC 8613 5.4's [1, [10], ...])
    a = bytes(good(kid, piv))
    ea = a[11:]                               # bstr head (1 byte) + external_aad
    fixed = ea[1:].replace(b"\x85\x01\x81\x0a", b"\x85\x01\x0a", 1)
    return a[:10] + bytes((0x40 | len(fixed),)) + fixed
