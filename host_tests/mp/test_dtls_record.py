"""DTLS record layer: wire-budget.md 3.2 AAD vectors, record headers, AES-128-CCM_8 records
(expected bytes from the `cryptography` package's AESCCM), padded CID records, tampering,
the anti-replay window and connection-state persistence."""
from dtls import record as R
from dtls import DtlsError
from crypto import CryptoError

H = bytes.fromhex
KEY = bytes(range(16))
IV = H("a0a1a2a3")
CID = H("c1d2e3f4")
UPDATE = H("41021234" "7a" "b27264" "0435613366")   # 13-byte CoAP Update POST /rd/5a3f


def _conn(peer_cid=b"", own_cid=b"", variant=54, pad=0):
    # the same key both ways, so a record we seal can be opened by the same object
    return R.Conn(1, KEY, IV, KEY, IV, peer_cid, own_cid, variant, pad)


def test_aad_rfc9146_27_bytes():
    # wire-budget.md 3.2: epoch 1, seq 42, CID c1d2e3f4, inner plaintext 14 B
    a = bytes(R.aad(54, 1, 42, 25, CID, 14))
    assert a == H("ffffffffffffffff" "19" "04" "19" "fefd" "0001" "00000000002a" "c1d2e3f4" "000e"), a.hex()
    assert len(a) == 27


def test_aad_legacy_18_bytes():
    for v in (53, 254):
        a = bytes(R.aad(v, 1, 42, 25, CID, 14))
        assert a == H("0001" "00000000002a" "19" "fefd" "c1d2e3f4" "04" "000e"), a.hex()
        assert len(a) == 18


def test_aad_rfc6347_13_bytes():
    a = bytes(R.aad(54, 1, 42, 23, b"", 13))
    assert a == H("0001" "00000000002a" "17" "fefd" "000d")
    assert len(a) == 13


def test_cid_wire_header_17_bytes():
    h = R.hdr(25, 1, 42, CID, 0x1e)
    assert h == H("19" "fefd" "0001" "00000000002a" "c1d2e3f4" "001e")
    assert len(h) == 17


def test_record_rfc6347_update_42_bytes():
    rec = _conn().seal(23, UPDATE, 42)
    assert rec == H("17fefd000100000000002a001d000100000000002a"
                    "7d75779831680ef34b70606dc39f248ac98d120ee5"), rec.hex()
    assert len(rec) == 42   # wire-budget.md table row 9
    ct, ep, seq, cid, b0, b1 = R.parse(rec, 0, 0)
    assert (ct, ep, seq, cid, b0, b1) == (23, 1, 42, b"", 13, 42)
    assert _conn().open(ct, ep, seq, cid, rec[b0:b1]) == (23, UPDATE)


def test_record_cid_rfc9146_47_bytes():
    rec = _conn(CID).seal(23, UPDATE, 42)
    assert rec == H("19fefd000100000000002ac1d2e3f4001e000100000000002a"
                    "7d75779831680ef34b70606dc387f8e78a7d50c59357"), rec.hex()
    assert len(rec) == 47   # wire-budget.md 2.3: CID Update with L = 4
    ct, ep, seq, cid, b0, b1 = R.parse(rec, 0, 4)
    assert cid == CID and b0 == 17
    assert _conn(b"", CID).open(ct, ep, seq, cid, rec[b0:b1]) == (23, UPDATE)


def test_record_cid_legacy_aad():
    for v in (53, 254):
        rec = _conn(CID, b"", v).seal(23, UPDATE, 42)
        assert rec == H("19fefd000100000000002ac1d2e3f4001e000100000000002a"
                        "7d75779831680ef34b70606dc3871fabba65bb5014a5"), rec.hex()
    # a legacy record does not open under the RFC 9146 AAD (and vice versa)
    ct, ep, seq, cid, b0, b1 = R.parse(rec, 0, 4)
    try:
        _conn(b"", CID, 54).open(ct, ep, seq, cid, rec[b0:b1])
        raise AssertionError("legacy record opened with the RFC 9146 AAD")
    except CryptoError:
        pass


def test_padded_cid_record_stripped():
    # Mbed TLS style: inner plaintext padded with zeros (here 14 -> 16 bytes)
    rec = H("19fefd000100000000002ac1d2e3f40020000100000000002a"
            "7d75779831680ef34b70606dc3877b201b63b2520cd881c7")
    assert _conn(CID, b"", 54, 16).seal(23, UPDATE, 42) == rec
    ct, ep, seq, cid, b0, b1 = R.parse(rec, 0, 4)
    assert _conn(b"", CID).open(ct, ep, seq, cid, rec[b0:b1]) == (23, UPDATE)


