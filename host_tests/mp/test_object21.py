"""LwM2M 1.1 OSCORE provisioning: Security /0/0/17 links Object 21; neither is listed nor readable."""
from lwm2m.objects import Registry
from lwm2m import std
from lwm2m.dm import DM
from coap import codec as C


class _Board:
    name = "t"

    def battery(self):
        return 1

    def temperature(self):       # object 3303 reads the board's sensor (lwm2m/objects.py Obj.sensor)
        return 20.0


class _Dev:
    endpoint = "ep"
    store = None

    def __getattr__(self, k):
        return lambda *a: 0


def _reg(mode):
    cfg = {"server": {"uri": "coap://h:5683"}, "security": {"mode": mode}}
    return std.build(Registry(), _Board(), cfg, _Dev())


def test_oscore_mode_links_object_21():
    r = _reg("oscore")
    sec = r.get(0).inst[0]
    assert sec[17] == (21, 0) and sec[2] == 3          # NoSec transport, OSCORE on top
    o21 = r.get(21)
    assert o21.hidden and o21.inst[0][3] == 10 and o21.inst[0][4] == 5
    assert 0 not in o21.inst[0]                          # no master secret in the object tree
    links = r.links()
    assert "</21" not in links and "</0" not in links


def test_object_21_and_0_not_readable():
    r = _reg("oscore")
    dm = DM(r)
    for path in ("21/0", "0/0/17"):
        m = C.Message(C.CON, C.GET, 1, b"\x01")
        m.set_path(path)
        assert dm.handle(m).code == C.UNAUTHORIZED


def test_no_object_21_without_oscore():
    r = _reg("nosec")
    assert r.get(21) is None and 17 not in r.get(0).inst[0]
