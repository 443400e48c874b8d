"""Server-side DTLS handshake codecs of the harness plugin (tools/harness/dtls_server.py):
ClientHello parsing, ServerHello and HelloVerifyRequest encoding, byte by byte against
RFC 5246 7.4, RFC 6347 4.2.1 and the wire-budget.md sizes (the firmware keeps only the client
side: dtls/handshake.py)."""
from dtls import handshake as H
from harness import dtls_server as S

X = bytes.fromhex
CR = bytes(range(32))
SR = bytes(range(32, 64))
SID = bytes(range(100, 132))


def test_client_hello_parsed_by_the_server():
    body = H.client_hello(CR, SID, b"", (0xC0A8, 0xFF), S.ext(23, b""))
    ch = S.parse_client_hello(body)
    assert ch.sid == SID and ch.suites == [0xC0A8, 0xFF] and ch.comps == b"\x00"
    assert ch.exts == {23: b""} and ch.cookie == b"" and ch.random == CR
    ck = bytes(range(16))
    ch = S.parse_client_hello(H.client_hello(CR, b"", ck, (0xC0A8,), S.ext(23, b"") + S.ext(254, b"\x00")))
    assert ch.cookie == ck and ch.exts == {23: b"", 254: b"\x00"}
    assert S.parse_client_hello(H.client_hello(CR, b"", b"", (0xC0A8,), b"")).exts == {}


def test_hello_verify_request_44_bytes():
    ck = bytes(range(16))
    b = S.hello_verify_request(ck)
    assert b == X("feff" "10") + ck        # RFC 6347 4.2.1: version 1.0 in the HVR
    assert 13 + 12 + len(b) == 44          # wire-budget.md row 4 with a 16-B cookie


def test_server_hello_with_ri_ems_cid_115_bytes():
    exts = S.ext(0xFF01, b"\x00") + S.ext(23, b"") + S.ext(54, X("04c1d2e3f4"))
    body = S.server_hello(SR, SID, 0xC0A8, exts)
    assert body[:2] == X("fefd") and body[34] == 32 and body[67:70] == X("c0a8" "00")
    assert body[70:] == X("0012" "ff01" "0001" "00" "0017" "0000" "0036" "0005" "04c1d2e3f4")
    assert 25 + len(body) == 115           # wire-budget.md row 15 (hygienic)
    v, r, sid, suite, comp, ex = H.parse_server_hello(body)
    assert sid == SID and suite == 0xC0A8 and r == SR and ex[54] == X("04c1d2e3f4")
