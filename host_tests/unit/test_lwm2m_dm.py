"""DM operations on the standard objects (CPython; the micropython-sized core is in
host_tests/mp/test_lwm2m_dm_core.py, and test_e2e_dm.py runs them on the device): Read at every
level in every format, Write (replace, partial, multiple-instance resources), Execute with
arguments, Discover, Write-Attributes, Create, Delete, Observe registration; the error codes;
a rejected request changes nothing; writes persist across wakes."""
from lwm2m_fixture import setup, req, C


def _code(r):
    return C.code_str(r.code)


def test_read_levels_and_formats():
    b, s, reg, dm, dev = setup()
    for path in ("/3", "/3/0", "/3/0/9", "/3/0/11", "/3/0/11/0", "/4/0", "/3303/0/5700", "/1/0"):
        for acc in (None, 11542, 110, 112, 11544):
            r = dm.handle(req(C.GET, path, accept=acc))
            assert r.code == C.CONTENT, (path, acc, _code(r))
    r = dm.handle(req(C.GET, "/3/0/9"))
    assert r.payload == b"87" and r.get_uint(C.CONTENT_FORMAT) == 0
    assert _code(dm.handle(req(C.GET, "/3/0", accept=0))) == "4.06"
    assert _code(dm.handle(req(C.GET, "/3/0/9", accept=42))) == "4.06"
    assert _code(dm.handle(req(C.GET, "/3/0", accept=9999))) == "4.06"


def test_read_errors():
    b, s, reg, dm, dev = setup()
    assert _code(dm.handle(req(C.GET, "/0/0"))) == "4.01"
    assert _code(dm.handle(req(C.GET, "/0"))) == "4.01"
    assert _code(dm.handle(req(C.GET, "/3/1"))) == "4.04"
    assert _code(dm.handle(req(C.GET, "/3/0/99"))) == "4.04"
    assert _code(dm.handle(req(C.GET, "/3/0/11/5"))) == "4.04"
    assert _code(dm.handle(req(C.GET, "/42"))) == "4.04"
    assert _code(dm.handle(req(C.GET, "/3/0/4"))) == "4.05"     # execute-only


def test_write_replace_partial_and_multi_instance():
    b, s, reg, dm, dev = setup()
    assert _code(dm.handle(req(C.PUT, "/1/0/2", b"30", cf=0))) == "2.04"
    assert reg.get(1).inst[0][2] == 30
    # TLV partial update of the instance: /1/0/3 = 600 (0xc2 id 3 len 2 0x0258)
    assert _code(dm.handle(req(C.POST, "/1/0", b"\xc2\x03\x02\x58", cf=11542))) == "2.04"
    assert reg.get(1).inst[0][3] == 600 and reg.get(1).inst[0][2] == 30
    # multiple-instance resource /3/0/11 is read-only; use a created 3303 instance? no: test on a
    # writable multi resource via SenML on a custom object (see test_custom_object_multi_write)
    assert _code(dm.handle(req(C.PUT, "/1/0/7", b'[{"n":"/1/0/7","vs":"UQ"}]', cf=110))) == "2.04"
    assert reg.get(1).inst[0][7] == "UQ"
    assert _code(dm.handle(req(C.PUT, "/1/0/1", b'\x81\xa2\x00\x66/1/0/1\x02\x19\x0e\x10', cf=112))) == "2.04"
    assert reg.get(1).inst[0][1] == 3600


def test_custom_object_multi_write():
    from lwm2m.objects import Obj
    b, s, reg, dm, dev = setup()
    reg.add(Obj(32769, "0iRWM,1sRW", multi=True)).add(0, {0: {0: 1, 1: 2}, 1: "a"})
    o = reg.get(32769)
    # partial update (POST) of the multiple resource: riid 5 added, 0 changed
    r = dm.handle(req(C.POST, "/32769/0/0", b'[{"bn":"/32769/0/0/","n":"0","v":9},{"n":"5","v":5}]', cf=110))
    assert _code(r) == "2.04" and o.inst[0][0] == {0: 9, 1: 2, 5: 5}
    # replace (PUT) of the resource: only what is given remains
    r = dm.handle(req(C.PUT, "/32769/0/0", b'[{"n":"/32769/0/0/7","v":7}]', cf=110))
    assert _code(r) == "2.04" and o.inst[0][0] == {7: 7}
    # one resource instance
    assert _code(dm.handle(req(C.PUT, "/32769/0/0/7", b"8", cf=0))) == "2.04" and o.inst[0][0] == {7: 8}
    # POST on a single-instance non-executable resource is not a write
    assert _code(dm.handle(req(C.POST, "/32769/0/1", b"x", cf=0))) == "4.05"