def test_all_zero_inner_plaintext_rejected():
    c = _conn(CID)
    rec = c.seal(0, b"", 7)     # content type 0 + no content: nothing but zeros inside
    ct, ep, seq, cid, b0, b1 = R.parse(rec, 0, 4)
    try:
        _conn(b"", CID).open(ct, ep, seq, cid, rec[b0:b1])
        raise AssertionError("accepted a CID record without a content type")
    except DtlsError:
        pass


def test_tampered_records_rejected():
    rec = _conn().seal(23, UPDATE, 42)
    for i in (3, 10, 12, 13, 20, 30, 41):     # epoch, seq, length-insensitive AAD, nonce, body, tag
        bad = bytearray(rec)
        bad[i] ^= 1
        try:
            ct, ep, seq, cid, b0, b1 = R.parse(bad, 0, 0)
            _conn().open(ct, ep, seq, cid, bad[b0:b1])
            raise AssertionError("tampered byte %d accepted" % i)
        except (CryptoError, DtlsError):
            pass
    try:
        _conn().open(23, 1, 42, b"", rec[13:28])
        raise AssertionError("short record accepted")
    except DtlsError:
        pass


def test_parse_rejects_malformed():
    rec = _conn().seal(23, UPDATE, 42)
    for bad in (rec[:12], rec[:-1], b"\x18" + rec[1:], b"\x17\x03" + rec[2:], b"\x30" + rec[1:]):
        try:
            R.parse(bad, 0, 0)
            raise AssertionError("parsed " + bad.hex())
        except DtlsError:
            pass


def test_two_records_in_one_datagram():
    c = _conn()
    dg = R.hdr(20, 0, 5, b"", 1) + b"\x01" + c.seal(23, UPDATE, 0)
    ct, ep, seq, cid, b0, b1 = R.parse(dg, 0, 0)
    assert (ct, ep, seq, dg[b0:b1]) == (20, 0, 5, b"\x01")
    ct, ep, seq, cid, b0, b2 = R.parse(dg, b1, 0)
    assert (ct, ep, seq, b2) == (23, 1, 0, len(dg))


def test_replay_window():
    c = _conn()
    recs = {}
    for q in (0, 3, 5, 36, 37, 99, 100, 236, 237, 299, 300):
        recs[q] = c.seal(23, b"x", q)

    def got(q):
        ct, ep, seq, cid, b0, b1 = R.parse(recs[q], 0, 0)
        return c.open(ct, ep, seq, cid, recs[q][b0:b1]) is not None
    assert got(0) and not got(0)
    assert got(5) and not got(5) and got(3) and not got(3)
    assert got(100)
    assert not got(36) and got(37) and not got(100) and got(99)
    assert got(300)     # jump past the window: everything older is refused
    assert not got(236) and got(299) and got(237)
    d = R.load(c.dump())[0]
    assert (d.top, d.bits) == (c.top, c.bits) and d.top == 300
    assert R.load(_conn().dump())[0].top == -1


def test_conn_dump_round_trip():
    c = _conn(CID, b"", 254, 16)
    c.top = 9
    c.bits = 5
    b = c.dump()
    d, n = R.load(b)
    assert n == len(b) and d.peer_cid == CID and d.variant == 254 and d.pad == 16
    assert d.top == 9 and d.bits == 5 and d.epoch == 1
    assert d.seal(23, UPDATE, 3) == c.seal(23, UPDATE, 3)
    d, n = R.load(c.dump(False), False)
    assert d.top == -1
    try:
        R.load(b[:20])
        raise AssertionError("short state accepted")
    except DtlsError:
        pass


def test_finished_record_53_bytes():
    fin = H("14" "00000c" "0002" "000000" "00000c") + bytes(12)   # Finished header + verify_data
    c = R.Conn(1, bytes(16), bytes(4), bytes(16), bytes(4))
    assert len(c.seal(22, fin, 0)) == 53            # wire-budget.md row 8
    c = R.Conn(1, bytes(16), bytes(4), bytes(16), bytes(4), H("c1d2e3f4"))
    assert len(c.seal(22, fin, 0)) == 58            # row 18: CID record
