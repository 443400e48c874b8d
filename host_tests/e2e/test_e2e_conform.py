"""End to end on the unix port: the conformance faults of issue 18 that the harness server can
show (the peers we did not write are in test_interop_conform.py).

- a resource without a value (/3303/0/5601, 5602 before the first sample and after Execute 5605)
  is left out of an instance Read in every format, and a Read of it alone is 4.04;
- Observe with pmin 5 / pmax 30: a notification at every wake that is due, no wake without one;
- a queue-mode server sends what it queued when an Update arrives: after a Registration Update
  Trigger or a lifetime write, the Update in the middle of the wake is followed by listening,
  and those requests are served in the same wake;
- Register carries </>;rt="oma.lwm2m";ct=112.
"""
from scenario_util import base, run, events, runner

T0 = runner.T0
TLV, SJSON, SCBOR, LCBOR, TEXT = 11542, 110, 112, 11544, 0


def _ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error")) for w in rep["wakes"] if w.get("result") != "ok"]
    assert not bad, bad


def _answers(rep):
    out = []
    for w in rep["wakes"]:
        out += [(w["wake"], r["uri"], "%d.%02d" % (r["code"] >> 5, r["code"] & 31), r["value"])
                for r in w.get("server_reads", [])]
    return out


def _rids(v, cf):
    # resource ids in a decoded Read of /3303/0
    if cf == TLV:
        return set(v)
    if cf == LCBOR:
        return set(v[3303][0])
    names = [r.get("n", r.get(0)) for r in v]
    return set(int(n.rsplit("/", 1)[1]) for n in names)


def test_3303_reads_in_every_format_on_a_fresh_device():
    # report none: nothing reads the sensor before the server does, so min/max have no value
    # at wake 1; Execute 5605 empties them again at wake 6
    acts = {1: [("read-cf", "/3303/0/5601", TEXT)], 2: [("read-cf", "/3303/0", TLV)],
            3: [("read-cf", "/3303/0", SJSON)], 4: [("read-cf", "/3303/0", SCBOR)],
            5: [("read-cf", "/3303/0", LCBOR)],
            6: [("exec", "/3303/0/5605"), ("read-cf", "/3303/0/5602", TLV)],
            7: [("read-cf", "/3303", SCBOR)], 8: [("observe", "/3303/0")]}
    sc = base(wakes=10, actions=acts, board={"schedule": {"report": "none"}})
    rep = run(sc)
    _ok(rep)
    a = _answers(rep)
    codes = [(w, u, c) for w, u, c, v in a]
    assert codes == [(1, "/3303/0/5601", "4.04"), (2, "/3303/0", "2.05"), (3, "/3303/0", "2.05"),
                     (4, "/3303/0", "2.05"), (5, "/3303/0", "2.05"), (6, "/3303/0/5605", "2.04"),
                     (6, "/3303/0/5602", "4.04"), (7, "/3303", "2.05"), (8, "/3303/0", "2.05")], codes
    # wake 2: the first sample is taken by this Read (5700), after 5601/5602 were looked at
    assert _rids(a[1][3], TLV) == {5700, 5701}
    for (w, u, c, v), cf in zip(a[2:5], (SJSON, SCBOR, LCBOR)):
        assert _rids(v, cf) == {5601, 5602, 5700, 5701}, (cf, v)
    assert _rids(a[7][3], SCBOR) == {5700, 5701}          # after the reset, before the sample
    assert isinstance(a[8][3], dict) and 5700 in a[8][3]   # Observe of the instance: TLV
    reg = list(rep["registrations"].values())[0]
    assert reg["links"].startswith('</>;rt="oma.lwm2m";ct=112,</1/0>')


def test_observe_pmin5_pmax30_notifies_at_every_wake_and_wakes_only_for_it():
    # the issue: _FRESH held notifications back 60 s and never moved the deadline, so the device
    # woke at 28, 33, 38 ... s without a notification. Now each wake after the Observe is the
    # pmax deadline and carries exactly one notification.
    sc = base(wakes=8, board={"schedule": {"report": "none"}},
              actions={1: [("write-attr", "/3303/0/5700", {"pmin": 5, "pmax": 30}),
                           ("observe", "/3303/0/5700")]})
    rep = run(sc)
    _ok(rep)
    w = rep["wakes"]
    assert [x.get("notified") for x in w[2:]] == [1] * 6, [(x["wake"], x.get("notified"), x["sleep_s"]) for x in w]
    assert all(x["sleep_s"] <= 30 for x in w[1:])
    n = events(rep, "notify")
    assert len(n) == 6 and not events(rep, "notify-dup")
    gaps = [b["t"] - a["t"] for a, b in zip(n, n[1:])]
    assert all(28 <= g < 60 for g in gaps), gaps     # pmax 30 (+ the wake's own time), never 2 x pmax
    seq = [e["seq"] for e in n]
    assert seq == sorted(seq) and len(set(seq)) == 6


LATE = []


class _QueueOnAnswer(runner.LwServer):
    """A queue-mode server whose application asks for more once the device answered an Execute
    of /1/0/8 or a lifetime write: the new request waits in the queue for the device's next
    Update (the triggered one, in the same wake)."""

    def _then_read(self, ep, fut, uri):
        def done(_f):
            LATE.append((uri, self.read(ep, uri)))
        fut.add_done_callback(done)
        return fut

    def execute(self, ep, uri, args=b""):
        f = super().execute(ep, uri, args)
        return self._then_read(ep, f, "/3/0/9") if uri == "/1/0/8" else f

    def write(self, ep, uri, value, *a, **kw):
        f = super().write(ep, uri, value, *a, **kw)
        return self._then_read(ep, f, "/1/0/1") if uri == "/1/0/1" else f


def test_requests_queued_in_answer_to_a_mid_wake_update_are_served_in_that_wake(monkeypatch):
    LATE.clear()
    monkeypatch.setattr(runner, "LwServer", _QueueOnAnswer)
    sc = base(wakes=5, board={"schedule": {"report": "none"}},
              actions={1: [("exec", "/1/0/8")], 3: [("write", "/1/0/1", "7200")]})
    rep = run(sc)
    _ok(rep)
    w = rep["wakes"]
    assert [u for u, f in LATE] == ["/3/0/9", "/1/0/1"]
    for (uri, fut), wake in zip(LATE, (1, 3)):
        assert fut.done() and fut.result().code == 69, uri                 # 2.05
        assert fut.result().t <= T0 + w[wake]["vt"], (uri, wake)           # answered in that wake
        assert w[wake]["served"] == 2, w[wake]
    assert LATE[1][1].result().decoded() == "7200"
    ups = events(rep, "update")
    t1 = T0 + w[1]["vt"]
    t0 = T0 + w[0]["vt"]
    assert len([u for u in ups if t0 < u["t"] <= t1]) == 2                  # the wake's and the triggered
    assert any(u["params"] == "lt" for u in ups)
    assert rep["registrations"][list(rep["registrations"])[0]]["lt"] == 7200
