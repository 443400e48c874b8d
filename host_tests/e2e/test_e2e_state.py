"""Persisted state end to end (firmware/state.py registry, docs/memory.md "Persisted state"):
wakes of every security mode with an observation run without a section refused or dropped by
the registry, the deadline a module persisted wakes the device (Store.owned('d')), and a new
registration ends the observations (flag r) while the RTC blob stays within its 2048 bytes."""
import pytest

from scenario_util import base, run, events

MODES = {"nosec": {},
         "psk": {"plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"}},
         "oscore": {"plugins": ["oscore", "nosec"]}}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_keeps_its_state_within_the_registry(mode):
    sc = base(wakes=6, mode=mode,
              actions={1: [("write-attr", "/3303/0/5700", {"pmax": 1800}), ("observe", "/3303/0/5700")],
                       4: [("forget",)]},
              **MODES[mode])
    rep = run(sc, timeout=400, name="e2e-state-" + mode)
    ws = rep["wakes"]
    assert [w.get("result") for w in ws] == ["ok"] * 6, [(w.get("result"), w.get("error")) for w in ws]
    for w in ws:
        bad = [ln for ln in w["log"] if ln.startswith("E state:")]
        assert not bad, (w["wake"], bad)          # nothing refused, nothing failed to load
        assert 0 < w["rtc_bytes"] <= 2048
    # wakes 2 and 3: the observation's pmax deadline (section obd, flag d) shortens the sleep
    assert all(w["sleep_s"] <= 1800 for w in ws[1:4]), [w["sleep_s"] for w in ws]
    n = events(rep, "notify")
    assert len([e for e in n if ws[2]["t"] <= e["t"] < ws[4]["t"]]) >= 2
    # the server forgot the device: wake 4 registers again and its observations end with it
    assert ws[4]["path"].endswith("+register"), ws[4]["path"]
    assert not [e for e in n if e["t"] >= ws[4]["t"]]
    assert all(w["sleep_s"] > 1800 for w in ws[4:]), [w["sleep_s"] for w in ws]
