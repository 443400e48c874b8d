"""End to end on the unix port: Observe/Notify and batched Send across deep sleep.

    device (micropython, one process per wake) --UDP--> NAT --> harness server (virtual clock)

The server's requests are queued while the device sleeps (queue mode) and go out after its
next Update; notifications and Sends are decoded by the server (events 'notify', 'send').
"""
from scenario_util import base, run, events, runner

T0 = runner.T0


def _ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error")) for w in rep["wakes"] if w.get("result") != "ok"]
    assert not bad, bad


def _notes(rep):
    return [e for e in events(rep, "notify")]


def test_observe_pmax_wakes_the_device_and_notifies_once_per_period():
    # hourly wakes, but the server wants the value at least every 30 min: the device shortens
    # its sleep to the pmax deadline; every notification arrives once, sequence numbers grow
    sc = base(wakes=9, actions={1: [("write-attr", "/3303/0/5700", {"pmax": 1800}),
                                    ("observe", "/3303/0/5700")]})
    rep = run(sc)
    _ok(rep)
    n = _notes(rep)
    assert len(n) == 7                          # wakes 2..8, one each
    seq = [e["seq"] for e in n]
    assert seq == sorted(seq) and len(set(seq)) == len(seq)
    gaps = [b["t"] - a["t"] for a, b in zip(n, n[1:])]
    assert all(1790 <= g <= 1810 for g in gaps), gaps
    assert all(w["sleep_s"] <= 1800 for w in rep["wakes"][1:])
    assert not events(rep, "notify-dup")
    assert all(20.0 <= float(e["value"]) <= 23.0 for e in n)
    assert all(e["size"] <= 20 for e in n)      # CON 2.05, token, Observe, Content-Format, "20.34"
    assert all(w["heap_peak"] < 60 * 1024 for w in rep["wakes"])


def test_observe_gt_lt_notify_only_on_crossings():
    # the unix board's temperature swings 20 -> 23 (14:00) -> 20 C over the day: with gt=22.5
    # and pmin/pmax 0 only the two crossings are notified (up at 12:00, down at 17:00)
    sc = base(wakes=19, actions={1: [("write-attr", "/3303/0/5700", {"gt": 22.5, "lt": 20.05}),
                                     ("observe", "/3303/0/5700")]})
    rep = run(sc)
    _ok(rep)
    n = _notes(rep)
    hours = [round((e["t"] - T0) / 3600) for e in n]
    assert hours == [12, 17], (hours, [e["value"] for e in n])
    assert float(n[0]["value"]) > 22.5 > float(n[1]["value"])


def test_notification_due_while_off_goes_out_at_next_wake_once():
    # pmax 2 h; the device stays off 5 h after wake 2 (battery out, RTC kept): the overdue
    # notification goes out at wake 3, once, not once per missed period
    sc = base(wakes=5, actions={1: [("write-attr", "/3303/0", {"pmax": 7200}), ("observe", "/3303/0")]},
              sleep_override={2: 5 * 3600})
    rep = run(sc)
    _ok(rep)
    n = _notes(rep)
    per_wake = {}
    for w in rep["wakes"]:
        per_wake[w["wake"]] = w.get("notified")
    assert per_wake[3] == 1
    t3 = T0 + rep["wakes"][3]["vt"]
    assert len([e for e in n if abs(e["t"] - t3) < 30]) == 1
    assert isinstance(n[0]["value"], dict) and 5700 in n[0]["value"]     # TLV of the instance
    assert not events(rep, "notify-dup")


def test_new_registration_ends_observations():
    sc = base(wakes=4, actions={1: [("write-attr", "/3303/0/5700", {"pmax": 1800}),
                                    ("observe", "/3303/0/5700")], 3: [("forget",)]})
    rep = run(sc)
    _ok(rep)
    assert rep["wakes"][3]["path"] == "nosec+register"
    assert rep["wakes"][3].get("notified") is None          # dropped with the registration
    assert rep["wakes"][3]["sleep_s"] > 1800


def test_non_notifications_and_cancel():
    sc = base(wakes=5, board={"report": {"notify": "non"}},
              actions={1: [("write-attr", "/3/0/9", {"pmax": 1800}), ("observe", "/3/0/9")],
                       3: [("cancel", "/3/0/9")]})
    rep = run(sc)
    _ok(rep)
    n = _notes(rep)
    assert n and all(e["mtype"] == "NON" for e in n)
    t3 = T0 + rep["wakes"][3]["vt"]
    assert all(e["t"] < t3 + 5 for e in n)                  # none after the cancellation
    assert rep["wakes"][4]["sleep_s"] > 1800


def _sent_samples(rep):
    out = []
    for e in events(rep, "send"):
        for r in e["data"]:
            out.append((int(r[6]), r[0]))
    return out


def _check_exactly_once(rep, batch):
    ts = [t for t, n in _sent_samples(rep)]
    assert len(ts) == len(set(ts)), "a sample was sent twice"
    taken = [int(T0 + w["vt"]) for w in rep["wakes"]]
    # every sample taken is delivered, in order, except those still waiting for a batch
    assert len(taken) - batch < len(ts) <= len(taken)
    for t, w in zip(ts, taken):
        assert abs(t - w) <= 3, (t, w)


def test_batched_send_delivers_every_sample_once():
    sc = base(wakes=14, board={"schedule": {"sleep_s": 7200, "sample_s": 600}, "report": {"batch": 4}})
    rep = run(sc)
    _ok(rep)
    paths = [w["path"] for w in rep["wakes"]]
    assert paths.count("sample") == 10                       # no radio on 10 of 14 wakes
    assert all(w["bytes_up"] == 0 for w in rep["wakes"] if w["path"] == "sample")
    sends = events(rep, "send")
    assert len(sends) == 3 and all(len(e["data"]) == 4 for e in sends)
    assert all(n == "/3303/0/5700" for t, n in _sent_samples(rep))
    _check_exactly_once(rep, 4)
    assert all(w["rtc_bytes"] <= 2048 for w in rep["wakes"])


def test_threshold_crossing_sends_at_once():
    # samples every 10 min from 11:00; the temperature passes 22.4 C at 11:20: that sample
    # goes out at once instead of waiting for a batch of 50
    sc = base(wakes=8, board={"schedule": {"sleep_s": 7200, "sample_s": 600},
                              "report": {"batch": 50, "gt": 22.4}},
              sleep_override={0: 11 * 3600 - 5})
    rep = run(sc)
    _ok(rep)
    sends = events(rep, "send")
    assert len(sends) == 1
    vals = [r[2] for r in sends[0]["data"]]
    assert vals[-1] > 22.4 > vals[-2]


def test_batched_send_survives_power_cuts_and_nat_loss():
    sc = base(wakes=30, board={"schedule": {"sleep_s": 7200, "sample_s": 600}, "report": {"batch": 3},
                               "coap": {"max_retransmit": 4}},
              nat={"timeout_s": 120, "loss": 0.1, "seed": 3}, power_cut=0.15, seed=5)
    rep = run(sc)
    cuts = [w["wake"] for w in rep["wakes"] if w.get("power_cut")]
    assert cuts, "the seed should give power cuts"
    assert any("loss" in r["fate"] for r in rep["meter"]["records"])
    _ok(rep)
    _check_exactly_once(rep, 3)
