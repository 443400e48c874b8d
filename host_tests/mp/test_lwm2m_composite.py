"""Read-, Observe- and Write-Composite in the DM (CPython and micropython): FETCH with SenML
JSON and CBOR name lists, the answer's records, an Observe-Composite kept in 'obs' and notified
with the whole composite, iPATCH writes that are all-or-nothing."""
from lwm2m_fixture import setup, req, C

FETCH = 5
IPATCH = 7


def _code(r):
    return C.code_str(r.code)


def _fetch(dm, payload, cf=110, accept=None, observe=None, token=b"\x01"):
    m = req(FETCH, "", payload, cf=cf, accept=accept, observe=observe, token=token)
    return dm.handle(m)


def test_read_composite_json_and_cbor():
    import json
    b, s, reg, dm, dev = setup()
    r = _fetch(dm, b'[{"n":"/3/0/9"},{"n":"/3303/0/5700"},{"n":"/1/0/1"}]')
    assert _code(r) == "2.05" and r.get_uint(C.CONTENT_FORMAT) == 110
    got = json.loads(r.payload)
    assert {"n": "/3/0/9", "v": 87} in got and {"n": "/3303/0/5700", "v": 21.5} in got
    assert len(got) == 3 and got[2]["n"] == "/1/0/1"
    # CBOR request with a base name (as Wakaama sends it), CBOR answer; an instance expands
    import cbor
    q = cbor.encode([{-2: "/", 0: "3/0/9"}, {0: "3303/0"}])
    r = _fetch(dm, q, cf=112)
    assert _code(r) == "2.05" and r.get_uint(C.CONTENT_FORMAT) == 112
    recs = cbor.decode(r.payload)
    names = [x[0] for x in recs]
    assert names[0] == "/3/0/9" and recs[0][2] == 87 and "/3303/0/5700" in names
    # Accept picks the answer's format; a missing path is left out; none at all: 4.04
    r = _fetch(dm, b'[{"n":"/3/0/9"},{"n":"/3/7"}]', accept=112)
    assert r.get_uint(C.CONTENT_FORMAT) == 112 and len(cbor.decode(r.payload)) == 1
    assert _code(_fetch(dm, b'[{"n":"/42/0"}]')) == "4.04"
    assert _code(_fetch(dm, b'[{"n":"/0/0"}]')) == "4.01"
    assert _code(_fetch(dm, b'[{"n":"/3/0/9"}]', accept=11542)) == "4.06"
    assert _code(_fetch(dm, b'[{"n":"/3/0/9"}]', cf=11542)) == "4.15"
    assert _code(_fetch(dm, b'[{"n":"3/0/9"}]')) == "4.00"
    assert _code(_fetch(dm, b'not json')) == "4.00"


def test_write_composite_all_or_nothing():
    import json
    b, s, reg, dm, dev = setup()
    ok = b'[{"bn":"/1/0/","n":"1","v":7200},{"n":"7","vs":"UQ"},{"bn":"/3/0/","n":"13","v":1800000000}]'
    r = dm.handle(req(IPATCH, "", ok, cf=110))
    assert _code(r) == "2.04"
    srv = reg.get(1).inst[0]
    assert srv[1] == 7200 and srv[7] == "UQ" and reg.get(3).inst[0][13] == 1800000000
    assert b"7200" in b.flash["dmw"]
    before1, before3, flash = dict(srv), dict(reg.get(3).inst[0]), dict(b.flash)
    bad = (
        (b'[{"n":"/1/0/1","v":60},{"n":"/1/0/2","vs":"x"}]', 110, "4.00"),      # type
        (b'[{"n":"/1/0/1","v":60},{"n":"/1/0/3","v":-5}]', 110, "4.00"),        # range
        (b'[{"n":"/1/0/1","v":60},{"n":"/1/0/2","v":1.5}]', 110, "4.00"),       # not an integer
        (b'[{"n":"/1/0/1","v":60},{"n":"/3/0/9","v":5}]', 110, "4.05"),         # read-only
        (b'[{"n":"/1/0/1","v":60},{"n":"/3/0/4","v":1}]', 110, "4.05"),         # execute
        (b'[{"n":"/1/0/1","v":60},{"n":"/1/0/99","v":1}]', 110, "4.04"),        # unknown
        (b'[{"n":"/1/0/1","v":60},{"n":"/0/0/0","vs":"coap://x"}]', 110, "4.01"),
        (b'[{"n":"/1/0/1","v":60},{"n":"/1/0","v":1}]', 110, "4.00"),           # an instance
        (b'[{"n":"/1/0/1","v":60},{"n":"/1/0/2"}]', 110, "4.00"),               # no value
        (b'[{"n":"/1/0/1","v":60},{"n":"/1/0/1","v":1e999}]', 110, "4.00"),     # infinite
        (b'[{"n":"/1/0/1","v":99999999999999999999999}]', 110, "4.00"),         # beyond 64 bits
        (b'[{"n":"/1/0/1",', 110, "4.00"),
        (b'\x81\xa2\x00\x66/1/0/1\x02\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00', 112, "4.00"),   # NaN
        (b'\x81\xa2\x00\x66/1/0/1\x02\x19\x0e\x10', 11542, "4.15"),
    )
    for pl, cf, code in bad:
        assert _code(dm.handle(req(IPATCH, "", pl, cf=cf))) == code, (pl, code)
    assert srv == before1 and reg.get(3).inst[0] == before3 and b.flash == flash
    # SenML CBOR write
    r = dm.handle(req(IPATCH, "", b'\x81\xa2\x00\x66/1/0/1\x02\x19\x0e\x10', cf=112))
    assert _code(r) == "2.04" and srv[1] == 3600


