"""CBOR codec: RFC 8949 Appendix A examples (encode and decode), round trips, malformed input."""
from binascii import unhexlify

from cbor import encode, decode, decode_from, encode_into, head


def h(s):
    return unhexlify(s.replace(" ", ""))


# RFC 8949 Appendix A: (value, encoding) where our encoder gives exactly that encoding
_BOTH = (
    (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"), (100, "1864"),
    (1000, "1903e8"), (1000000, "1a000f4240"), (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"), (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
    (1.1, "fb3ff199999999999a"), (1.0e+300, "fb7e37e43c8800759c"), (-4.1, "fbc010666666666666"),
    (False, "f4"), (True, "f5"), (None, "f6"),
    (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"),
    ("\u00fc", "62c3bc"), ("\u6c34", "63e6b0b4"),
    ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"), ({1: 2, 3: 4}, "a201020304"), ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
)

# Appendix A items only decoded here (half/single floats, undefined, tags, indefinite lengths)
_DECODE = (
    ("f90000", 0.0), ("f93c00", 1.0), ("f93e00", 1.5), ("f97bff", 65504.0),
    ("fa47c35000", 100000.0), ("fa7f7fffff", 3.4028234663852886e+38),
    ("f90001", 5.960464477539063e-8), ("f90400", 0.00006103515625), ("f9c400", -4.0),
    ("f7", None),
    ("c074323031332d30332d32315432303a30343a30305a", "2013-03-21T20:04:00Z"),
    ("c11a514b67b0", 1363896240), ("c11a514b67b0", 1363896240),
    ("c1fb41d452d9ec200000", 1363896240.5), ("d74401020304", b"\x01\x02\x03\x04"),
    ("d818456449455446", b"dIETF"),
    ("d82076687474703a2f2f7777772e6578616d706c652e636f6d", "http://www.example.com"),
    ("5f42010243030405ff", b"\x01\x02\x03\x04\x05"),
    ("7f657374726561646d696e67ff", "streaming"),
    ("9fff", []), ("9f018202039f0405ffff", [1, [2, 3], [4, 5]]),
    ("9f01820203820405ff", [1, [2, 3], [4, 5]]), ("83018202039f0405ff", [1, [2, 3], [4, 5]]),
    ("83019f0203ff820405", [1, [2, 3], [4, 5]]),
    ("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}),
    ("826161bf61626163ff", ["a", {"b": "c"}]),
    ("bf6346756ef563416d7421ff", {"Fun": True, "Amt": -2}),
)


def test_rfc8949_appendix_a_encode_and_decode():
    for v, e in _BOTH:
        got = encode(v)
        assert got == h(e), (v, got)
        assert decode(h(e)) == v, e
    # a map with five text pairs (Appendix A); keys go out in deterministic (sorted) order
    assert encode({3: 4, 1: 2, -1: 0}) == h("a3 01 02 03 04 20 00")
    d = {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    assert encode(d) == h("a56161614161626142616361436164614461656145")
    assert decode(encode(d)) == d


def test_rfc8949_appendix_a_decode_only():
    for e, v in _DECODE:
        got = decode(h(e))
        assert got == v, (e, got)
        assert type(got) == type(v), e
    assert str(decode(h("f98000"))) == "-0.0"
    inf = decode(h("f97c00"))
    assert inf > 1e308 and decode(h("fa7f800000")) == inf and decode(h("fb7ff0000000000000")) == inf
    assert decode(h("f9fc00")) == -inf
    nan = decode(h("f97e00"))
    assert nan != nan
    assert decode(h("9f" + "".join("%02x" % i for i in range(1, 24)) + "18181819ff")) == list(range(1, 26))


def test_round_trip_mixed_and_decode_from():
    obj = {0: [b"\x00" * 300, "x" * 30], -5: {"k": None}, "t": (1 << 40), 7: [True, False, -2.5]}
    enc = encode(obj)
    back = decode(enc)
    assert back[0] == [b"\x00" * 300, "x" * 30] and back[-5] == {"k": None}
    assert back["t"] == 1 << 40 and back[7] == [True, False, -2.5]
    # tuples and bytearrays/memoryviews encode like lists and bytes
    assert encode((1, bytearray(b"ab"), memoryview(b"cd"))) == h("83 01 42 6162 42 6364")
    # decode_from walks a sequence of items
    buf = encode(5) + encode("hi") + encode([1])
    off = 0
    items = []
    while off < len(buf):
        x, off = decode_from(buf, off)
        items.append(x)
    assert items == [5, "hi", [1]] and off == len(buf)
    out = bytearray()
    head(out, 4, 2)
    encode_into(out, 1)
    encode_into(out, "a")
    assert decode(out) == [1, "a"]


def test_encode_rejects_out_of_range_and_unknown():
    for bad in (1 << 64, -(1 << 64) - 1, object(), {1, 2}):
        try:
            encode(bad)
            raise AssertionError("encoded %r" % (bad,))
        except ValueError:
            pass


def test_malformed_input_raises_value_error():
    bad = (
        "", "18", "1901", "1a000000", "1b00000000000000", "4401", "6461", "8201", "a101",
        "a1", "1c", "1d", "1e", "ff", "9f01", "bf01", "bf01ff", "5f01ff", "5f4101",
        "6862c328", "62c328", "a18001", "0102", "f0", "f818", "f9", "fa0000", "fb00",
        "5bffffffffffffffff", "9bffffffffffffffff", "bbffffffffffffffff", "c0", "7f4100ff",
        "5f5f4100ffff",
    )
    for e in bad:
        try:
            decode(h(e))
            raise AssertionError("accepted " + e)
        except ValueError:
            pass
    # nesting bounded (no recursion blow-up)
    try:
        decode(b"\x81" * 100 + b"\x01")
        raise AssertionError("deep nesting accepted")
    except ValueError:
        pass
    try:
        decode(b"\xc1" * 100 + b"\x01")
        raise AssertionError("deep tags accepted")
    except ValueError:
        pass
