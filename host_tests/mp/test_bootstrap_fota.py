"""Bootstrap (lwm2m/bsrun.py, lwm2m/bootstrap.py) and Object 5 (lwm2m/fota.py) without a network:
the staged set, Bootstrap-Finish validation (4.06 and nothing committed), a committed record
that does not check is ignored, the package header, a block-wise push verified from the slot."""
import hashlib
import json

import fakes
from coap import codec as C
from lwm2m import tlv
from state import Store


def FakeBoard():
    return fakes.FakeBoard(rand=fakes.zeros, slot=True)


def _put(path, recs):
    m = C.Message(C.CON, C.PUT)
    m.set_path(path)
    m.add(C.CONTENT_FORMAT, 11542)
    out = bytearray()
    tlv.encode_records(recs, 2, out)
    m.payload = bytes(out)
    return m


def _bs():
    from lwm2m.bsrun import Bootstrap
    b = FakeBoard()
    st = Store(b)
    cfg = {"bootstrap": {"uri": "coap://127.0.0.1:5699"}}
    return Bootstrap(st, b, cfg, "ep1"), b, st


def _finish(bs):
    m = C.Message(C.CON, C.POST)
    m.set_path("/bs")
    return bs.handle(m)


def test_bootstrap_psk_account_committed_and_checked():
    bs, b, st = _bs()
    d = C.Message(C.CON, C.DELETE)
    assert bs.handle(d).code == C.DELETED
    r = bs.handle(_put("/0/1", [((0, 1, 0), "s", "coaps://10.0.0.1:5684"), ((0, 1, 1), "b", False),
                                 ((0, 1, 2), "i", 0), ((0, 1, 3), "o", b"dev-7"),
                                 ((0, 1, 5), "o", bytes(range(16))), ((0, 1, 10), "i", 7)]))
    assert r.code == C.CHANGED
    assert b.flash.get("bss")                               # staged aside in flash
    assert "bootstrap" not in b.flash                       # nothing committed yet
    assert bs.handle(_put("/1/0", [((1, 0, 0), "i", 7), ((1, 0, 1), "i", 3600)])).code == C.CHANGED
    rd = C.Message(C.CON, C.GET)
    rd.set_path("/0/1")
    assert bs.handle(rd).code == C.UNAUTHORIZED             # Bootstrap-Read: Server object only
    assert _finish(bs).code == C.CHANGED
    blob = b.flash["bootstrap"]
    assert hashlib.sha256(blob[:-32]).digest() == blob[-32:]
    from lwm2m import bootstrap
    info = {}
    cfg = {"server": {"uri": "coap://1.2.3.4:5683", "lifetime": 86400}, "security": {"mode": "nosec"}}
    out = bootstrap.run(b, st, cfg, {}, "ep1", info)
    assert out[0]["server"]["uri"] == "coaps://10.0.0.1:5684" and out[0]["security"]["mode"] == "psk"
    assert out[0]["_port"] == 5684 and out[0]["server"]["lifetime"] == 3600
    assert out[1]["psk_identity"] == "dev-7" and out[1]["psk_key"] == bytes(range(16)).hex()
    # a record that does not check is ignored: the factory account applies
    b.flash["bootstrap"] = blob[:10] + b"X" + blob[11:]
    cfg = {"server": {"uri": "coap://1.2.3.4:5683", "lifetime": 86400}, "security": {"mode": "nosec"}}
    out = bootstrap.run(b, st, cfg, {}, "ep1", {})
    assert out[0]["server"]["uri"] == "coap://1.2.3.4:5683" and out[0]["security"]["mode"] == "nosec"