def test_rejected_writes_change_nothing():
    b, s, reg, dm, dev = setup()
    before = dict(reg.get(1).inst[0])
    cases = (
        (req(C.PUT, "/1/0/1", b"abc", cf=0), "4.00"),                           # not an integer
        (req(C.PUT, "/1/0", b'[{"bn":"/1/0/","n":"2","v":5},{"n":"3","v":"x"}]', cf=110), "4.00"),
        (req(C.PUT, "/1/0", b'[{"bn":"/1/0/","n":"2","v":5', cf=110), "4.00"),  # truncated JSON
        (req(C.PUT, "/1/0", b"\x81\xa2\x00", cf=112), "4.00"),                  # truncated CBOR
        (req(C.POST, "/1/0", b"\xc2\x03\x02", cf=11542), "4.00"),               # truncated TLV
        (req(C.PUT, "/1/0", b'[{"n":"/3/0/1","vs":"x"}]', cf=110), "4.00"),     # outside the path
        (req(C.PUT, "/1/0", b'[{"bn":"/1/0/","n":"2","v":5},{"n":"0","v":3}]', cf=110), "4.05"),  # /1/0/0 R
        (req(C.PUT, "/1/0", b'[{"n":"/1/0/99","v":5}]', cf=110), "4.04"),
        (req(C.PUT, "/1/0/1", b"60", cf=1234), "4.15"),
        (req(C.PUT, "/1/0", b"60", cf=0), "4.15"),
        (req(C.PUT, "/1/0/1", b"60"), "4.00"),                                  # no Content-Format
        (req(C.PUT, "/3/0/0", b"x", cf=0), "4.05"),
        (req(C.PUT, "/1/7/1", b"60", cf=0), "4.04"),
        (req(C.PUT, "/0/0/0", b"coap://evil", cf=0), "4.01"),
    )
    for m, code in cases:
        assert _code(dm.handle(m)) == code, (m, code)
    assert reg.get(1).inst[0] == before
    assert b.flash.get("dmw") is None


def test_execute_with_arguments():
    b, s, reg, dm, dev = setup()
    assert _code(dm.handle(req(C.POST, "/3303/0/5605", b"0='a b',1"))) == "2.04"
    assert dev.args == [b"0='a b',1"]
    for bad in (b"x", b"0='a", b"0=a", b"12", b"0,"):
        assert _code(dm.handle(req(C.POST, "/3303/0/5605", bad))) == "4.00", bad
    assert len(dev.args) == 1
    assert _code(dm.handle(req(C.POST, "/3/0/4"))) == "2.04" and dev.reboots == 1
    assert _code(dm.handle(req(C.POST, "/3/0/9"))) == "4.05"
    assert _code(dm.handle(req(C.POST, "/3/0/77"))) == "4.04"