def test_observe_composite_persists_and_notifies():
    import json
    b, s, reg, dm, dev = setup()
    dm.handle(req(C.PUT, "/1/0/3", b"600", cf=0))            # default pmax 10 min
    r = _fetch(dm, b'[{"n":"/3303/0/5700"},{"n":"/3/0/9"}]', observe=0, token=b"\x42")
    assert _code(r) == "2.05" and r.get_uint(C.OBSERVE) is not None
    assert len(json.loads(r.payload)) == 2
    from lwm2m import observe
    es, seq = observe.load(s)
    assert len(es) == 1 and es[0][0] == b"\x42" and es[0][2] == 110
    assert observe.next_due(s) == int(b.t) + 600
    # a deep sleep later (new store object over the same RTC memory), the temperature moved
    s.commit()
    b.t += 700
    b.temp = 25.0
    b2, s2, reg2, dm2, dev2 = setup(b)
    sent = []

    class Ex:           # coap/exchange.py's send(): a NON notification goes out once
        board = b

        def send(self, m, con=True, retries=None):
            assert not con
            sent.append(m)
            return m
    n = observe.notify(Ex(), reg2, s2, con=False)
    assert n == 1 and sent[0].token == b"\x42" and sent[0].get_uint(C.CONTENT_FORMAT) == 110
    got = json.loads(sent[0].payload)
    assert {"n": "/3303/0/5700", "v": 25.0} in got and {"n": "/3/0/9", "v": 87} in got
    assert sent[0].get_uint(C.OBSERVE) > r.get_uint(C.OBSERVE)
    # cancel (FETCH, Observe 1, same names): the observation is gone
    r = _fetch(dm2, b'[{"n":"/3303/0/5700"},{"n":"/3/0/9"}]', observe=1, token=b"\x43")
    assert _code(r) == "2.05" and observe.load(s2)[0] == []


def test_hostile_composite_payloads_never_raise():
    # random and mutated SenML (JSON and CBOR) in FETCH and iPATCH: always an answer, and a
    # rejected iPATCH changes nothing
    b, s, reg, dm, dev = setup()
    seeds = (b'[{"n":"/1/0/1","v":60},{"n":"/3/0/9"}]', b'\x82\xa2\x00\x66/1/0/1\x02\x18\x3c\xa1\x00\x66/3/0/9',
             b'[{"bn":"/1/0/","n":"7","vs":"UQ"}]', b'\x81\xa2\x21\x61/\x00\x653/0/9')
    x = 12345
    before = dict(reg.get(1).inst[0])
    flash = dict(b.flash)
    for i in range(300):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        pl = bytearray(seeds[x % 4])
        for _ in range(1 + x % 3):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            pl[x % len(pl)] = (x >> 8) & 0xFF
        code = (FETCH, IPATCH)[i % 2]
        r = dm.handle(req(code, "", bytes(pl), cf=(110, 112)[(i >> 1) % 2], observe=0 if i % 7 == 0 else None))
        assert 64 <= r.code < 160, (pl, r.code)
        if code == IPATCH and r.code != C.CHANGED:
            assert reg.get(1).inst[0] == before and b.flash == flash, pl
        elif code == IPATCH:
            before = dict(reg.get(1).inst[0])
            flash = dict(b.flash)
