"""RFC 8613 Appendix C.4-C.8 (protected requests and responses), the 5.4 AAD example and the
wire-budget.md 2.4 / 4.3 examples (split from test_oscore_vectors for heap)."""
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

from oscore import aad, option_of, protect, unprotect
from oscore import nonce
from oscore.kdf import context


def h(s):
    return unhexlify(s.replace(" ", ""))


SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")


def _ctx_c1_client():
    return context(SECRET, SALT, b"", h("01"))


def _ctx_c1_server():
    return context(SECRET, SALT, h("01"), b"")


def _opt(v):
    return option_of(codec.Message(codec.CON, codec.GET).add(codec.OSCORE, v))


def test_aad_examples_section_5_4_and_wire_budget():
    assert aad(h("00"), h("25")) == h("8368456e63727970743040498501810a4100412540")
    assert aad(h("01"), h("05")) == h("8368456e63727970743040498501810a4101410540")
    assert aad(b"", h("14")) == h("8368456e63727970743040488501810a40411440")     # C.4
    assert aad(h("00"), h("14")) == h("8368456e63727970743040498501810a4100411440")  # C.5


def _req_round_trip(client, server, plain_hex, prot_hex, kid_ctx=None):
    req = codec.decode(h(plain_hex))
    prot, req_id = protect(client, req, 20, None, kid_ctx)
    assert codec.encode(prot) == h(prot_hex)
    # server side
    rx = codec.decode(h(prot_hex))
    inner, sreq_id, piv = unprotect(server, rx)
    assert piv == b"\x14" and sreq_id == req_id
    assert codec.encode(inner) == h(plain_hex)
    return req_id


def test_c4_request_client_empty_sender_id():
    c = _ctx_c1_client()
    assert nonce(c, b"", h("14")) == h("4622d4dd6d944168eefb549868")
    req_id = _req_round_trip(c, _ctx_c1_server(), "44015d1f00003974396c6f63616c686f737483747631",
                             "44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e")
    assert req_id == (b"", h("14"))


def test_c5_request_client_sender_id_00():
    c = context(SECRET, b"", h("00"), h("01"))
    assert nonce(c, h("00"), h("14")) == h("bf35ae297d2dace910c52e99ed")
    _req_round_trip(c, context(SECRET, b"", h("01"), h("00")),
                    "440171c30000b932396c6f63616c686f737483747631",
                    "440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0")


def test_c6_request_client_with_kid_context():
    idc = h("37cbf3210017a2d3")
    c = context(SECRET, SALT, b"", h("01"), idc)
    assert nonce(c, b"", h("14")) == h("2ca58fb85ff1b81c0b7181b84a")
    _req_round_trip(c, context(SECRET, SALT, h("01"), b"", idc),
                    "44012f8eef9bbf7a396c6f63616c686f737483747631",
                    "44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff"
                    "72cd7273fd331ac45cffbe55c3", kid_ctx=idc)
    assert _opt(h("19140837cbf3210017a2d3")) == (h("14"), idc, b"")


def test_c7_response_server_no_partial_iv():
    s = _ctx_c1_server()
    req_id = (b"", h("14"))                      # from the C.4 request
    resp = codec.decode(h("64455d1f00003974ff48656c6c6f20576f726c6421"))
    prot = protect(s, resp, None, req_id)[0]
    assert codec.encode(prot) == h("64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106")
    inner, _r, piv = unprotect(_ctx_c1_client(), prot, None, req_id)
    assert piv is None
    assert codec.encode(inner) == h("64455d1f00003974ff48656c6c6f20576f726c6421")


def test_c8_response_server_with_partial_iv():
    s = _ctx_c1_server()
    req_id = (b"", h("14"))
    resp = codec.decode(h("64455d1f00003974ff48656c6c6f20576f726c6421"))
    prot = protect(s, resp, 0, req_id)[0]
    assert codec.encode(prot) == h("64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e")
    inner, _r, piv = unprotect(_ctx_c1_client(), codec.decode(codec.encode(prot)), None, req_id)
    assert piv == b"\x00" and inner.payload == b"Hello World!" and inner.code == codec.CONTENT


def test_wire_budget_update_sizes():
    # wire-budget 2.4: 1-byte kid, 1-byte token, PIV 05: Update POST /rd/5a3f = 27 B, 2.04 = 16 B
    c = context(SECRET, SALT, h("01"), h("02"))
    s = context(SECRET, SALT, h("02"), h("01"))
    req = codec.Message(codec.CON, codec.POST, 0x1234, b"\x7a").set_path("rd/5a3f")
    prot, req_id = protect(c, req, 5)
    wire = codec.encode(prot)
    assert len(wire) == 27
    assert wire[:9] == h("4102 1234 7a 93 090501".replace(" ", "")) and wire[9] == 0xFF
    inner, rid, _ = unprotect(s, codec.decode(wire))
    assert inner.code == codec.POST and inner.path() == "rd/5a3f"
    ack = codec.Message(codec.ACK, codec.CHANGED, 0x1234, b"\x7a")
    pw = codec.encode(protect(s, ack, None, rid)[0])
    assert len(pw) == 16 and pw[5] == 0x90
    back = unprotect(c, codec.decode(pw), None, req_id)[0]
    assert back.code == codec.CHANGED
