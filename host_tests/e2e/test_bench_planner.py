"""make bench-planner (tools/bench_planner.py): the harness-side energy model, the suite's
coverage, and one scenario run end to end with the planner and each fixed strategy."""
import json
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # host_tests/
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import bench_planner as bp  # noqa: E402


def _report(wakes, records, virtual_s=86400.0):
    return {"wakes": wakes, "meter": {"records": records}, "summary": {"virtual_s": virtual_s, "paths": {}}}


def test_wifi_energy_from_what_went_over_the_air_and_the_listening_span():
    sc = bp.SUITE["cid-hourly"]
    w = {"wake": 0, "path": "cid+update", "result": "ok", "bytes_up": 100, "bytes_down": 50, "datagrams": 2,
         "meter": {"round_trips": 1}}
    recs = [{"segment": "wake 0", "t": 10.0, "dir": "up"}, {"segment": "wake 0", "t": 10.5, "dir": "down"},
            {"segment": "wake 1", "t": 99.0, "dir": "up"}]
    m = bp.measure(_report([w], recs), sc)
    W = bp.WIFI
    path = (100 * W["tx_uJ_per_byte"] + 50 * W["rx_uJ_per_byte"] + 2 * W["datagram_uJ"]) / 1000 \
        + (0.5 + W["rtt_s"]) * W["rx_mW"]
    assert abs(m["path_mJ_day"] - path) < 1e-6
    fixed = W["assoc_mJ"] + sc["board"]["schedule"]["listen_ms"] / 1000.0 * W["rx_mW"]
    assert abs(m["energy_mJ_day"] - (path + fixed)) < 1e-6
    assert m["failed"] == 0 and m["bytes_day"] == 150
    # a wake that went through a failed path: the failure is counted, its listening is in the span
    w2 = dict(w, tried=[["cid", "no-answer"], ["resume", "ok"]])
    recs2 = [{"segment": "wake 0", "t": 10.0, "dir": "up"}, {"segment": "wake 0", "t": 13.0, "dir": "down"}]
    m2 = bp.measure(_report([w2], recs2), sc)
    assert m2["failed"] == 1 and m2["path_mJ_day"] > m["path_mJ_day"] + 2.4 * W["rx_mW"]


def test_cellular_energy_is_the_modem_emulators():
    sc = bp.SUITE["lte-m-cid"]
    w = {"wake": 0, "path": "cid+update", "result": "ok", "bytes_up": 81, "bytes_down": 34, "datagrams": 2,
         "energy_mJ": 200.0, "energy": {"tx": 1.0, "rx": 0.5, "rtt": 2.0, "connected": 10.0, "setup": 105.0,
                                        "psm": 36.0}}
    m = bp.measure(_report([w], []), sc)
    assert m["energy_mJ_day"] == 200.0 and abs(m["path_mJ_day"] - 13.5) < 1e-9


def test_suite_covers_the_issue_list():
    s = bp.SUITE.values()
    ratios = [sc["board"]["schedule"]["sleep_s"] / sc["nat"]["timeout_s"] for sc in s]
    assert min(ratios) < 1 < max(ratios)
    assert any(sc["board"]["schedule"]["sleep_s"] == 125 and sc["nat"]["timeout_s"] == 120 for sc in s)
    changes = [(sc["nat"]["timeout_s"], v) for sc in s for v in sc.get("nat_timeout", {}).values()]
    assert any(b < a for a, b in changes) and any(b > a for a, b in changes)
    assert any(sc.get("security", {}).get("cid") for sc in s) and any(sc.get("plugin_cfg", {}).get("dtls", {}).get(
        "cid") is False for sc in s)
    assert any(sc.get("plugin_cfg", {}).get("dtls", {}).get("session_max_entries") == 0 for sc in s)
    assert any(sc.get("server_restart") for sc in s) and any(sc["local_port"] == "fresh" for sc in s)
    assert any(sc["nat"].get("loss") == 0.1 for sc in s) and any(sc.get("power_cut") for sc in s)
    assert {sc["modem"]["profile"] for sc in s if sc.get("modem")} == {"lte-m", "nb-iot"}
    assert any(not sc.get("modem") for sc in s)                      # Wi-Fi (the ESP32 model)
    assert any(sc["nat"].get("loss", 0) == 0 for sc in s)
    # the wake plan: a device that must stay reachable (every strategy: a requirement)
    assert any(sc["board"]["schedule"].get("reachable") and sc["board"]["schedule"]["sleep_s"] > sc["nat"]["timeout_s"]
               for sc in s)
    for sc in s:
        assert sc["strategies"] and all(isinstance(x, str) for x in sc["strategies"])


def test_one_scenario_with_the_planner_and_every_fixed_strategy(tmp_path):
    bp.main(["--only", "reuse-60-nat120", "--out", str(tmp_path)])
    with open(tmp_path / "bench-planner.json") as f:
        rep = json.load(f)
    (row,) = rep["rows"]
    assert set(row["fixed"]) == {"dtls-reuse", "resume", "full-handshake"}
    # the forced strategies took their own path on every wake after the first
    n = bp.SUITE["reuse-60-nat120"]["wakes"]
    assert row["fixed"]["full-handshake"]["paths"] == {"full-handshake+register": n}
    assert row["fixed"]["dtls-reuse"]["paths"].get("dtls-reuse+update", 0) >= n - 2
    # sleeping under the NAT timeout on a fixed port, the planner reuses the live connection
    assert row["planner"]["paths"].get("dtls-reuse+update", 0) >= n - 2, row["planner"]["paths"]
    assert row["planner"]["ok"] == row["planner"]["wakes"] == n
    assert row["ratio"] > 0 and os.path.exists(tmp_path / "bench-planner.png")


def test_cellular_boards_carry_the_modem_models_figures():
    # boards/nrf9160.json (LTE-M) and nrf9160-nbiot.json: the planner's cost model is the
    # emulator's (tools/modem_emu/radio.py), so the firmware weighs what the benchmark measures
    from modem_emu.radio import board_radio
    root = os.path.dirname(HERE)
    for board, profile in (("nrf9160", "lte-m"), ("nrf9160-nbiot", "nb-iot")):
        with open(os.path.join(root, "boards", board + ".json")) as f:
            cfg = json.load(f)
        assert cfg["modem"]["rat"] == profile and cfg["modem"]["energy_profile"] == profile
        want = board_radio(profile)
        assert {k: cfg["radio"][k] for k in want} == want, board
    # bytes cost more on NB-IoT than on LTE-M; the set-up over ten times a CID keep-alive's 81 B
    lte, nb = board_radio("lte-m"), board_radio("nb-iot")
    assert nb["tx_uJ_per_byte"] > lte["tx_uJ_per_byte"] > 10 and nb["wake_uJ"] > lte["wake_uJ"] > 10 * 81 * lte["tx_uJ_per_byte"]