def test_discover_and_write_attributes():
    b, s, reg, dm, dev = setup()
    r = dm.handle(req(C.GET, "/3", accept=40))
    assert r.payload.startswith(b"</3>;ver=1.1,</3/0>,</3/0/0>,") and b"</3/0/11>;dim=1" in r.payload
    r = dm.handle(req(C.PUT, "/3303/0/5700", query=["pmin=10", "pmax=60", "gt=25.5", "st=0.5"]))
    assert _code(r) == "2.04"
    r = dm.handle(req(C.PUT, "/3303/0", query=["pmax=120"]))
    assert _code(r) == "2.04"
    r = dm.handle(req(C.GET, "/3303/0", accept=40))
    assert b"</3303/0>;pmax=120," in r.payload and b"</3303/0/5700>;gt=25.5;pmax=60;pmin=10;st=0.5" in r.payload
    att = b.flash["att"]
    for q in (["gt=1"], ["pmin=x"], ["foo=1"], ["pmin=-1"], ["lt=25", "st=1"]):   # lt + 2 st >= gt
        path = "/3303/0" if q == ["gt=1"] else "/3303/0/5700"
        assert _code(dm.handle(req(C.PUT, path, query=q))) == "4.00", q
    assert b.flash["att"] == att
    r = dm.handle(req(C.PUT, "/3303/0/5700", query=["gt="]))           # remove one attribute
    assert _code(r) == "2.04" and b"gt" not in b.flash["att"]
    assert _code(dm.handle(req(C.GET, "/3303/9", accept=40))) == "4.04"


def test_create_and_delete_persist_across_wakes():
    b, s, reg, dm, dev = setup()
    # Create sets only what the server may write (5700, 5701 are read-only: 4.05)
    r = dm.handle(req(C.POST, "/3303", b'[{"bn":"/3303/4/","n":"5700","v":3.5},{"n":"5701","vs":"K"}]', cf=110))
    assert _code(r) == "4.05" and 4 not in reg.get(3303).inst
    r = dm.handle(req(C.POST, "/3303", b'[{"bn":"/3303/4/","n":"5750","vs":"K"}]', cf=110))
    assert _code(r) == "2.01" and r.get_all(C.LOCATION_PATH) == [b"3303", b"4"]
    # TLV without an instance wrapper: the client picks the id (1)
    r = dm.handle(req(C.POST, "/3303", b"\xc3\x16\x76Cel", cf=11542))   # 5750 = 0x1676 needs 16-bit id
    assert _code(r) == "4.00"                                           # malformed: id length bit not set
    r = dm.handle(req(C.POST, "/3303", b"\xe3\x16\x76Cel", cf=11542))
    assert _code(r) == "2.01" and r.get_all(C.LOCATION_PATH) == [b"3303", b"1"]
    assert _code(dm.handle(req(C.POST, "/3303", b'[{"n":"/3303/4/5750","vs":"x"}]', cf=110))) == "4.00"  # exists
    assert _code(dm.handle(req(C.POST, "/3", b'[{"n":"/3/1/0","vs":"x"}]', cf=110))) == "4.05"           # single
    assert _code(dm.handle(req(C.POST, "/3303", b'[{"n":"/3303/5/9999","v":1}]', cf=110))) == "4.04"
    assert sorted(reg.get(3303).inst) == [0, 1, 4]
    assert "</3303/4>" in reg.links()
    assert _code(dm.handle(req(C.DELETE, "/3303/1"))) == "2.02"
    assert _code(dm.handle(req(C.DELETE, "/3303/1"))) == "4.04"
    assert _code(dm.handle(req(C.DELETE, "/3/0"))) == "4.05"
    assert _code(dm.handle(req(C.DELETE, "/3303"))) == "4.05"
    assert _code(dm.handle(req(C.PUT, "/1/0/1", b"7200", cf=0))) == "2.04"
    # next wake: a new registry from the same flash
    b2, s2, reg2, dm2, dev2 = setup(b)
    assert sorted(reg2.get(3303).inst) == [0, 4] and reg2.get(3303).inst[4][5750] == "K"
    assert reg2.get(1).inst[0][1] == 7200
    assert callable(reg2.get(3303).inst[0][5700])


def test_lifetime_write_changes_registration_lt():
    from lwm2m.register import Registration
    b, s, reg, dm, dev = setup()
    rg = Registration(s, b, {"lifetime": 86400}, reg, "ep")
    assert rg.lifetime == 86400
    dm.handle(req(C.PUT, "/1/0/1", b"3600", cf=0))
    b2, s2, reg2, dm2, dev2 = setup(b)
    assert Registration(s2, b2, {"lifetime": 86400}, reg2, "ep").lifetime == 3600


