#!/usr/bin/env python3
"""make bench: what each way back to the server costs per wake, measured, beside the floors.

For each security mode the firmware offers, a short scenario runs through the NAT simulator
(mapping timeout 120 s, the device sleeping an hour, so every wake finds its mapping gone):
wake 0 sets up (handshake/B.2 + Register), the later wakes are keep-alives (Update + ACK, no
Send). Bytes, datagrams and round trips come from the byte meter's records of the real
datagrams; heap is the firmware's own live-heap high-water mark (gc.collect before each reading)
under the harness budget (tools/heap_budget.py: 64 KiB of a 32-bit MCU). Reference figures: ../shared/specs/wire-budget.md (floor, the
reference article, the issue's target). A benchmark, not a test: it prints, it asserts nothing.
"""
import asyncio
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import runner  # noqa: E402
import report  # noqa: E402
import heap_budget  # noqa: E402
from scenarios import FAST_COAP, FAST_SCHED  # noqa: E402

KEEPALIVE_WAKES = 4
OVER_BUDGET = 128 * 1024   # only to measure the bytes of a mode that does not fit the budget

# (label, scenario overrides, wake-0 reference, keep-alive reference); references are
# (floor, blog, target) for the UDP payload bytes of one wake, both directions.
MODES = [
    ("nosec", {"mode": "nosec", "plugins": ["nosec"]},
     ("nosec+register", None, None, None), ("nosec+update (keep-alive)", 18, 18, 18)),
    ("dtls", {"mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None}},
     ("full-handshake+register", None, None, None), ("resume+update", 404, 619, 430)),
    ("dtls-cid", {"mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"}},
     ("full-handshake+register (CID)", 529 + 118 + 42, 746 + 165 + 77, None), ("cid+update", 81, 130, 85)),
    ("oscore", {"mode": "oscore", "plugins": ["oscore", "nosec"]},
     ("oscore-b2+register", 194, 359, 230), ("oscore+update", 43, 65, 47)),
]


def available(mode):
    fw = os.path.join(runner.ROOT, "firmware", "sec")
    need = {"nosec": "nosec.py", "psk": "dtls_channel.py", "oscore": "oscore_channel.py"}[mode]
    srv = {"nosec": None, "psk": "dtls_server.py", "oscore": "oscore_server.py"}[mode]
    ok = os.path.exists(os.path.join(fw, need))
    if srv:
        ok = ok and os.path.exists(os.path.join(HERE, "harness", srv))
    return ok


def scenario(over):
    sc = {"wakes": 1 + KEEPALIVE_WAKES, "local_port": "fresh",
          "board": {"schedule": dict(FAST_SCHED, sleep_s=3600, report="none"), "coap": dict(FAST_COAP)},
          "nat": {"timeout_s": 120}}
    return runner.merge(sc, over)


