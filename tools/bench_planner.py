#!/usr/bin/env python3
"""make bench-planner: the wake planner against every fixed strategy, in hindsight.

Each scenario of the suite runs once with the planner and once per fixed strategy (the board
knob `planner.force`: always take that path first when its state exists, then the channel's
own fallback order). Energy is the harness's, from what went over the air, never the
firmware's own estimate:

- Wi-Fi (unix board, ESP32 figures, docs/planner.md): per wake the association (1.2 s at
  400 mW = 480 mJ, the esp32-sim default), the bytes (1.5 µJ/B up, 0.8 µJ/B down), the
  datagrams (300 µJ each) and the radio-on time while the device waits for answers: the span
  from the first to the last datagram of the wake in the byte meter (the real listening time,
  failed attempts included) at 300 mW, plus 50 ms per round trip the meter counted (loopback
  has no path delay), plus the queue-mode listen window after it.
- LTE-M / NB-IoT: the nRF9160 modem emulator's energy of the wake (tools/modem_emu/radio.py:
  RRC set-up, TX/RX at the bearer's rate, round trips, the inactivity tail, PSM floor).

Path energy leaves out the per-wake fixed parts (association, listen window; for cellular the
set-up, registration, TAU and PSM floor): what the choice of path moves.

    bench_planner.py [--quick] [--only NAME[,NAME]] [--jobs 2] [--out reports]

Prints per scenario energy/day, bytes/day, failed attempts, the hindsight-best fixed strategy
and the planner's ratio to it (total and path energy); writes reports/bench-planner.json and
reports/bench-planner.png. A benchmark, not a test: it asserts nothing.
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

FAST_COAP = {"ack_timeout_ms": 300, "ack_random_factor": 1.5, "max_retransmit": 3}
SCHED = {"listen_ms": 300, "listen_max_ms": 3000, "report": "send"}

# Wi-Fi model (ESP32, docs/planner.md): mJ, µJ, mW
WIFI = {"assoc_mJ": 480.0, "tx_uJ_per_byte": 1.5, "rx_uJ_per_byte": 0.8, "datagram_uJ": 300.0, "rx_mW": 300.0,
        "rtt_s": 0.05}
CELL_PATH_KEYS = ("tx", "rx", "rtt", "connected")

DTLS = ["dtls-reuse", "resume", "full-handshake"]
CID = ["cid", "resume", "full-handshake"]


def _sc(title, wakes, sleep, nat, mode="psk", cid=None, port="fresh", strategies=DTLS, **kw):
    sc = {"title": title, "wakes": wakes, "mode": mode,
          "plugins": ["dtls", "nosec"] if mode == "psk" else ["oscore", "nosec"],
          "board": {"schedule": dict(SCHED, sleep_s=sleep), "coap": dict(FAST_COAP)},
          "nat": dict({"timeout_s": nat}), "local_port": port, "strategies": strategies}
    if mode == "psk":
        sc["security"] = {"cid": cid}
    if port == "fresh" and "dtls-reuse" in strategies:
        # a new local port each wake: the server knows the connection by the old address, so
        # forcing dtls-reuse fails every wake (measured: 2x resumption's energy); left out
        sc["strategies"] = [x for x in strategies if x != "dtls-reuse"]
    for k, v in kw.items():
        if k == "loss":
            sc["nat"]["loss"] = v
        elif k == "dtls":
            sc.setdefault("plugin_cfg", {})["dtls"] = v
        elif k == "reachable":
            sc["board"]["schedule"]["reachable"] = v
        else:
            sc[k] = v
    return sc


def _cell(title, profile, wakes=24, **kw):
    """The nRF9160 through the modem emulator, hourly: 24 wakes (a day) like the hourly Wi-Fi
    scenarios (a suite choice; they ran 12: a server restart, which no strategy foresees,
    then weighed 1/12 of the run, and LTE-M's 41 mJ CID silence alone was 7 % of a run's
    path energy)."""
    sc = _sc(title, wakes, 3600, 120, **kw)
    sc["board_name"] = "nrf9160" if profile == "lte-m" else "nrf9160-nbiot"
    sc["board"]["coap"]["ack_timeout_ms"] = 1500
    sc["modem"] = {"dialect": "A", "profile": profile}
    return sc


def _multi(title, wakes=24, bind=False, **kw):
    """OSCORE and DTLS-PSK provisioned together (security.modes, docs/planner.md "Several
    mechanisms"); the DTLS handshake's own timers short (a silent server costs ~1 s per try).
    24 wakes (a day, hourly) like the other hourly Wi-Fi scenarios: the one wake where the
    server loses a mechanism, which no strategy foresees, amortises as elsewhere (a suite choice;
    it was 7)."""
    plugins = kw.pop("plugins", ["dtls", "oscore", "nosec"])
    sc = _sc(title, wakes, 3600, 120, mode="oscore", strategies=MULTI, **kw)
    sc["modes"] = ["oscore", "psk"]
    sc["plugins"] = plugins
    sc["security"] = {"cid": "rfc9146", "retransmit_ms": 300, "max_tries": 2}
    if bind:      # the server binds both identities of the endpoint; the device knows it
        sc["bind_identities"] = {"urn:dev:unix-0001": ["Client_identity", "01"]}
        sc["board"]["server"] = {"bind_identities": True}
    return sc


MULTI = ["oscore", "oscore-b2", "cid", "resume", "full-handshake"]


def _every(n, wakes):
    return list(range(n, wakes, n))


SUITE = {
    # sleep/NAT ratio below and above 1, fixed local port (dtls-reuse can work)
    "reuse-60-nat120": _sc("sleep 60 s < NAT 120 s, fixed port, no CID", 48, 60, 120, port="fixed"),
    "reuse-125-nat120": _sc("sleep 125 s > NAT 120 s, fixed port, no CID", 48, 125, 120, port="fixed"),
    "reuse-300-nat600": _sc("sleep 300 s < NAT 600 s (above the prior), fixed port, no CID", 48, 300, 600,
                            port="fixed"),
    "nat-falls": _sc("NAT 600 s falls to 60 s at wake 16, sleep 300 s, fixed port", 48, 300, 600, port="fixed",
                     nat_timeout={16: 60}),
    "nat-rises": _sc("NAT 60 s rises to 600 s at wake 8, sleep 300 s, fixed port", 48, 300, 60, port="fixed",
                     nat_timeout={8: 600}),
    "fresh-port-60": _sc("sleep 60 s < NAT 120 s but a new local port each wake", 48, 60, 120, port="fresh"),
    "resume-hourly": _sc("no CID, hourly, NAT 120 s: resumption", 24, 3600, 120),
    "no-session-cache": _sc("no CID, server without session cache", 24, 3600, 120,
                            dtls={"session_max_entries": 0}),
    "restarts-3h": _sc("no CID, hourly, server restarts every 3 h", 24, 3600, 120, server_restart=_every(3, 24)),
    "cid-hourly": _sc("CID granted, hourly", 24, 3600, 120, cid="rfc9146", strategies=CID),
    "cid-not-granted": _sc("client asks for CID, server grants none", 24, 3600, 120, cid="rfc9146",
                           dtls={"cid": False}),
    "cid-restarts-3h": _sc("CID, server restarts every 3 h", 24, 3600, 120, cid="rfc9146", strategies=CID,
                           server_restart=_every(3, 24)),
    "cid-restarts-8h": _sc("CID, server restarts every 8 h", 24, 3600, 120, cid="rfc9146", strategies=CID,
                           server_restart=_every(8, 24)),
    "cid-loss10": _sc("CID, 10 % loss each way", 24, 3600, 120, cid="rfc9146", strategies=CID, loss=0.1),
    "reuse-loss10": _sc("sleep 60 s < NAT 120 s, fixed port, 10 % loss each way", 48, 60, 120, port="fixed",
                        loss=0.1),
    "cid-power-cuts": _sc("CID, power cuts (RTC lost) with probability 0.3", 24, 3600, 120, cid="rfc9146",
                          strategies=CID, power_cut=0.3, seed=3),
    "oscore-hourly": _sc("OSCORE, hourly", 12, 3600, 120, mode="oscore", strategies=["oscore", "oscore-b2"]),
    # the wake, not only the path: a device that must stay reachable sleeps under the NAT's
    # proven lower bound (every strategy: a requirement), the planner keeps the mapping's path
    "reachable-600-nat120": _sc("must stay reachable: sleep 600 s planned under NAT 120 s, fixed port", 48, 600,
                                120, port="fixed", reachable=True),
    "reachable-cid-nat120": _sc("must stay reachable, CID, new port each wake, NAT 120 s", 48, 600, 120,
                                cid="rfc9146", strategies=CID, reachable=True),
    "lte-m-cid": _cell("nRF9160 LTE-M, host DTLS with CID", "lte-m", cid="rfc9146", strategies=CID),
    "lte-m-restarts-3h": _cell("nRF9160 LTE-M, host DTLS with CID, server restarts every 3 h", "lte-m",
                               cid="rfc9146", strategies=CID, server_restart=_every(3, 24)),
    "nb-iot-resume": _cell("nRF9160 NB-IoT, host DTLS without CID", "nb-iot"),
    "nb-iot-cid": _cell("nRF9160 NB-IoT, host DTLS with CID", "nb-iot", cid="rfc9146", strategies=CID),
}
# several mechanisms for one server (kept apart from the entries above)
SUITE.update({
    "multi-hourly": _multi("OSCORE + DTLS provisioned, hourly, nothing fails"),
    "multi-oscore-lost": _multi("OSCORE + DTLS, the server loses its OSCORE records at wake 3",
                                server_drop={3: ["oscore"]}),
    "multi-oscore-lost-bound": _multi("OSCORE + DTLS, OSCORE lost at wake 3, server binds identities",
                                      bind=True, server_drop={3: ["oscore"]}),
    "multi-no-dtls": _multi("OSCORE + DTLS provisioned, the server has no DTLS",
                            plugins=["oscore", "nosec"]),
    "multi-dtls-lost-bound": _multi("OSCORE + DTLS, OSCORE back and DTLS gone at wake 3, bound",
                                    bind=True, server_drop={0: ["oscore"], 3: ["+oscore", "dtls"]}),
    "multi-dtls-lost": _multi("OSCORE + DTLS, OSCORE back and DTLS gone at wake 3, not bound",
                              server_drop={0: ["oscore"], 3: ["+oscore", "dtls"]}),
})
QUICK = ["reuse-60-nat120", "fresh-port-60", "cid-restarts-3h"]


def _records(report, label):
    m = report.get("meter") or {}
    return [r for r in m.get("records", ()) if r.get("segment") == label and "t" in r and "dir" in r]


def measure(report, sc):
    """Energy (mJ), path energy (mJ), bytes, failed attempts, virtual days of one run."""
    cell = sc.get("modem") is not None
    listen = sc["board"]["schedule"]["listen_ms"] / 1000.0
    e_tot = e_path = 0.0
    nbytes = fails = 0
    for w in report["wakes"]:
        b_up, b_down, dg = w.get("bytes_up", 0), w.get("bytes_down", 0), w.get("datagrams", 0)
        nbytes += b_up + b_down
        tried = w.get("tried")
        if tried:
            fails += sum(1 for t in tried if t[1] != "ok")
        elif w.get("result") not in ("ok", "partial"):
            fails += 1
        if cell:
            en = w.get("energy") or {}
            e_tot += w.get("energy_mJ", 0.0)
            e_path += sum(en.get(k, 0.0) for k in CELL_PATH_KEYS)
            continue
        recs = _records(report, "wake %d" % w["wake"])
        span = (max(r["t"] for r in recs) - min(r["t"] for r in recs)) if recs else 0.0
        p = (b_up * WIFI["tx_uJ_per_byte"] + b_down * WIFI["rx_uJ_per_byte"] + dg * WIFI["datagram_uJ"]) / 1000.0
        # loopback has no path delay: each round trip the meter counted waits one Internet RTT more
        p += (span + (w.get("meter") or {}).get("round_trips", 0) * WIFI["rtt_s"]) * WIFI["rx_mW"]
        e_path += p
        e_tot += p
        if w.get("path") not in (None, "sample"):
            e_tot += WIFI["assoc_mJ"] + (listen * WIFI["rx_mW"] if w.get("result") in ("ok", "partial") else 0)
    days = max(report["summary"]["virtual_s"], 1.0) / 86400.0
    ok = sum(1 for w in report["wakes"] if w.get("result") in ("ok", "partial"))
    return {"energy_mJ_day": e_tot / days, "path_mJ_day": e_path / days, "bytes_day": nbytes / days,
            "failed": fails, "wakes": len(report["wakes"]), "ok": ok,
            "paths": report["summary"].get("paths", {})}


def run_one(task):
    name, strategy, sc = task
    import runner
    sc = runner.merge(sc, {})
    sc.pop("strategies", None)
    if strategy != "planner":
        sc["board"]["planner"] = {"force": strategy}
    t = time.monotonic()
    rep = asyncio.run(runner.run_scenario("%s.%s" % (name, strategy), sc, out_dir=None, quiet=True))
    m = measure(rep, sc)
    m["real_s"] = round(time.monotonic() - t, 1)
    return name, strategy, m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small subset (for tests)")
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--jobs", type=int, default=2, help="parallel processes (at most 2)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "reports"))
    a = ap.parse_args(argv)
    names = a.only.split(",") if a.only else (QUICK if a.quick else list(SUITE))
    import runner
    runner.build_mpy()
    runner.build_romfs()
    tasks = [(n, s, SUITE[n]) for n in names for s in ["planner"] + SUITE[n]["strategies"]]
    t0 = time.monotonic()
    res = {}
    jobs = max(1, min(2, a.jobs))
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for name, strat, m in pool.imap_unordered(run_one, tasks):
            res.setdefault(name, {})[strat] = m
            print("  %-18s %-15s %9.0f mJ/day %8.0f B/day failed %d (%ss)" % (
                name, strat, m["energy_mJ_day"], m["bytes_day"], m["failed"], m["real_s"]), flush=True)
    rows = []
    for n in names:
        r = res[n]
        fixed = {s: r[s] for s in SUITE[n]["strategies"] if s in r}
        best = min(fixed, key=lambda s: fixed[s]["energy_mJ_day"])
        best_p = min(fixed, key=lambda s: fixed[s]["path_mJ_day"])
        p = r["planner"]
        rows.append({"scenario": n, "title": SUITE[n]["title"], "planner": p, "fixed": fixed,
                     "best": best, "best_path": best_p,
                     "ratio": p["energy_mJ_day"] / fixed[best]["energy_mJ_day"],
                     "ratio_path": p["path_mJ_day"] / max(fixed[best_p]["path_mJ_day"], 1e-9)})
    print()
    print("%-18s %10s %9s %6s %-15s %10s %7s %7s" % ("scenario", "mJ/day", "B/day", "failed", "best fixed",
                                                    "best mJ/d", "ratio", "path"))
    for row in rows:
        p = row["planner"]
        print("%-18s %10.0f %9.0f %6d %-15s %10.0f %7.3f %7.3f" % (
            row["scenario"], p["energy_mJ_day"], p["bytes_day"], p["failed"], row["best"],
            row["fixed"][row["best"]]["energy_mJ_day"], row["ratio"], row["ratio_path"]))
    mean = sum(r["ratio"] for r in rows) / len(rows)
    mean_p = sum(r["ratio_path"] for r in rows) / len(rows)
    within = sum(1 for r in rows if r["ratio"] <= 1.05 and r["ratio_path"] <= 1.05)
    print("mean ratio %.3f (path %.3f); within 5 %% on both: %d of %d; %.0f s" % (
        mean, mean_p, within, len(rows), time.monotonic() - t0))
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "bench-planner.json"), "w") as f:
        json.dump({"rows": rows, "mean_ratio": mean, "mean_ratio_path": mean_p, "wifi_model": WIFI,
                   "quick": a.quick}, f, indent=1)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.6), 4))
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["ratio"] for r in rows], 0.4, label="total energy")
        ax.bar([x + 0.2 for x in xs], [r["ratio_path"] for r in rows], 0.4, label="path energy")
        ax.axhline(1.05, color="r", lw=1, ls="--", label="goal 1.05")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["scenario"] for r in rows], rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("planner / best fixed strategy")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, "bench-planner.png"), dpi=90)
    except ImportError:
        print("matplotlib missing: no PNG")
    print("reports: %s/bench-planner.json, bench-planner.png" % a.out)


if __name__ == "__main__":
    main()
