"""CoAP codec: worked encodings from wire-budget.md 1.1, every option form, malformed input."""
from coap import codec as C


def _raises(buf, what):
    try:
        C.decode(buf)
    except C.CoapError as e:
        assert what in str(e), str(e)
        return e
    raise AssertionError("no CoapError for " + repr(buf))


def test_update_13_bytes():
    m = C.Message(C.CON, C.POST, 0x1234, b"\x7a")
    m.set_path("/rd/5a3f")
    b = C.encode(m)
    assert b == bytes.fromhex("41021234" "7a" "b27264" "0435613366"), b
    assert len(b) == 13


def test_ack_5_bytes():
    assert C.encode(C.Message(C.ACK, C.CHANGED, 0x1234, b"\x7a")) == bytes.fromhex("614412347a")


def test_created_location():
    m = C.Message(C.ACK, C.CREATED, 0x1235, b"\x7a")
    m.add(C.LOCATION_PATH, "rd").add(C.LOCATION_PATH, "5a3f")
    assert C.encode(m) == bytes.fromhex("614112357a" "827264" "0435613366")
    d = C.decode(C.encode(m))
    assert d.path(C.LOCATION_PATH) == "rd/5a3f"


def test_extended_delta_and_length_round_trip():
    m = C.Message(C.NON, C.GET, 65535, b"12345678", b"\x00payload")
    m.add(C.URI_PATH, "a" * 12)       # length nibble
    m.add(C.URI_PATH, "b" * 13)       # 1-byte ext length
    m.add(C.URI_PATH, "c" * 300)      # 2-byte ext length
    m.add(C.URI_QUERY, "x=1")
    m.add(C.ECHO, b"\x01\x02")        # delta 237: 1-byte ext delta
    m.add(C.REQUEST_TAG, b"")         # delta 40
    m.add(2000, b"z")                 # delta 1708: 2-byte ext delta
    b = C.encode(m)
    d = C.decode(b)
    assert d.opts == m.opts
    assert d.payload == m.payload and d.token == m.token and d.mid == 65535
    assert d.get_all(C.URI_PATH)[2] == b"c" * 300
    assert C.encode(d) == b


def test_repeated_options_keep_order():
    m = C.Message()
    m.add(C.URI_QUERY, "b=2").add(C.URI_PATH, "rd").add(C.URI_QUERY, "a=1")
    assert [v for _n, v in m.opts] == [b"rd", b"b=2", b"a=1"]


def test_uint_options():
    m = C.Message(C.CON, C.GET, 1, b"")
    m.add(C.CONTENT_FORMAT, 0).add(C.OBSERVE, 0x10203)
    assert m.get(C.CONTENT_FORMAT) == b""
    assert m.get_uint(C.OBSERVE) == 0x10203 and m.get_uint(C.CONTENT_FORMAT) == 0


def test_empty_message():
    d = C.decode(b"\x70\x00\x00\x07")
    assert d.mtype == C.RST and d.code == 0 and d.mid == 7


def test_malformed():
    _raises(b"\x40\x01", "shorter")
    _raises(b"\x80\x01\x00\x00", "version")
    _raises(b"\x49\x01\x00\x00" + b"1" * 9, "token length")
    _raises(b"\x44\x01\x00\x00\x01", "truncated token")
    _raises(b"\x40\x01\x00\x00\xff", "empty payload")
    _raises(b"\x40\x01\x00\x00\xf0", "nibble 15")
    _raises(b"\x40\x01\x00\x00\x0f", "nibble 15")
    _raises(b"\x40\x01\x00\x00\xd0", "delta")
    _raises(b"\x40\x01\x00\x00\x0e\x01", "length")
    _raises(b"\x40\x01\x00\x00\xb5ab", "past end")
    _raises(b"\x40\x00\x00\x00\xff\x01", "empty message")
    e = _raises(b"\x40\xc0\x12\x34", "reserved code")
    assert e.mid == 0x1234 and e.mtype == C.CON


def test_path_keeps_empty_segments():
    # aiocoap-rd answers Register with Location-Path "reg", "1", "" (RFC 7252 6.4: a trailing
    # "/" is an empty last segment); the Update must go to exactly that path
    m = C.Message(C.ACK, C.CREATED, 1, b"\x01")
    m.add(C.LOCATION_PATH, "reg").add(C.LOCATION_PATH, "1").add(C.LOCATION_PATH, "")
    loc = C.decode(C.encode(m)).path(C.LOCATION_PATH)
    assert loc == "reg/1/"
    u = C.Message(C.CON, C.POST, 2, b"\x02").set_path("/" + loc)
    assert C.decode(C.encode(u)).get_all(C.URI_PATH) == [b"reg", b"1", b""]
    v = C.Message(C.CON, C.POST, 3, b"\x03").set_path("//x")      # an empty first segment
    assert v.get_all(C.URI_PATH) == [b"", b"x"]
    for p in ("", "/"):
        assert C.Message(C.CON, C.GET, 4, b"").set_path(p).get_all(C.URI_PATH) == []
    assert C.Message(C.CON, C.GET, 5, b"").set_path("3/0").get_all(C.URI_PATH) == [b"3", b"0"]