def rows_for(label, rep, ref0, ref1):
    wakes = rep["wakes"]
    out = []
    w0 = wakes[0]
    m0 = w0.get("meter", {})
    out.append({"method": "%s: %s" % (label, w0.get("path", ref0[0])), "measured_up": m0.get("bytes_up"),
                "measured_down": m0.get("bytes_down"),
                "measured_total": (m0.get("bytes_up") or 0) + (m0.get("bytes_down") or 0),
                "dgrams": (m0.get("dgrams_up") or 0) + (m0.get("dgrams_down") or 0), "rtts": m0.get("round_trips"),
                "floor": ref0[1], "blog": ref0[2], "target": ref0[3], "heap": w0.get("heap_peak"),
                "heap_at": w0.get("heap_at"), "result": w0.get("result")})
    ka = [w for w in wakes[1:] if w.get("result") == "ok"]
    if ka:
        tot = [w["meter"]["bytes_up"] + w["meter"]["bytes_down"] for w in ka]
        med = sorted(ka, key=lambda w: w["meter"]["bytes_up"] + w["meter"]["bytes_down"])[len(ka) // 2]
        m = med["meter"]
        out.append({"method": "%s: %s" % (label, med.get("path")), "measured_up": m["bytes_up"],
                    "measured_down": m["bytes_down"], "measured_total": int(statistics.median(tot)),
                    "dgrams": m["dgrams_up"] + m["dgrams_down"], "rtts": m.get("round_trips"),
                    "floor": ref1[1], "blog": ref1[2], "target": ref1[3],
                    "heap": max(w.get("heap_peak", 0) for w in ka),
                    "heap_at": max(ka, key=lambda w: w.get("heap_peak", 0)).get("heap_at"), "result": "ok x%d" % len(ka),
                    "paths": sorted(set(w.get("path") for w in ka))})
    return out


async def main():
    rows = []
    notes = []
    for label, over, ref0, ref1 in MODES:
        if not available(over["mode"]):
            notes.append("%s: not built yet (no channel or server plugin)" % label)
            continue
        try:
            rep = await asyncio.wait_for(runner.run_scenario("bench-" + label, scenario(over), out_dir=None, quiet=True), 300)
            bad = [w for w in rep["wakes"] if w.get("result") != "ok"]
            if bad and any("MemoryError" in str(w.get("error", "")) for w in bad) and runner.HEAP_BUDGET < OVER_BUDGET:
                # does not fit the heap budget: say so, and still measure its bytes with more heap
                notes.append("%s: does NOT fit the %d-byte heap budget (MemoryError); bytes below measured with %d"
                             % (label, runner.HEAP_BUDGET, OVER_BUDGET))
                saved = runner.HEAP_BUDGET
                runner.HEAP_BUDGET = OVER_BUDGET
                try:
                    rep = await asyncio.wait_for(runner.run_scenario("bench-" + label, scenario(over), out_dir=None, quiet=True), 300)
                finally:
                    runner.HEAP_BUDGET = saved
                label += " [over budget]"
        except Exception as e:  # a bench row that fails says so and the others still run
            notes.append("%s: failed: %s: %s" % (label, type(e).__name__, e))
            continue
        bad = [w for w in rep["wakes"] if w.get("result") != "ok"]
        if bad:
            notes.append("%s: %d wakes not ok: %s" % (label, len(bad), sorted(set(str(w.get("result")) + " " + str(w.get("error", ""))[:80] for w in bad))))
        rows.extend(rows_for(label, rep, ref0, ref1))
    print("Per-wake cost, UDP payload bytes both directions, measured through the NAT simulator")
    print("(NAT timeout 120 s, 1 h sleeps: every keep-alive wake finds its mapping expired)\n")
    report.bench_table(rows)
    print("\nPeak live heap per wake (firmware, gc.collect()ed high-water at labelled checkpoints, incl.")
    print("one inside the DTLS handshake; %s):" % heap_budget.describe())
    for r in rows:
        print("  %-40s %6s B  at %s" % (r["method"], r.get("heap"), r.get("heap_at")))
    for n in notes:
        print("note:", n)
    h32 = await heap32()
    # nRF9160 over the Serial LTE Modem: bytes and energy (mJ) per wake, LTE-M and NB-IoT
    from modem_emu import bench_nrf
    nrf_rows, nrf_notes = await bench_nrf.rows(runner)
    bench_nrf.print_table(nrf_rows, nrf_notes)
    os.makedirs(os.path.join(runner.ROOT, "reports"), exist_ok=True)
    path = os.path.join(runner.ROOT, "reports", "bench.json")
    with open(path, "w") as f:
        json.dump({"rows": rows, "notes": notes, "heap32": h32, "nrf9160": nrf_rows, "nrf9160_notes": nrf_notes},
                  f, indent=1)
    print("\nwritten: %s" % path)


async def heap32():
    """The live-heap peak of each wake path on the 64-bit unix port and on MicroPython's 32-bit
    webassembly port (the same wake recorded, then replayed byte for byte: tools/wasm/measure.py,
    docs/memory.md), their ratio and the unix-port budget derived from it."""
    sys.path.insert(0, os.path.join(HERE, "wasm"))
    try:
        import measure
        print("\nLive-heap peak per wake path, 64-bit unix port vs 32-bit webassembly port (the same wake,")
        print("recorded under the unix port with ample heap and replayed byte for byte; docs/memory.md):")
        rows, why = await asyncio.wait_for(measure.measure(list(measure.GROUPS), quiet=True), 900)
        ratio, budget = measure.print_table(rows, why)
        if budget and budget != heap_budget.HARNESS_BUDGET:
            print("note: the measured ratios give a budget of %d B, tools/heap_budget.py has %d B (ratio %.3f):"
                  " update RATIO there" % (budget, heap_budget.HARNESS_BUDGET, heap_budget.RATIO))
        elif budget:
            print("tools/heap_budget.py: %s (matches the measurement)" % heap_budget.describe())
        return {"rows": rows, "ratio_min": ratio, "budget_unix": budget, "unavailable": why}
    except Exception as e:  # the byte table above stands on its own
        print("note: 32-bit heap measurement failed: %s: %s" % (type(e).__name__, e))
        return {"error": "%s: %s" % (type(e).__name__, e)}


if __name__ == "__main__":
    asyncio.run(main())