def test_bootstrap_finish_refuses_an_inconsistent_set():
    bs, b, st = _bs()
    bs.handle(_put("/0/1", [((0, 1, 0), "s", "coap://10.0.0.1:5683"), ((0, 1, 2), "i", 3),
                            ((0, 1, 10), "i", 1)]))
    assert _finish(bs).code == C.NOT_ACCEPTABLE           # no Server instance for ssid 1
    assert "bootstrap" not in b.flash
    bs, b, st = _bs()
    bs.handle(_put("/0/1", [((0, 1, 0), "s", "coap://10.0.0.1:5683"), ((0, 1, 2), "i", 0),
                            ((0, 1, 10), "i", 1)]))
    bs.handle(_put("/1/0", [((1, 0, 0), "i", 1)]))
    assert _finish(bs).code == C.NOT_ACCEPTABLE           # PSK mode without key, coap://
    m = _put("/0/1", [])
    m.payload = b"\xc8\x00\x20"                            # TLV value past the end
    assert bs.handle(m).code == C.BAD_REQUEST


def test_fota_push_verified_from_the_slot_and_corrupt_refused():
    from lwm2m import fota
    img = bytes((i * 7) & 255 for i in range(1500))
    for good in (True, False):
        b = FakeBoard()
        st = Store(b)
        sha = hashlib.sha256(img).digest() if good else bytes(32)
        pkg = b"LWFW" + len(img).to_bytes(4, "big") + sha + b"1.2.3\0\0\0" + img
        szx = 4                         # 256-byte blocks
        n = (len(pkg) + 255) // 256
        for num in range(n):
            m = C.Message(C.CON, C.PUT)
            m.set_path("/5/0/0")
            m.add(C.CONTENT_FORMAT, 42)
            m.add(C.BLOCK1, (num << 4) | ((1 if num + 1 < n else 0) << 3) | szx)
            m.payload = pkg[num * 256:(num + 1) * 256]
            r = fota.handle(m, st, b, None)
            assert r.code == (C.CONTINUE if num + 1 < n else C.CHANGED), (num, r.code)
        s = json.loads(b.flash["fw"])
        if good:
            assert s["st"] == 2 and s["res"] == 0 and s["ver"] == "1.2.3" and bytes(b.slot) == img
        else:
            assert s["st"] == 0 and s["res"] == 5            # integrity check failure
        rd = C.Message(C.CON, C.GET)
        rd.set_path("/5/0/3")
        assert fota.handle(rd, st, b, None).payload == (b"2" if good else b"0")


def test_fota_unsupported_package_and_bad_uri():
    from lwm2m import fota
    b = FakeBoard()
    st = Store(b)
    m = C.Message(C.CON, C.PUT)
    m.set_path("/5/0/0")
    m.payload = b"not a package at all, far too plain" * 2
    assert fota.handle(m, st, b, None).code == C.CHANGED
    assert json.loads(b.flash["fw"])["res"] == 6             # unsupported package type
    m = C.Message(C.CON, C.PUT)
    m.set_path("/5/0/1")
    m.payload = b"http://example.com/fw.bin"
    fota.handle(m, st, b, None)
    assert json.loads(b.flash["fw"])["res"] == 9 and "fota" not in b.flash   # unsupported protocol
    m.payload = b"coap://10.0.0.1:5683/fw/v2.bin"
    fota.handle(m, st, b, None)
    s = json.loads(b.flash["fw"])
    assert s["st"] == 1 and s["res"] == 0 and b.flash["fota"] == b"d"        # a download to continue
    ex = C.Message(C.CON, C.POST)
    ex.set_path("/5/0/2")
    assert fota.handle(ex, st, b, None).code == C.METHOD_NOT_ALLOWED          # not Downloaded


def test_fota_state_checked_when_loaded():
    from lwm2m import fota
    b = FakeBoard()
    st = Store(b)
    rd = C.Message(C.CON, C.GET)
    rd.set_path("/5/0/3")
    for bad in (b"{not json", b'{"st": 7, "res": 0}', b'{"st": 1, "res": 0}', b"[1, 2]"):
        b.flash["fw"] = bad
        assert fota.handle(rd, st, b, None).payload == b"0", bad      # Idle, not a crash
