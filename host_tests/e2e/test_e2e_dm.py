"""End to end on the unix port: every DM operation, queued by the server while the device
sleeps (queue mode) and answered at its next wake, in every content format; malformed payloads
answered 4.00 with nothing changed; a written lifetime reaches the registration.

    server queues requests --(device wakes, Update)--> requests go out --> device answers
"""
from scenario_util import base, run, events

TLV, SJSON, SCBOR, LCBOR, TEXT, LINK = 11542, 110, 112, 11544, 0, 40


def _ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error")) for w in rep["wakes"] if w.get("result") != "ok"]
    assert not bad, bad


def _answers(rep, wake):
    return [(r["uri"], r["code"], r["value"]) for r in rep["wakes"][wake].get("server_reads", [])]


def _spread(acts, per=1):
    """{wake: actions}: one request per wake (a sleepy device gets few; its heap is 64 KiB)."""
    return {1 + i // per: acts[i:i + per] for i in range(0, len(acts), per)}


def _all(rep):
    return sum([_answers(rep, w["wake"]) for w in rep["wakes"]], [])


def _code(c):
    return "%d.%02d" % (c >> 5, c & 31)


def test_read_and_discover_in_every_format():
    acts = [("read-cf", "/3/0", TLV), ("read-cf", "/3/0", SJSON), ("read-cf", "/3/0", SCBOR),
            ("read-cf", "/3/0", LCBOR), ("read-cf", "/3/0/9", TEXT), ("read-cf", "/3/0/11/0", TLV),
            ("read-cf", "/4/0", SJSON), ("read-cf", "/3303/0/5700", SCBOR),
            ("discover", "/3"), ("discover", "/3303/0"),
            ("read-cf", "/0/0", TLV), ("read-cf", "/3/0", TEXT), ("read-cf", "/3/7", TLV)]
    rep = run(base(wakes=len(acts) + 1, actions=_spread(acts)))
    _ok(rep)
    a = _all(rep)
    assert [_code(c) for u, c, v in a] == ["2.05"] * 10 + ["4.01", "4.06", "4.04"]
    tlv, sj, sc, lc, text, ri, conn, temp, d3, d3303 = [v for u, c, v in a[:10]]
    assert tlv[0] == "LwM2M-sleepy" and tlv[2] == "urn:dev:unix-0001"
    for senml in (sj, sc):
        names = {r.get("n", r.get(0)): r for r in senml}
        assert "/3/0/0" in names and "/3/0/11/0" in names
    assert {r.get("n"): r.get("v") for r in sj}["/3/0/9"] == 87
    assert lc[3][0][9] == 87 and lc[3][0][11] == {0: 0}
    assert text == "87" and ri == {0: 0}
    assert {r["n"]: r.get("v", r.get("vs")) for r in conn}["/4/0/0"] == 21
    assert 19.0 < temp[0][2] < 24.0
    assert d3.startswith("</3>;ver=1.1,</3/0>,</3/0/0>") and "</3/0/11>;dim=1" in d3
    assert d3303.startswith("</3303/0>,</3303/0/5601>")


def test_write_in_every_format_and_malformed_changes_nothing():
    acts1 = [("write", "/1/0/2", "11"),                                       # text
             ("write-cf", "/1/0", {2: 12}, TLV),
             ("write-cf", "/1/0", [("/1/0/3", 900)], SJSON)]
    acts2 = [("write-cf", "/1/0", [("/1/0/6", False)], SCBOR),
             ("write-cf", "/1/0", [("/1/0/7", "UQ")], LCBOR),
             ("read-cf", "/1/0", SJSON)]
    acts3 = [("write-cf", "/1/0", b'[{"bn":"/1/0/","n":"2","v":99},{"n":"3","v":"x"}]', SJSON),
             ("write-cf", "/1/0", b"\xc1\x02", TLV),                           # truncated
             ("write-cf", "/1/0", b"\x81\xa2\x00", SCBOR),
             ("write-cf", "/1/0", b"[{", SJSON)]
    acts4 = [("write-cf", "/1/0/2", b"x", 9999),                                # unknown format
             ("write-cf", "/3/0/0", b"x", TEXT),                                # read-only
             ("write", "/1/0/2", "not-a-number"),
             ("read-cf", "/1/0", SJSON)]
    rep = run(base(wakes=17, actions=_spread(acts1 + acts2 + acts3 + acts4)))
    _ok(rep)
    a = _all(rep)
    a1, a2 = a[:6], a[6:]
    assert [_code(c) for u, c, v in a1] == ["2.04"] * 5 + ["2.05"]
    v1 = {r["n"]: r.get("v", r.get("vs", r.get("vb"))) for r in a1[-1][2]}
    assert v1["/1/0/2"] == 12 and v1["/1/0/3"] == 900 and v1["/1/0/6"] is False and v1["/1/0/7"] == "UQ"
    assert [_code(c) for u, c, v in a2] == ["4.00", "4.00", "4.00", "4.00", "4.15", "4.05", "4.00", "2.05"]
    assert a2[-1][2] == a1[-1][2]                                             # nothing changed


def test_execute_create_delete_and_lifetime():
    acts1 = [("exec", "/3303/0/5605"), ("exec", "/3/0/9"),
             ("create", "/3303", [("/3303/5/5750", "K")], TLV)]
    acts2 = [("create", "/3303", [("/3303/6/5750", "F")], SCBOR),
             ("create", "/3", [("/3/1/0", "x")], SJSON),
             ("write", "/1/0/1", "7200")]
    acts3 = [("read-cf", "/3303/5", SJSON), ("delete", "/3303/6"), ("delete", "/3303/6"),
             ("delete", "/3/0")]
    rep = run(base(wakes=12, actions=_spread(acts1 + acts2 + acts3)))
    _ok(rep)
    a = _all(rep)
    a1, a2 = a[:6], a[6:]
    assert [_code(c) for u, c, v in a1] == ["2.04", "4.05", "2.01", "2.01", "4.05", "2.04"]
    assert [_code(c) for u, c, v in a2] == ["2.05", "2.02", "4.04", "4.05"]
    assert {r["n"]: r.get("v", r.get("vs")) for r in a2[0][2]} == {"/3303/5/5750": "K"}
    # the lifetime write and the new instances went out in an Update in the same wake
    ups = events(rep, "update")
    assert any("lt" in e["params"] for e in ups)
    reg = list(rep["registrations"].values())[0]
    assert reg["lt"] == 7200 and "</3303/5>" in reg["links"] and "</3303/6>" not in reg["links"]
    # the device sleeps less than the new lifetime
    assert rep["wakes"][-1]["sleep_s"] <= 7200 * 0.9
