"""make bench, nRF9160 part: bytes AND energy per wake for each way back, on LTE-M and NB-IoT,
through the Serial LTE Modem emulator (energy from the emulated modem's radio states: radio.py).

Each row is a short scenario (wake 0 sets up, then keep-alive wakes an hour apart, no Send, so a
wake's bytes are its path's own cost), behind a 120 s NAT. "wake mJ" is the radio's energy from
the wake's first AT command to the end of its connection (registration, RRC set-up, air time,
connected tail, idle Active Time); "sleep mJ" is the hour of PSM after it (floor + periodic TAUs).
A benchmark: it prints, it asserts nothing.
"""
import asyncio
import statistics

WAYS = [
    # (label, scenario overrides, heap budget: None = the harness budget, tools/heap_budget.py)
    ("nosec", {"mode": "nosec", "plugins": ["nosec"]}, None),
    ("oscore", {"mode": "oscore", "plugins": ["oscore", "nosec"]}, None),
    ("host dtls-cid", {"mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"}}, None),
    ("modem dtls-cid", {"mode": "psk", "plugins": ["dtls", "nosec"], "security": {"modem": True}}, None),
]
SLEEP_CATS = ("psm", "tau")


def _scenario(runner, over, profile, heap, wakes):
    from scenarios import FAST_COAP, FAST_SCHED
    sc = {"wakes": wakes, "local_port": "fresh", "board_name": "nrf9160",
          "board": {"schedule": dict(FAST_SCHED, sleep_s=3600, report="none"),
                    "coap": dict(FAST_COAP, ack_timeout_ms=1500)},
          "nat": {"timeout_s": 120}, "modem": {"dialect": "A", "profile": profile}}
    if heap:
        sc["heap"] = heap
    return runner.merge(sc, over)


def _split(w):
    e = w.get("energy", {})
    sleep = sum(v for k, v in e.items() if k in SLEEP_CATS)
    return w.get("energy_mJ", 0) - sleep, sleep


def _row(label, profile, kind, ws):
    tot = [w["bytes_up"] + w["bytes_down"] for w in ws]
    wake = [_split(w)[0] for w in ws]
    sleep = [_split(w)[1] for w in ws]
    w = ws[len(ws) // 2]
    return {"way": label, "rat": profile, "wake": kind, "path": w.get("path"),
            "bytes": int(statistics.median(tot)), "dgrams": w["meter"]["dgrams_up"] + w["meter"]["dgrams_down"],
            "wake_mJ": round(statistics.median(wake), 1), "sleep_mJ": round(statistics.median(sleep), 1),
            "heap": max(x.get("heap_peak", 0) for x in ws), "ok": sum(1 for x in ws if x.get("result") == "ok"),
            "n": len(ws)}


async def rows(runner, wakes=4, profiles=("lte-m", "nb-iot")):
    out, notes = [], []
    for profile in profiles:
        for label, over, heap in WAYS:
            try:
                rep = await asyncio.wait_for(runner.run_scenario("bench-nrf-%s-%s" % (profile, label.replace(" ", "-")),
                                                                 _scenario(runner, over, profile, heap, wakes),
                                                                 out_dir=None, quiet=True), 400)
            except Exception as e:   # a row that fails says so; the others still run
                notes.append("nrf9160 %s %s: failed: %s: %s" % (profile, label, type(e).__name__, e))
                continue
            ws = rep["wakes"]
            bad = [w for w in ws if w.get("result") != "ok"]
            if bad:
                notes.append("nrf9160 %s %s: %d wakes not ok: %s" % (profile, label, len(bad),
                                                                     sorted(set(str(w.get("result")) for w in bad))))
            out.append(_row(label, profile, "first", ws[:1]))
            if len(ws) > 1:
                out.append(_row(label, profile, "keep-alive", ws[1:]))
    return out, notes


def print_table(rs, notes=()):
    print("\nnRF9160 over the Serial LTE Modem (tools/modem_emu; dialect A; NAT 120 s; 1 h PSM sleeps).")
    print("Energy from the emulated modem's states (docs/nrf9160.md: published figures and assumptions).")
    print("%-15s %-7s %-11s %-27s %7s %4s %9s %9s %7s" % ("way back", "RAT", "wake", "path", "bytes", "dg",
                                                          "wake mJ", "sleep mJ", "heap"))
    for r in rs:
        print("%-15s %-7s %-11s %-27s %7d %4d %9.1f %9.1f %7d%s" % (
            r["way"], r["rat"], r["wake"], r["path"], r["bytes"], r["dgrams"], r["wake_mJ"], r["sleep_mJ"], r["heap"],
            "" if r["ok"] == r["n"] else "  (%d/%d ok)" % (r["ok"], r["n"])))
    for n in notes:
        print("note:", n)
