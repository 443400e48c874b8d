"""Issue 13: the wake planner plans the wake, not only the path. What the SERVER sees: a device
that must stay reachable sleeps under the NAT's proven lower bound, so its mapping (and the DTLS
connection the server knows by that address) never lapses, and a request the server sends while
it sleeps finds it; the planned listen window still answers what the server queued."""
from scenario_util import base, events, run


def _dtls(**kw):
    return base(mode="psk", plugins=["dtls", "nosec"], security={"cid": None}, local_port="fixed", **kw)


def _expired(rep):
    return [r for r in rep["meter"]["records"] if r["dir"] == "down" and "expired" in r.get("fate", "")]


def test_reachable_device_sleeps_under_the_nat_timeout_and_keeps_its_mapping():
    sch = {"sleep_s": 600, "reachable": True}
    # wake 2: the server sends a Read at once, while the device sleeps (not queued for an Update)
    rep = run(_dtls(wakes=5, board={"schedule": sch}, actions={2: [("read-now", "/3/0/9")]}))
    ws = rep["wakes"]
    assert [w["result"] for w in ws] == ["ok"] * 5, [(w.get("result"), w.get("error")) for w in ws]
    # the prior's lower NAT bound is 60 s (boards/unix.json): every sleep is planned under it
    assert all(w.get("plan") == 55 and w["sleep_s"] == 55 for w in ws), [(w.get("plan"), w["sleep_s"]) for w in ws]
    # the server never saw the device move (the NAT mapping lived), no datagram hit a dead
    # mapping, and the wakes after the first reused the DTLS connection (1 record each way)
    assert not events(rep, "rebind") and not _expired(rep)
    assert [w["path"] for w in ws[1:]] == ["dtls-reuse+update"] * 4, [w["path"] for w in ws]
    reads = [r for w in ws for r in w.get("server_reads", ())]
    assert reads and reads[0]["value"] == "87", reads
    # the same device without the requirement sleeps its schedule: the mapping lapses, the
    # server's Read hits a dead mapping, every wake comes back from a new public port
    rep = run(_dtls(wakes=3, board={"schedule": {"sleep_s": 600}}, actions={1: [("read-now", "/3/0/9")]}))
    assert all(w["sleep_s"] == 600 and "plan" not in w for w in rep["wakes"])
    assert events(rep, "rebind") and _expired(rep)


def test_planned_listen_window_shrinks_to_the_servers_reaction_and_still_serves_the_queue():
    sch = {"sleep_s": 3600, "listen_ms": 3000, "listen_max_ms": 6000, "listen_min_ms": 200}
    # a queue-mode Read on wakes 1 and 3: the server sends it when the Update arrives
    rep = run(base(wakes=4, board={"schedule": sch}, actions={1: [("read", "/3/0/9")], 3: [("read", "/3/0/9")]}))
    ws = rep["wakes"]
    assert all(w["result"] == "ok" for w in ws), [(w.get("result"), w.get("error")) for w in ws]
    lw = [w["listen_ms"] for w in ws]
    assert all(200 <= x < 3000 for x in lw), lw          # planned, never the board's full 3 s
    reads = [r for w in ws for r in w.get("server_reads", ())]
    assert len(reads) == 2 and all(r["value"] == "87" for r in reads), reads
    assert [w.get("served", 0) for w in ws] == [0, 1, 0, 1]
