"""Every security mode's wakes fit the device's heap budget (tools/heap_budget.py: 64 KiB of a
32-bit MCU, 91 KiB of the 64-bit unix port), run exactly as the device runs (ROMFS image, heap =
budget + image), including the heaviest DTLS fallback wake, and do their work there: the Send
goes out and server requests are served (2.05), in DTLS wakes too."""
import heap_budget
from scenario_util import base, run, events, runner


def _all_ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error"), w.get("undone")) for w in rep["wakes"] if w.get("result") != "ok"]
    assert not bad, bad
    assert all(w["heap_peak"] <= heap_budget.HEAP_BUDGET for w in rep["wakes"])
    assert not any("MemoryError" in ln for w in rep["wakes"] for ln in w.get("log", []))
    # the work was done: every wake's sample reached the server
    assert rep["summary"]["samples"]["delivered"] == rep["summary"]["samples"]["taken"] == len(rep["wakes"])


def test_the_budget_is_64k_of_a_32bit_mcu_with_a_margin():
    assert heap_budget.HARNESS_BUDGET == int(64 * 1024 * heap_budget.RATIO * heap_budget.MARGIN) // 1024 * 1024
    assert heap_budget.MARGIN <= 0.8 and heap_budget.RATIO > 1
    assert runner.HEAP_BUDGET == heap_budget.HEAP_BUDGET


def test_nosec_wakes_fit_with_a_server_read():
    rep = run(base(wakes=3, actions={1: [("read", "/3/0")]}))
    _all_ok(rep)
    assert rep["wakes"][1]["server_reads"][0]["code"] == 69


def test_oscore_wakes_fit():
    rep = run(base(wakes=3, mode="oscore", plugins=["oscore", "nosec"], actions={1: [("read", "/3/0")]}))
    _all_ok(rep)
    assert [w["path"] for w in rep["wakes"]] == ["oscore-b2+register", "oscore+update", "oscore+update"]
    assert len(events(rep, "update")) == 2
    assert rep["wakes"][1]["server_reads"][0]["code"] == 69


def test_dtls_cid_wakes_fit_through_the_heaviest_fallback():
    """The heaviest DTLS wake: the server restarted, the CID record goes unanswered, the
    resumption is refused, the full handshake runs, the registration is refreshed and a Send
    goes out, all in one wake. Server reads in DTLS wakes are served (2.05), not refused."""
    from scenarios import SCENARIOS
    sc = dict(SCENARIOS["dtls-cid"], wakes=6, actions={1: [("read", "/3/0/9")], 3: [("read", "/3/0")],
                                                         4: [("read", "/3/0")]})
    rep = run(sc)
    _all_ok(rep)
    paths = [w["path"] for w in rep["wakes"]]
    assert paths[0] == "full-handshake+register" and paths[1:4] == ["cid+update"] * 3, paths
    assert paths[4].startswith("full-handshake+"), paths      # server restart before wake 4
    codes = [r["code"] for w in rep["wakes"] for r in w.get("server_reads", [])]
    assert codes == [69, 69, 69], codes


def test_dtls_resumption_wakes_fit():
    rep = run(base(wakes=3, mode="psk", plugins=["dtls", "nosec"], security={"cid": None},
                   actions={1: [("read", "/3/0/9"), ("read-cf", "/3/0", 11542)]}))
    _all_ok(rep)
    assert [w["path"] for w in rep["wakes"]] == ["full-handshake+register", "resume+update", "resume+update"]
    assert [r["code"] for r in rep["wakes"][1]["server_reads"]] == [69, 69]
