"""End to end on the unix port: firmware under micropython, harness server, NAT, virtual clock.

    device (micropython, one process per wake) --UDP--> NAT (inside) --> harness server
"""
from scenario_util import base, run, events


def _ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error")) for w in rep["wakes"] if w.get("result") != "ok"]
    assert not bad, bad


def test_register_then_updates_and_send():
    rep = run(base(wakes=3))
    _ok(rep)
    paths = [w["path"] for w in rep["wakes"]]
    assert paths == ["nosec+register", "nosec+update", "nosec+update"]
    assert len(events(rep, "register")) == 1 and len(events(rep, "update")) == 2
    sends = events(rep, "send")
    assert len(sends) == 3 and sends[0]["data"][0][0] == "/3303/0/5700"
    # the hourly virtual clock moved on while the run took seconds
    assert rep["summary"]["virtual_s"] >= 2 * 3600
    # an Update with nothing changed is the bare 13-byte CoAP POST /rd/xxxx (token 1 byte)
    reg = list(rep["registrations"].values())[0]
    assert reg["lt"] == 86400 and reg["queue"] is True
    assert "</3>;ver=1.1" in reg["links"] and "</0/" not in reg["links"] and "</1/0>" in reg["links"]


def test_lifetime_lapsed_then_register_again():
    sc = base(wakes=3, board={"server": {"lifetime": 300}, "schedule": {"sleep_s": 3600}},
              sleep_override={1: 1000})
    rep = run(sc)
    _ok(rep)
    # the device asks to wake before 90 % of its lifetime, so wake 1 is an Update;
    # then it is kept off 1000 s (> 300 s): the server expires it and the device registers again
    assert rep["wakes"][0]["sleep_s"] <= 270
    assert [w["path"] for w in rep["wakes"]] == ["nosec+register", "nosec+update", "nosec+register"]
    assert len(events(rep, "expired")) == 1


def test_update_answered_404_falls_back_to_register():
    rep = run(base(wakes=3, actions={2: [("forget",)]}))
    _ok(rep)
    assert rep["wakes"][2]["path"] == "nosec+register"
    assert len(events(rep, "unknown-loc")) == 1


def test_queue_mode_read_across_sleep():
    rep = run(base(wakes=3, actions={1: [("read", "/3/0")], 2: [("read", "/3303/0/5700")]}))
    _ok(rep)
    r1 = rep["wakes"][1]["server_reads"][0]
    assert r1["code"] == 69 and r1["value"][0] == "LwM2M-sleepy"
    r2 = rep["wakes"][2]["server_reads"][0]
    assert r2["code"] == 69 and 10.0 < float(r2["value"]) < 40.0
    # queued while the client slept, sent right after its Update
    q = events(rep, "queued")
    assert len(q) == 2 and all(e["ev"] == "queued" for e in q)


def test_message_ids_not_reused_across_sleeps():
    rep = run(base(wakes=8, board={"schedule": {"sleep_s": 30}}))
    _ok(rep)
    mids = [e["mid"] for e in rep["server_events"] if e["ev"] in ("register", "update", "send")]
    assert len(mids) == 16 and len(set(mids)) == 16
    assert not events(rep, "dup")


def test_nat_expiry_changes_port_and_server_rebinds():
    # hourly sleeps > 120 s NAT timeout, fresh local port: every wake has a new public port
    rep = run(base(wakes=3))
    _ok(rep)
    rb = events(rep, "rebind")
    assert len(rb) == 2 and rb[0]["old"] != rb[0]["new"]
    # sleeping less than the NAT timeout with a fixed local port keeps the mapping
    rep = run(base(wakes=3, local_port="fixed", board={"schedule": {"sleep_s": 60}}))
    _ok(rep)
    assert not events(rep, "rebind")


def test_request_to_expired_mapping_is_dropped_then_delivered_after_update():
    # the queued Read goes out when the server sees the Update: a listen window past the
    # server's first retransmission (0.4 s), so a busy machine cannot close it first
    sc = base(wakes=3, actions={1: [("read-now", "/3/0/9")]}, settle_s=0,
              board={"schedule": {"listen_ms": 1500}})
    rep = run(sc)
    _ok(rep)
    drops = [r for r in rep["meter"]["records"] if r["dir"] == "down" and "expired" in r["fate"]]
    assert drops, "the server's read should hit the dead mapping"
    upd = [e for e in events(rep, "update")][0]
    assert drops[0]["t"] <= upd["t"]          # dropped while asleep, before the Update
    reads = [w.get("server_reads") for w in rep["wakes"] if w.get("server_reads")]
    assert reads and reads[0][0]["value"] == "87"


def test_loss_and_duplication_survived():
    sc = base(wakes=6, nat={"timeout_s": 120, "loss": 0.15, "dup": 0.3, "seed": 7},
              board={"coap": {"max_retransmit": 4}})
    rep = run(sc)
    _ok(rep)
    fates = [r["fate"] for r in rep["meter"]["records"]]
    assert any("loss" in f for f in fates) and any("dup" in f for f in fates)
    # the server answered duplicates from its cache instead of executing twice
    assert len(events(rep, "register")) == 1


def test_broken_config_is_reported_and_the_device_sleeps(tmp_path):
    import asyncio
    from scenario_util import runner
    board = runner.load_board("unix")
    board["security"]["mode"] = "tls"            # not a mode
    dev = runner.Device(str(tmp_path), board)
    info = asyncio.run(asyncio.wait_for(dev.wake(), 60))
    assert info["result"] == "config-error"
    assert "security.mode" in info["error"] and "nosec" in info["error"]
    assert info["sleep_ms"] >= 60000            # it sleeps (no crash loop)
    # unparsable JSON: same, with the file named
    with open(dev.config_path, "w") as f:
        f.write("{not json")
    info = asyncio.run(asyncio.wait_for(dev.wake(), 60))
    assert info["result"] == "config-error" and "not valid JSON" in info["error"]
    assert info["sleep_ms"] >= 60000
