"""End to end on the unix port: Read-, Write- and Observe-Composite (FETCH / iPATCH, SenML JSON
and SenML CBOR) queued by the server while the device sleeps (queue mode), answered at its next
wake, and an Observe-Composite notified with the whole composite after deep sleeps; a
Write-Composite with one bad record changes nothing. The harness decodes with its own codecs
(tools/harness/coap.py, cbor2, json), not the firmware's."""
from scenario_util import base, run, events

SJSON, SCBOR = 110, 112


def _ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error")) for w in rep["wakes"] if w.get("result") != "ok"]
    assert not bad, bad


def _answers(rep):
    return [(w["wake"], r["op"], r["code"], r["value"]) for w in rep["wakes"] for r in w.get("server_reads", [])]


def _names(recs, kn, kv):
    return {r[kn]: next((r[k] for k in kv if k in r), None) for r in recs}


def _code(c):
    return "%d.%02d" % (c >> 5, c & 31)


def _run(cf):
    kn, kv = ("n", ("v", "vs", "vb")) if cf == SJSON else (0, (2, 3, 4))
    acts = {
        1: [("write-composite", {"/1/0/3": 1800, "/1/0/7": "UQ"}, cf)],
        2: [("read-composite", ["/3/0/9", "/3303/0/5700", "/1/0"], cf)],
        3: [("observe-composite", ["/3303/0/5700", "/3/0/9"], cf)],
        # one bad record (/3/0/9 is read-only): 4.05 and /1/0/3 keeps 1800
        5: [("write-composite", {"/1/0/3": 60, "/3/0/9": 5}, cf)],
        6: [("read-composite", ["/1/0/3"], cf)],
        8: [("cancel-composite", ["/3303/0/5700", "/3/0/9"], cf)],
    }
    rep = run(base(wakes=10, actions=acts), timeout=400)
    _ok(rep)
    a = _answers(rep)
    ops = [(w, op, _code(c)) for w, op, c, v in a]
    assert ops == [(1, "write-composite", "2.04"), (2, "read-composite", "2.05"),
                   (3, "observe-composite", "2.05"), (5, "write-composite", "4.05"),
                   (6, "read-composite", "2.05"), (8, "cancel-composite", "2.05")], ops
    got = _names(a[1][3], kn, kv)
    assert got["/3/0/9"] == 87 and 19.0 < got["/3303/0/5700"] < 24.0
    assert got["/1/0/3"] == 1800 and got["/1/0/7"] == "UQ" and "/1/0/1" in got   # written at wake 1
    assert _names(a[4][3], kn, kv) == {"/1/0/3": 1800}                             # unchanged
    # the Observe-Composite: first answer, then notifications after deep sleeps (pmax = the
    # default /1/0/3 = 1800 s written by the Write-Composite), each with both values
    first = _names(a[2][3], kn, kv)
    assert set(first) == {"/3303/0/5700", "/3/0/9"}
    n = [e for e in events(rep, "notify") if e["uri"].startswith("composite:")]
    assert len(n) >= 3, n
    wakes_notified = [w["wake"] for w in rep["wakes"] if w.get("notified")]
    assert wakes_notified and min(wakes_notified) >= 4
    # cancelled at wake 8 (FETCH, Observe 1): no notification after it, back to hourly sleeps
    assert max(wakes_notified) <= 7
    assert rep["wakes"][9]["sleep_s"] >= 3500
    seq = [e["seq"] for e in n]
    assert seq == sorted(seq) and len(set(seq)) == len(seq)
    for e in n:
        v = _names(e["value"], kn, kv)
        assert set(v) == {"/3303/0/5700", "/3/0/9"} and v["/3/0/9"] == 87, e
    assert all(w["sleep_s"] <= 1800 for w in rep["wakes"][4:8])
    assert not events(rep, "notify-dup")
    return rep


def test_composite_senml_cbor_through_queue_mode_and_deep_sleep():
    _run(SCBOR)


def test_composite_senml_json_through_queue_mode_and_deep_sleep():
    _run(SJSON)
