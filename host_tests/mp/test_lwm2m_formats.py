"""Content formats: TLV, SenML JSON, SenML CBOR, LwM2M CBOR, text, opaque (encode and decode),
under CPython and micropython. Expected bytes written out where they are short."""
from lwm2m import fmt, senml, tlv, lcbor
from lwm2m.objects import Obj

_O = Obj(9, "0sRW,1iRW,2fRW,3bRW,4oRW,5lRW,6iRWM,7tRW", multi=True)
_O.add(0, {0: "ab", 1: -5, 2: 1.5, 3: True, 4: b"\x01\x02", 5: (3, 0), 6: {0: 7, 3: 300}, 7: 1000})


def test_tlv_resource_read():
    # /9/0/1 = -5: type 0b11 000 001 (resource, 8-bit id, length 1), id 1, value 0xfb
    cf, b = fmt.encode(_O, [9, 0, 1], 11542)
    assert cf == 11542 and b == b"\xc1\x01\xfb"


def test_tlv_multiple_resource_and_instance_roundtrip():
    cf, b = fmt.encode(_O, [9, 0, 6], None)
    # 0x86 multiple resource id 6 length 6: [0x41 00 07] [0x42 03 01 2c]
    assert cf == 11542 and b == b"\x87\x06\x41\x00\x07\x42\x03\x01\x2c"
    cf, b = fmt.encode(_O, [9, 0], 11542)
    recs = tlv.decode_records(b, (9, 0), [])
    assert (9, 0, 6) in [p for p, v in recs]
    assert [(p, tlv.bytes_value(v, "i")) for p, v in recs if len(p) == 4] == [((9, 0, 6, 0), 7), ((9, 0, 6, 3), 300)]
    cf, b = fmt.encode(_O, [9], 11542)
    assert b[0] >> 6 == tlv.OBJ_INST


def test_text_and_opaque():
    assert fmt.encode(_O, [9, 0, 2], None) == (0, b"1.5")
    assert fmt.encode(_O, [9, 0, 3], 0) == (0, b"1")
    assert fmt.encode(_O, [9, 0, 5], 0) == (0, b"3:0")
    assert fmt.encode(_O, [9, 0, 4], None) == (42, b"\x01\x02")
    assert fmt.encode(_O, [9, 0, 1], 42) is None          # opaque only for opaque resources
    assert fmt.encode(_O, [9, 0], 0) is None              # text only for one value
    assert fmt.encode(_O, [9, 0, 6, 3], 0) == (0, b"300")
    assert fmt.untext(b"1", "b") is True and fmt.untext(b"3:1", "l") == (3, 1)
    try:
        fmt.untext(b"2", "b")
        assert False
    except ValueError:
        pass


def test_senml_cbor_encode_expected_bytes():
    cf, b = fmt.encode(_O, [9, 0, 1], 112)
    # [{-2: "/9/0/", 0: "1", 2: -5}]
    assert b == b"\x81\xa3\x21\x65/9/0/\x00\x611\x02\x24"


def test_senml_roundtrip_every_type():
    for cf, dec in ((112, senml.dec_cbor), (110, senml.dec_json), (11544, lcbor.dec_lcbor)):
        c, b = fmt.encode(_O, [9, 0], cf)
        assert c == cf
        got = {}
        for p, v in dec(b):
            got[p] = v
        assert got[(9, 0, 0)] == "ab" and got[(9, 0, 1)] == -5 and got[(9, 0, 2)] == 1.5
        assert got[(9, 0, 3)] is True and bytes(got[(9, 0, 4)]) == b"\x01\x02"
        assert fmt.coerce(got[(9, 0, 5)], "l") == (3, 0)
        assert got[(9, 0, 6, 3)] == 300 and got[(9, 0, 7)] == 1000


def test_senml_json_base_name_resolution():
    recs = senml.dec_json(b'[{"bn":"/3/0/","n":"1","vs":"x"},{"n":"11/0","v":2},{"bn":"/1/0/","n":"1","v":60}]')
    assert recs == [((3, 0, 1), "x"), ((3, 0, 11, 0), 2), ((1, 0, 1), 60)]


def test_malformed_payloads_raise_value_error():
    bad = ((senml.dec_json, b"[{"), (senml.dec_json, b'[{"n":"/3/0/1"}]'), (senml.dec_json, b'[{"n":"x","v":1}]'),
           (senml.dec_cbor, b"\x81\xa1"), (senml.dec_cbor, b"\xa0"), (lcbor.dec_lcbor, b"\xa1\x63abc\x01"),
           (tlv.decode, b"\xc8\x00"))
    for f, b in bad:
        try:
            f(b)
            assert False, b
        except ValueError:
            pass
    for v, t in ((1.5, "i"), (True, "i"), ("x", "f"), (1, "b"), ("x", "o"), ("1-2", "l"), (3, "s")):
        try:
            fmt.coerce(v, t)
            assert False, (v, t)
        except ValueError:
            pass
    assert fmt.coerce(2.0, "i") == 2 and fmt.coerce(2, "f") == 2.0


def test_link_format_of_registry():
    from lwm2m.objects import Registry
    r = Registry()
    r.add(Obj(0, "0s", hidden=True)).add(0, {0: "x"})
    r.add(Obj(3, "0sR", ver="1.1")).add(0, {0: "x"})
    r.add(Obj(3303, "5700fR", multi=True)).add(0, {}).add(1, {})
    assert r.links() == "</3>;ver=1.1,</3/0>,</3303/0>,</3303/1>"
