"""Issue #11: what a hostile server, network or user file sends must not crash a wake nor brick
the device. Each finding's reproducer (verbatim hex) replayed through the firmware code, under
CPython and under the micropython binary (where json.dumps writes `inf` that json.loads rejects).
Every test checks the documented rejection AND that nothing was changed or persisted."""
import json

from lwm2m_fixture import setup, req, C
from lwm2m.objects import Obj


def _code(m):
    return "%d.%02d" % (m.code >> 5, m.code & 31)


def _msg(hx):
    return C.decode(bytes.fromhex(hx))


def _persist_loads(b):
    # every flash blob the DM wrote reads back (under micropython: no `inf`/`nan`)
    for k in ("dmw", "att"):
        v = b.flash.get(k)
        if v:
            json.loads(v)


def test_f1_create_with_infinity_rejected_nothing_persisted():
    b, s, reg, dm, dev = setup()
    # SenML CBOR Create of /3303 with 5700 = half-float infinity (the reproducer)
    r = dm.handle(_msg("4102000101b4333330331170ff81a321682f333330332f312f00643537303002f97c00"))
    assert _code(r) in ("4.00", "4.05")
    assert sorted(reg.get(3303).inst) == [0] and "dmw" not in b.flash
    # the same through SenML JSON 1e999, TLV (double inf) and LwM2M CBOR -inf
    for cf, pl in ((110, b'[{"n":"/3303/1/5700","v":1e999}]'),
                   (11542, b"\x00\x01\xe8\x16\x44\x08\x7f\xf0\x00\x00\x00\x00\x00\x00"),
                   (11544, b"\xa1\x19\x0c\xe7\xa1\x01\xa1\x19\x16\x44\xf9\xfc\x00")):
        r = dm.handle(req(C.POST, "/3303", pl, cf=cf))
        assert _code(r) in ("4.00", "4.05"), (cf, _code(r))
    assert sorted(reg.get(3303).inst) == [0] and "dmw" not in b.flash
    # a writable float: non-finite values are 4.00 in every format, finite ones are stored
    o = reg.add(Obj(9999, "1fRW"))
    o.add(0, {1: 1.0})
    for cf, pl in ((0, b"inf"), (0, b"nan"), (0, b"1e999"), (110, b'[{"n":"/9999/0/1","v":1e999}]'),
                   (112, bytes.fromhex("81a221692f393939392f302f3102f97c00")),
                   (11542, b"\xc4\x01\x7f\x80\x00\x00"), (11544, b"\xa1\x01\xf9\x7e\x00")):
        r = dm.handle(req(C.PUT, "/9999/0/1", pl, cf=cf))
        assert _code(r) == "4.00", (cf, pl, _code(r))
        assert o.inst[0][1] == 1.0
    assert _code(dm.handle(req(C.PUT, "/9999/0/1", b"2.5", cf=0))) == "2.04"
    assert o.inst[0][1] == 2.5
    _persist_loads(b)


def test_f1_write_attributes_non_finite_rejected():
    b, s, reg, dm, dev = setup()
    for q in (["gt=inf"], ["st=nan"], ["lt=-inf"], ["gt=1e999"], ["pmax=99999999999"], ["pmin=-1"]):
        r = dm.handle(req(C.PUT, "/3303/0/5700", query=q))
        assert _code(r) == "4.00", q
    assert not b.flash.get("att")
    assert _code(dm.handle(req(C.PUT, "/3303/0/5700", query=["gt=30", "pmax=60"]))) == "2.04"
    _persist_loads(b)
    # Observe and Discover still work afterwards
    assert _code(dm.handle(req(C.GET, "/3303/0/5700", accept=40))) == "2.05"
    assert _code(dm.handle(req(C.GET, "/3303/0/5700", observe=0))) == "2.05"


def test_f1_bricked_flash_from_older_firmware_recovers():
    # what an older firmware wrote under micropython: `inf` that json.loads rejects
    from lwm2m_fixture import Board
    b = Board()
    b.flash["dmw"] = b'{"3303/1": {"+": 1, "5700": inf}}'
    b.flash["att"] = b'{"3303/0/5700": {"gt": inf}}'
    b2, s, reg, dm, dev = setup(b)          # the next wake builds its registry: no exception
    assert sorted(reg.get(3303).inst) == [0]
    assert _code(dm.handle(req(C.GET, "/3303/0/5700", accept=40))) == "2.05"
    assert _code(dm.handle(req(C.PUT, "/3303/0/5700", query=["pmax=60"]))) == "2.04"
    _persist_loads(b)
    # values that parse but do not validate are left out, the rest is kept
    b = Board()
    b.flash["dmw"] = (b'{"1/0": {"1": 0, "2": 30}, "3303/1": {"+": 1, "5750": 5},'
                      b' "3303/2": {"+": 1, "5750": "ok"}, "x": 1, "1/7": {"+": 1}}')
    b2, s, reg, dm, dev = setup(b)
    assert reg.get(1).inst[0][1] == 86400 and reg.get(1).inst[0][2] == 30
    assert 2 in reg.get(3303).inst and reg.get(3303).inst[2][5750] == "ok"
    assert 1 not in reg.get(1).inst or reg.get(1).inst.get(7) is None


def test_f2_overflow_in_coerce_is_400():
    b, s, reg, dm, dev = setup()
    r = dm.handle(_msg("4102000101b13101301170ff81a221652f312f302f00613102f97c00"))
    assert _code(r) == "4.00"
    assert reg.get(1).inst[0][1] == 86400 and "dmw" not in b.flash


def test_f3_location_path_not_utf8_is_a_protocol_error():
    from errors import LwError, ProtocolError
    m = _msg("61410000008233b6")
    try:
        m.path(C.LOCATION_PATH)
        assert False, "no error"
    except ProtocolError as e:
        assert isinstance(e, LwError) and e.outcome == "protocol-error"


def test_f4_lifetime_range():
    b, s, reg, dm, dev = setup()
    for v in (b"0", b"-1", b"4294967296", b"1e300", b"99999999999999999999999"):
        assert _code(dm.handle(req(C.PUT, "/1/0/1", v, cf=0))) == "4.00", v
        assert reg.get(1).inst[0][1] == 86400
    assert _code(dm.handle(req(C.PUT, "/1/0/1", b"4294967295", cf=0))) == "2.04"
    assert _code(dm.handle(req(C.POST, "/1/0", b'[{"n":"/1/0/1","v":1e300}]', cf=110))) == "4.00"
    assert _code(dm.handle(req(C.POST, "/1/0", b'[{"n":"/1/0/1","v":120.0}]', cf=110))) == "2.04"
    assert reg.get(1).inst[0][1] == 120
