"""OSCORE protection edge cases: option split and Observe, option encoding, tamper, replay,
request/response binding, the replay window (split from test_oscore_vectors for heap)."""
import gc

# Leaf modules first, collecting in between: compiling from source inside a 64 KiB heap
# fragments it less this way (on the device the modules are precompiled .mpy).
import errors  # noqa: F401
gc.collect()
from coap import codec
gc.collect()
import crypto.ccm  # noqa: F401
gc.collect()
import oscore.context  # noqa: F401
gc.collect()
import oscore.option  # noqa: F401
gc.collect()
import oscore.protect  # noqa: F401
gc.collect()
from binascii import unhexlify

from oscore import OscoreError, VerifyFailed, Replay
from oscore.context import Context, ReplayWindow
from oscore.option import encode_option, decode_option, piv_bytes
from oscore.protect import (protect_request, protect_response, unprotect_request,
                            unprotect_response, option_of)


def h(s):
    return unhexlify(s.replace(" ", ""))


SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")


def _ctx_c1_client():
    return Context(SECRET, SALT, b"", h("01"))


def _ctx_c1_server():
    return Context(SECRET, SALT, h("01"), b"")


def test_class_u_and_observe_and_echo_split():
    c = _ctx_c1_client()
    s = _ctx_c1_server()
    req = codec.Message(codec.CON, codec.GET, 7, b"\x01\x02")
    req.add(codec.URI_HOST, "example.com").add(codec.OBSERVE, 0).set_path("3/0")
    req.add(codec.ECHO, b"\xAA" * 8).add(codec.PROXY_URI, "coap://example.com")
    prot, req_id = protect_request(c, req, 1)
    outer = [n for n, _ in prot.opts]
    assert outer == [codec.URI_HOST, codec.OBSERVE, codec.OSCORE, codec.PROXY_URI]
    assert prot.code == codec.FETCH                    # Observe -> outer FETCH (4.1.3.5)
    assert codec.ECHO not in outer and codec.URI_PATH not in outer
    inner, rid, _ = unprotect_request(s, codec.decode(codec.encode(prot)))
    assert inner.code == codec.GET and inner.path() == "3/0" and inner.get(codec.ECHO) == b"\xAA" * 8
    assert inner.get(codec.URI_HOST) == b"example.com" and inner.get_uint(codec.OBSERVE) == 0
    # notification: own PIV, outer 2.05, inner Observe empty, outer value handed up
    n = codec.Message(codec.CON, codec.CONTENT, 9, b"\x01\x02", b"22.5").add(codec.OBSERVE, 5)
    pn = protect_response(s, n, rid, ssn=3)
    assert pn.code == codec.CONTENT and pn.get(codec.OSCORE) == b"\x01\x03"
    got, piv = unprotect_response(c, codec.decode(codec.encode(pn)), req_id)
    assert piv == b"\x03" and got.get_uint(codec.OBSERVE) == 5 and got.payload == b"22.5"


def test_option_encoding_edges():
    assert encode_option() == b""
    assert decode_option(b"") == (None, None, None)
    assert encode_option(piv_bytes(0), h("01")) == h("090001")
    assert piv_bytes(0x0102030405) == h("0102030405")
    assert encode_option(None, None, h("aabb"), wrap=True) == h("10034 2aabb".replace(" ", ""))
    assert decode_option(h("100342aabb"), wrap=True) == (None, h("aabb"), None)
    for bad in ("20", "06", "07", "0201", "1005aa", "10", "0100ff"):
        try:
            decode_option(h(bad))
            raise AssertionError("accepted option " + bad)
        except OscoreError:
            pass
    try:
        piv_bytes(1 << 40)
        raise AssertionError("6-byte PIV accepted")
    except OscoreError:
        pass


def test_tamper_replay_and_binding_rejected():
    c = _ctx_c1_client()
    s = _ctx_c1_server()
    req = codec.Message(codec.CON, codec.POST, 1, b"\x09", b"x").set_path("rd")
    prot, req_id = protect_request(c, req, 40)
    wire = codec.encode(prot)
    bad = bytearray(wire)
    bad[-1] ^= 1
    try:
        unprotect_request(s, codec.decode(bytes(bad)))
        raise AssertionError("tampered request accepted")
    except VerifyFailed:
        pass
    unprotect_request(s, codec.decode(wire))
    try:
        unprotect_request(s, codec.decode(wire))
        raise AssertionError("replay accepted")
    except Replay as e:
        assert "already received" in str(e)
    # a response to another request does not verify (5.4 binding)
    resp = protect_response(s, codec.Message(codec.ACK, codec.CHANGED, 1, b"\x09"), (b"", h("29")))
    try:
        unprotect_response(c, resp, req_id)
        raise AssertionError("response bound to another request accepted")
    except VerifyFailed:
        pass
    # nested OSCORE refused
    req.add(codec.OSCORE, b"")
    try:
        protect_request(c, req, 41)
        raise AssertionError("nested OSCORE accepted")
    except OscoreError:
        pass
    assert option_of(codec.Message(codec.CON, codec.GET, 1)) is None


def test_replay_window_sliding_32():
    w = ReplayWindow()
    for s in (5, 3, 40, 39, 9):
        w.check(s)
        w.accept(s)
    for s, ok in ((5, True), (8, True), (10, False), (9, True), (3, True), (41, False), (39, True)):
        try:
            w.check(s)
            refused = False
        except Replay:
            refused = True
        assert refused == ok, s
    w2 = ReplayWindow()
    w2.from_bytes(w.to_bytes())
    assert w2.top == 40 and w2.bits == w.bits
    lost = ReplayWindow(valid=False)
    try:
        lost.check(100)
        raise AssertionError("uninitialised window accepted")
    except Replay:
        pass
    lost.reset_to(100)
    lost.check(101)
    try:
        lost.check(100)
        raise AssertionError("edge replay accepted")
    except Replay:
        pass
