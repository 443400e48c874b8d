"""DTLS handshake fragment reassembly (RFC 6347 4.2.3): reordering, overlaps, duplicates
(counted as the peer's retransmissions), bounds."""
from dtls import handshake as H
from dtls import DtlsError

X = bytes.fromhex


def test_reassembly_out_of_order_and_duplicates():
    body = bytes(range(60))
    m = H.msg(2, 1, body)
    hdr = bytearray(m[:12])

    def frag(off, n):
        h = bytearray(hdr)
        h[6:9] = bytes((0, 0, off))
        h[9:12] = bytes((0, 0, n))
        return bytes(h) + body[off:off + n]
    r = H.Hs()
    r.next_seq = 1
    assert r.add(frag(40, 20)) == 0 and r.next() is None
    assert r.add(frag(0, 25)) == 0 and r.next() is None
    assert r.add(frag(20, 25)) == 0                       # overlaps both
    assert r.next() == (2, 1, body)
    assert r.next() is None and r.next_seq == 2
    assert r.add(frag(0, 25)) == 1                        # a repeat of message 1: counted
    # two whole messages in one record, the later one first in a separate record
    r2 = H.Hs()
    r2.add(H.msg(14, 1, b""))
    assert r2.next() is None
    r2.add(H.msg(2, 0, b"ab"))
    assert r2.next() == (2, 0, b"ab")
    assert r2.next() == (14, 1, b"")


def test_reassembly_bounds():
    r = H.Hs()
    for bad in (X("02" "000010" "0000" "000008" "000010") + bytes(16),     # offset+len > length
                X("02" "000010" "0000" "000000" "000010") + bytes(4),      # fragment past record
                X("02" "000800" "0000" "000000" "000001") + bytes(1)):     # message > 1024 B
        try:
            r.add(bad)
            raise AssertionError("accepted " + bad[:12].hex())
        except DtlsError:
            pass
    assert r.add(H.msg(2, 9, b"x")) == 0 and r.parts == {}   # too far ahead: not buffered
