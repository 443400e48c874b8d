"""End to end with the ESP32 board layer: the real firmware/board/esp32.py under the micropython
unix port, on tools/esp32sim (models of MicroPython's machine, esp32.NVS, network.WLAN and time
on the ESP32 port), booted through the filesystem main.py that `make deploy` installs, through
the NAT in each security mode; Wi-Fi association failures and a power cut at an NVS commit.
"""
from scenario_util import base, run, events

AP = {"assoc_ms": 150, "scan_ms": 400}


def sim(**kw):
    s = {"ap": dict(AP)}
    s.update(kw)
    return s


def _ok(rep, skip=()):
    bad = [(w["wake"], w.get("result"), w.get("error"), w.get("log", [])[-4:])
           for w in rep["wakes"] if w.get("result") != "ok" and w["wake"] not in skip]
    assert not bad, bad


def _wifi_counted(rep):
    for w in rep["wakes"]:
        if w.get("result") == "ok":
            # the association shows in the wake's cost (time and energy at the board's wifi_mW)
            assert w["wifi"] == "up" and w["wifi_ms"] >= AP["assoc_ms"], w
            assert w["wifi_uJ"] == w["wifi_ms"] * 400
            assert w["awake_ms"] >= w["wifi_ms"]


def test_nosec_wifi_credentials_from_secrets():
    # NoSec needs no keys, but the secrets file carries the Wi-Fi credentials: they must load
    rep = run(base(wakes=3, board_name="esp32-sim", esp32sim=sim()))
    _ok(rep)
    assert [w["path"] for w in rep["wakes"]] == ["nosec+register", "nosec+update", "nosec+update"]
    assert len(events(rep, "register")) == 1 and len(events(rep, "update")) == 2
    assert len(events(rep, "send")) == 3
    _wifi_counted(rep)
    # ESP32 facts the board relies on: a deep-sleep wake is reported as such, the endpoint
    # went to NVS once, the RTC blob stays under the 2048-byte RTC memory
    assert [w["cause"] for w in rep["wakes"]] == ["power-on", "deepsleep", "deepsleep"]
    assert all(w["rtc_bytes"] <= 2048 for w in rep["wakes"])
    ep = rep["wakes"][0]["ep"]
    assert ep.startswith("urn:dev:esp32-") and events(rep, "register")[0]["ep"] == ep
    # the power-on clock (2000-01-01) was set by NTP once Wi-Fi was up, and deep sleep kept it
    assert any("clock set by NTP" in ln for ln in rep["wakes"][0]["log"])
    assert not any("NTP" in ln for w in rep["wakes"][1:] for ln in w["log"])
    assert rep["wakes"][0]["t"] < 946684800 + 60 and abs(rep["wakes"][2]["t"] - rep["wakes"][2]["vt"] - 1798761600) < 30


def test_no_ntp_still_works_on_the_power_on_clock():
    rep = run(base(wakes=2, board_name="esp32-sim", esp32sim=sim(ntp="down")))
    _ok(rep)
    assert [w["path"] for w in rep["wakes"]] == ["nosec+register", "nosec+update"]
    assert all(any("clock not set" in ln for ln in w["log"]) for w in rep["wakes"])
    assert all(w["t"] < 946684800 + 7200 for w in rep["wakes"])     # counting from 2000-01-01
    assert len(events(rep, "send")) == 2


def test_psk_cid_through_nat():
    rep = run(base(wakes=3, mode="psk", plugins=["dtls", "nosec"], security={"cid": "rfc9146"},
                   board_name="esp32-sim", esp32sim=sim()))
    _ok(rep)
    paths = [w["path"] for w in rep["wakes"]]
    assert paths[0] == "full-handshake+register" and paths[1:] == ["cid+update", "cid+update"], paths
    assert len(events(rep, "update")) == 2
    _wifi_counted(rep)


def test_oscore_through_nat():
    rep = run(base(wakes=3, mode="oscore", plugins=["oscore", "nosec"], board_name="esp32-sim", esp32sim=sim()))
    _ok(rep)
    paths = [w["path"] for w in rep["wakes"]]
    assert paths[0].endswith("+register") and paths[1:] == ["oscore+update", "oscore+update"], paths
    assert len(events(rep, "update")) == 2
    _wifi_counted(rep)


def test_wifi_ap_down_then_back():
    # wake 1: the AP is off the air: the board stops after the scan (no AP), the wake is
    # network-down with the error back-off, nothing reaches the server; wake 2 is normal again
    rep = run(base(wakes=3, board_name="esp32-sim", esp32sim=sim(ap_at={1: {"down": True}}),
                   board={"schedule": {"error_backoff_s": 120}}))
    _ok(rep, skip=(1,))
    w1 = rep["wakes"][1]
    assert w1["result"] == "network-down" and w1["path"] == "none" and w1["wifi"] == "failed"
    assert any("no AP" in ln for ln in w1["log"])
    assert AP["scan_ms"] <= w1["wifi_ms"] < 8000          # gave up at the scan, not the timeout
    assert w1["sleep_s"] == 120 and w1.get("up", 0) == 0
    assert len(events(rep, "update")) == 1 and rep["wakes"][2]["path"] == "nosec+update"


def test_wifi_wrong_key_is_bounded():
    rep = run(base(wakes=2, board_name="esp32-sim",
                   esp32sim=sim(wifi={"ssid": "lwm2m-lab", "key": "not-the-key"})))
    for w in rep["wakes"]:
        assert w["result"] == "network-down" and w["wifi"] == "failed", w
        assert any("wrong key" in ln for ln in w["log"])
        assert w["wifi_ms"] < 8000            # stopped on STAT_WRONG_PASSWORD, not the timeout
        assert not any("not-the-key" in ln for ln in w["log"])
    assert not events(rep, "register")
    # failures in a row back off (doubling), never a crash loop
    assert rep["wakes"][1]["fails"] == 2 and rep["wakes"][1]["sleep_s"] >= rep["wakes"][0]["sleep_s"]


def test_nvs_power_cut_before_commit_loses_the_write_only():
    # OSCORE: nonce bounds (SSN) and samples go to NVS. The power fails at wake 1's first NVS
    # commit (after its Update, when the Send's sample is written): that write never lands and
    # RTC memory is gone too. The next wake is a power-on that resumes from what NVS holds
    # (endpoint, SSN bound, OSCORE context state) and goes on without a nonce the server refuses.
    sc = base(wakes=4, mode="oscore", plugins=["oscore", "nosec"], board_name="esp32-sim",
              esp32sim=sim(nvs_cut={1: 1}))
    rep = run(sc)
    _ok(rep, skip=(1,))
    w1 = rep["wakes"][1]
    assert w1["result"] == "power-cut" and w1["nvs_commits"] == 0
    assert any("never landed" in ln for ln in w1["log"])
    w2 = rep["wakes"][2]
    assert w2["cause"] == "power-on" and w2["path"].startswith("oscore")
    assert rep["wakes"][3]["path"] == "oscore+update"
    assert not [e for e in events(rep, "drop") if "replay" in e.get("why", "")]
    # one endpoint throughout (it is in NVS); the cut wake's sample was never persisted
    assert len({e["ep"] for e in events(rep, "register")}) == 1
    assert len(events(rep, "send")) == 3
