"""Every security mode's wakes fit the device's 64 KiB heap budget, run exactly as the device
runs (ROMFS image, heap = 64 KiB + image), including the heaviest DTLS fallback wake."""
from scenario_util import base, run, events


def _all_ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error")) for w in rep["wakes"] if w.get("result") != "ok"]
    assert not bad, bad
    assert all(w["heap_peak"] <= 64 * 1024 for w in rep["wakes"])


def test_nosec_wakes_fit_64k_with_a_server_read():
    rep = run(base(wakes=3, actions={1: [("read", "/3/0")]}))
    _all_ok(rep)
    assert rep["wakes"][1]["server_reads"][0]["code"] == 69


def test_oscore_wakes_fit_64k():
    rep = run(base(wakes=3, mode="oscore", plugins=["oscore", "nosec"]))
    _all_ok(rep)
    assert [w["path"] for w in rep["wakes"]] == ["oscore-b2+register", "oscore+update", "oscore+update"]
    assert len(events(rep, "update")) == 2



def test_dtls_cid_wakes_fit_64k_through_the_heaviest_fallback():
    """The heaviest DTLS wake: the server restarted, the CID record goes unanswered, the
    resumption is refused, the full handshake runs, the registration is refreshed and a Send
    goes out, all in one wake. Server reads queued for DTLS wakes never crash a wake: at this
    budget the DM code does not fit next to the DTLS stack and the device answers 5.03
    (README, Memory), which the server may retry."""
    from scenarios import SCENARIOS
    sc = dict(SCENARIOS["dtls-cid"], wakes=6, actions={1: [("read", "/3/0/9")], 3: [("read", "/3/0")]})
    rep = run(sc)
    _all_ok(rep)
    paths = [w["path"] for w in rep["wakes"]]
    assert paths[0] == "full-handshake+register" and paths[1:4] == ["cid+update"] * 3, paths
    assert paths[4].startswith("full-handshake+"), paths      # server restart before wake 4
    codes = [r["code"] for w in rep["wakes"] for r in w.get("server_reads", [])]
    assert codes and set(codes) <= {69, 163}, codes


def test_dtls_resumption_wakes_fit_64k():
    rep = run(base(wakes=3, mode="psk", plugins=["dtls", "nosec"], security={"cid": None},
                   actions={1: [("read", "/3/0/9")]}))
    _all_ok(rep)
    assert [w["path"] for w in rep["wakes"]] == ["full-handshake+register", "resume+update", "resume+update"]