def test_observe_registration_and_cancel():
    from lwm2m import observe
    b, s, reg, dm, dev = setup()
    r = dm.handle(req(C.GET, "/3303/0/5700", observe=0, token=b"\xaa\xbb"))
    assert _code(r) == "2.05" and r.get(C.OBSERVE) is not None
    es, seq = observe.load(s)
    assert len(es) == 1 and es[0][0] == b"\xaa\xbb" and es[0][1] == (3303, 0, 5700)
    r = dm.handle(req(C.GET, "/3303/0/5700", observe=1, token=b"\xaa\xbb"))
    assert _code(r) == "2.05" and r.get(C.OBSERVE) is None
    assert observe.load(s)[0] == []
    r = dm.handle(req(C.GET, "/0/0", observe=0))
    assert _code(r) == "4.01" and observe.load(s)[0] == []


def test_readme_example_object():
    # README "Adding an object": one definition, then every operation works on it
    from lwm2m.objects import Obj
    b, s, reg, dm, dev = setup()
    b.humidity = lambda: 41.5
    reg.add(Obj(3304, "5700fR,5701sR,5750sRW", multi=True)).add(
        0, {5700: b.humidity, 5701: "%RH", 5750: "kitchen"})
    assert "</3304/0>" in reg.links()
    assert dm.handle(req(C.GET, "/3304/0/5700")).payload == b"41.5"
    assert _code(dm.handle(req(C.PUT, "/3304/0/5750", b"hall", cf=0))) == "2.04"
    assert _code(dm.handle(req(C.GET, "/3304/0", accept=110))) == "2.05"
    assert _code(dm.handle(req(C.GET, "/3304/0/5700", observe=0))) == "2.05"
    assert _code(dm.handle(req(C.POST, "/3304", b'[{"n":"/3304/1/5750","vs":"cellar"}]', cf=110))) == "2.01"
    assert _code(dm.handle(req(C.PUT, "/3304/0/5700", b"1", cf=0))) == "4.05"


def test_resource_without_value_is_left_out_or_not_found():
    # /3303/0/5601, 5602 (min/max) have no value before the first sample and after Execute
    # 5605: an instance/object Read leaves them out in every format, a Read of the resource
    # itself is 4.04 (LwM2M 1.1.1 Core: "URI of Read operation is not found"); docs/lwm2m.md
    b, s, reg, dm, dev = setup()
    dev.t_min = dev.t_max = lambda: None
    o = reg.get(3303)
    o.inst[0][5601], o.inst[0][5602] = dev.t_min, dev.t_max
    for path in ("/3303", "/3303/0"):
        for acc in (None, 11542, 110, 112, 11544):
            r = dm.handle(req(C.GET, path, accept=acc))
            assert r.code == C.CONTENT, (path, acc, _code(r))
    r = dm.handle(req(C.GET, "/3303/0", accept=110))
    import json
    names = [x.get("n") for x in json.loads(r.payload)]
    assert names[0] is None or "5601" not in names[0]
    assert not [n for n in names if n and ("5601" in n or "5602" in n)], names
    assert any(n and "5700" in n for n in names) or "5700" in json.loads(r.payload)[0].get("bn", "") + str(names)
    for path in ("/3303/0/5601", "/3303/0/5602"):
        for acc in (None, 0, 11542, 110, 112, 11544):
            assert _code(dm.handle(req(C.GET, path, accept=acc))) == "4.04", (path, acc)
    # Observe of the instance works; of the empty resource it is 4.04 and registers nothing
    assert _code(dm.handle(req(C.GET, "/3303/0", observe=0, token=b"\x05"))) == "2.05"
    assert _code(dm.handle(req(C.GET, "/3303/0/5601", observe=0, token=b"\x06"))) == "4.04"
    from lwm2m import observe
    es, _seq = observe.load(s)
    assert [e[1] for e in es] == [(3303, 0)]
    # once there is a value it is read again
    o.inst[0][5601] = lambda: 19.5
    r = dm.handle(req(C.GET, "/3303/0/5601"))
    assert _code(r) == "2.05" and r.payload == b"19.5"
