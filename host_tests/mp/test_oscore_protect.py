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
import oscore  # noqa: F401
gc.collect()
from binascii import unhexlify

from errors import ProtocolError as OscoreError
from oscore import option_of, protect, unprotect
from oscore.kdf import context


def h(s):
    return unhexlify(s.replace(" ", ""))


SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")


def _ctx_c1_client():
    return context(SECRET, SALT, b"", h("01"))


def _ctx_c1_server():
    return context(SECRET, SALT, h("01"), b"")


def _opt(v, wrap=False):
    return option_of(codec.Message(codec.CON, codec.GET).add(codec.OSCORE, v), wrap)


def _refused(f, *a):
    try:
        f(*a)
    except OscoreError as e:
        return str(e)
    return None


def test_class_u_and_observe_and_echo_split():
    c = _ctx_c1_client()
    s = _ctx_c1_server()
    req = codec.Message(codec.CON, codec.GET, 7, b"\x01\x02")
    req.add(codec.URI_HOST, "example.com").add(codec.OBSERVE, 0).set_path("3/0")
    req.add(codec.ECHO, b"\xAA" * 8).add(codec.PROXY_URI, "coap://example.com")
    prot, req_id = protect(c, req, 1)
    outer = [n for n, _ in prot.opts]
    assert outer == [codec.URI_HOST, codec.OBSERVE, codec.OSCORE, codec.PROXY_URI]
    assert prot.code == codec.FETCH                    # Observe -> outer FETCH (4.1.3.5)
    assert codec.ECHO not in outer and codec.URI_PATH not in outer
    inner, rid, _ = unprotect(s, codec.decode(codec.encode(prot)))
    assert inner.code == codec.GET and inner.path() == "3/0" and inner.get(codec.ECHO) == b"\xAA" * 8
    assert inner.get(codec.URI_HOST) == b"example.com" and inner.get_uint(codec.OBSERVE) == 0
    # notification: own PIV, outer 2.05, inner Observe empty, outer value handed up
    n = codec.Message(codec.CON, codec.CONTENT, 9, b"\x01\x02", b"22.5").add(codec.OBSERVE, 5)
    pn = protect(s, n, 3, rid)[0]
    assert pn.code == codec.CONTENT and pn.get(codec.OSCORE) == b"\x01\x03"
    got, _r, piv = unprotect(c, codec.decode(codec.encode(pn)), None, req_id)
    assert piv == b"\x03" and got.get_uint(codec.OBSERVE) == 5 and got.payload == b"22.5"


def test_option_encoding_edges():
    c = _ctx_c1_client()
    s = _ctx_c1_server()
    r = codec.Message(codec.ACK, codec.CHANGED, 1, b"")
    assert protect(s, r, None, (b"", b"\x00"))[0].get(codec.OSCORE) == b""     # all flags 0
    assert _opt(b"") == (None, None, None)
    assert protect(context(SECRET, SALT, h("01"), b""), codec.Message(codec.CON, codec.GET, 1), 0)[0] \
        .get(codec.OSCORE) == h("090001")
    req = codec.Message(codec.CON, codec.GET, 1)
    assert protect(c, req, 0x0102030405)[1][1] == h("0102030405")
    p = protect(s, r, None, (b"", b"\x00"), h("aabb"), True)[0]
    assert p.get(codec.OSCORE) == h("100342aabb")
    assert _opt(h("100342aabb"), True) == (None, h("aabb"), None)
    assert _opt(h("19140837cbf3210017a2d3")) == (h("14"), h("37cbf3210017a2d3"), b"")
    for bad in ("20", "06", "07", "0201", "1005aa", "10", "0100ff"):
        assert _refused(_opt, h(bad)) == "malformed", bad
    for bad in ("1000", "100160", "10035802aa", "100243aa", "10015b"):     # wrapped kid context
        assert _refused(_opt, h(bad), True) == "malformed", bad
    twice = codec.Message(codec.CON, codec.GET).add(codec.OSCORE, b"").add(codec.OSCORE, b"")
    assert _refused(option_of, twice) == "malformed"
    assert _refused(protect, c, req, 1 << 40) == "malformed"             # a 6-byte PIV
    assert _opt(h("10035801aa"), True)[1] == h("aa") and _opt(h("100140"), True)[1] == b""


def test_tamper_replay_and_binding_rejected():
    c = _ctx_c1_client()
    s = _ctx_c1_server()
    req = codec.Message(codec.CON, codec.POST, 1, b"\x09", b"x").set_path("rd")
    prot, req_id = protect(c, req, 40)
    wire = codec.encode(prot)
    for i in (len(wire) - 1, len(wire) - 9, 9):       # tag, ciphertext, the OSCORE option (PIV)
        bad = bytearray(wire)
        bad[i] ^= 1
        assert _refused(unprotect, s, codec.decode(bytes(bad))) == "verify", i
    unprotect(s, codec.decode(wire))
    assert _refused(unprotect, s, codec.decode(wire)) == "replay"
    # a response to another request does not verify (5.4 binding)
    resp = protect(s, codec.Message(codec.ACK, codec.CHANGED, 1, b"\x09"), None, (b"", h("29")))[0]
    assert _refused(unprotect, c, resp, None, req_id) == "verify"
    # a tampered response does not verify either
    good = codec.encode(protect(s, codec.Message(codec.ACK, codec.CHANGED, 1, b"\x09"), None, req_id)[0])
    bad = bytearray(good)
    bad[-3] ^= 0x10
    assert _refused(unprotect, c, codec.decode(bytes(bad)), None, req_id) == "verify"
    assert unprotect(c, codec.decode(good), None, req_id)[0].code == codec.CHANGED
    # nested OSCORE refused
    req.add(codec.OSCORE, b"")
    assert _refused(protect, c, req, 41) == "malformed"
    assert option_of(codec.Message(codec.CON, codec.GET, 1)) is None


def test_replay_window_sliding_32():
    c = _ctx_c1_client()
    s = _ctx_c1_server()
    wires = {}
    for q in (3, 5, 8, 9, 10, 39, 40, 41, 100, 101):
        wires[q] = codec.encode(protect(c, codec.Message(codec.CON, codec.GET, q, b"\x01"), q)[0])
    for q in (5, 3, 40, 39, 9):
        unprotect(s, codec.decode(wires[q]))
    assert s.top == 40
    for q, refused in ((5, True), (8, True), (9, True), (3, True), (39, True)):
        assert _refused(unprotect, s, codec.decode(wires[q])) == "replay", q
    for q in (10, 41):                                 # inside the window, unseen / newer
        unprotect(s, codec.decode(wires[q]))
    s.bits = -1                                        # window lost (B.1.2)
    assert _refused(unprotect, s, codec.decode(wires[100])) == "replay"
    inner, _r, piv = unprotect(s, codec.decode(wires[100]), None, None, False)   # Echo path
    s.top, s.bits = 100, 1
    assert _refused(unprotect, s, codec.decode(wires[100])) == "replay"
    unprotect(s, codec.decode(wires[101]))
