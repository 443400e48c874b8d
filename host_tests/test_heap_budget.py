"""What fits the device's 64 KiB heap budget today, run exactly as the device runs (ROMFS image,
heap = 64 KiB + image). DTLS wakes do not fit yet (README, Memory); they are not listed here."""
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

