"""DTLS handshake messages byte by byte (RFC 5246 7.4, RFC 6347 4.2, RFC 4279, RFC 7627, RFC
9146 3), the PSK key schedule against values computed with Python's hmac module, and fragment
reassembly with reordering and duplicates."""
from dtls import handshake as H
from dtls import record as R
from dtls import DtlsError

X = bytes.fromhex
CR = bytes(range(32))
SR = bytes(range(32, 64))
SID = bytes(range(100, 132))


def _exts(cid):
    e = X("00170000")
    if cid is not None:
        e += bytes((cid >> 8, cid & 255)) + X("000100")
    return e


def test_client_hello_full_with_cid_80_bytes():
    body = H.client_hello(CR, b"", b"", (0xC0A8, 0xFF), _exts(54))
    want = (X("fefd") + CR          # client_version, random
            + X("00")               # session_id: empty
            + X("00")               # cookie: empty
            + X("0004" "c0a8" "00ff")   # cipher_suites: PSK-AES128-CCM8, SCSV
            + X("01" "00")          # compression: null
            + X("0009")             # extensions length 9
            + X("0017" "0000")      # extended_master_secret
            + X("0036" "0001" "00"))    # connection_id (54): zero-length client CID
    assert body == want, body.hex()
    m = H.msg(1, 0, body)
    assert m[:12] == X("01" "000037" "0000" "000000" "000037")
    assert 13 + len(m) == 80      # wire-budget.md row 13 (hygienic)


def test_client_hello_resume_107_bytes():
    body = H.client_hello(CR, SID, b"", (0xC0A8, 0xFF), _exts(None))
    assert body[34:35] == X("20") and body[35:67] == SID
    assert 13 + 12 + len(body) == 107     # wire-budget.md row 3 (hygienic)
    assert body[67:] == X("00" "0004c0a800ff" "0100" "0004" "00170000")


def test_client_hello_with_cookie_and_legacy_cid():
    ck = bytes(range(16))
    body = H.client_hello(CR, b"", ck, (0xC0A8,), _exts(254))
    assert body[34:36] == X("0010") and body[36:52] == ck
    assert body[52:] == X("0002c0a8" "0100" "0009" "00170000" "00fe000100")
    assert H.parse_exts(body, 58, len(body)) == {23: b"", 254: b"\x00"}


def test_client_hello_without_extensions():
    body = H.client_hello(CR, b"", b"", (0xC0A8,), b"")
    assert len(body) == 42 and body[-2:] == X("0100")


def test_server_hello_parsed():
    exts = X("ff01000100" "00170000" "0036000504c1d2e3f4")
    body = X("fefd") + SR + X("20") + SID + X("c0a8" "00") + X("0012") + exts
    assert 25 + len(body) == 115           # wire-budget.md row 15 (hygienic)
    v, r, sid, suite, comp, ex = H.parse_server_hello(body)
    assert v == X("fefd") and r == SR and sid == SID and suite == 0xC0A8 and comp == 0
    assert ex == {0xFF01: b"\x00", 23: b"", 54: X("04c1d2e3f4")}
    for bad in (body[:40], body[:-1], body + b"\x00", body[:34] + b"\x21" + body[35:]):
        try:
            H.parse_server_hello(bad)
            raise AssertionError("accepted a malformed ServerHello")
        except DtlsError:
            pass


