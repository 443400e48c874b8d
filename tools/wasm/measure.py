#!/usr/bin/env python3
"""The firmware's live-heap peak per wake path on a 64-bit and a 32-bit MicroPython.

The harness runs the firmware on the unix port, which is 64-bit: its objects are about twice
an ESP32's. To know what a wake needs on a 32-bit MCU, each wake path is
1. RECORDED under the unix port (tools/runner.py scenarios through the NAT simulator and the
   harness server), made deterministic by three shims loaded before the firmware (shims/):
   `time` (virtual ticks that advance only while the device waits for a datagram; wall clock =
   a recorded second + the ticks), `os` (urandom from a recorded seed) and `socket` (a real UDP
   socket that logs every datagram both ways, with the milliseconds waited, and every timeout).
   The RTC memory and flash files, the config, the secrets and the clock file are copied before
   the wake. net/udp.py and the whole firmware run unmodified on top of the shims.
2. REPLAYED under MicroPython's 32-bit webassembly port in Node (replay.mjs): the same ROMFS
   image (build/firmware.romfs, the same .mpy files), the same boot as tools/runner.py, the
   same shims; the socket is the JS host, which hands out the recorded downlink datagrams and
   checks every uplink datagram byte for byte (a difference is an error naming the first
   datagram that differs); AES comes from Node's crypto (shims/hostaes.py, a `cryptolib`).
Both ports report the firmware's own heap_peak (wake/cycle.py Heap: gc.collect(), then
gc.mem_alloc() - HEAP0 at the same labelled checkpoints), so the two figures are the same
measurement of the same wake on two word sizes. Recording runs with a large heap (REC_HEAP) so
that no path is cut short by the 64 KiB budget (the webassembly heap grows on demand): both
ports do the wake's whole work.

    measure.py [--groups nosec,dtls,...] [--json FILE] [--keep DIR]
"""
import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
import runner  # noqa: E402
from scenarios import FAST_COAP, FAST_SCHED  # noqa: E402

SHIMS = os.path.join(HERE, "shims")
REPLAY = os.path.join(HERE, "replay.mjs")
NODE_DIR = os.path.join(ROOT, ".node")
WASM_PKG = "@micropython/micropython-webassembly-pyscript"
MPJS = os.path.join(NODE_DIR, "node_modules", WASM_PKG, "micropython.mjs")
REC_HEAP = 512 * 1024
TARGET_HEAP = 64 * 1024          # what an ESP32 with Wi-Fi up leaves (README "Memory")
MARGIN = 0.8
# WAKE line fields that must be the same on both ports (what the wake did and sent)
SAME = ("path", "result", "up", "down", "dg_up", "dg_down", "retx", "sent", "served", "notified", "tried",
        "awake_ms", "sleep_s", "rtc_bytes")
ENV_KEYS = ("LWM2M_STATE", "LWM2M_CONFIG", "LWM2M_SECRETS", "LWM2M_RESET", "LWM2M_CLOCK",
            "LWM2M_TEMP", "LWM2M_LOCAL_PORT")

UNIX_BOOT = """
import sys, vfs, os, time, gc
img = bytearray(%(size)d)
f = open(%(romfs)r, 'rb')
f.readinto(img)
f.close()
vfs.mount(vfs.VfsRom(img), '/rom')
sys.path[0:0] = ['/rom']
sys.path.append(%(shims)r)
import vtime, vos, vsock, vgc
rec = os.getenv('LWM2M_REC')
vtime.T0 = int(time.time())
vos.SEED = bytes.fromhex(os.getenv('LWM2M_SEED'))
vsock.REC = rec
f = open(rec, 'w')
f.write('H ' + repr({'T0': vtime.T0, 'seed': os.getenv('LWM2M_SEED'),
                    'env': dict((k, os.getenv(k)) for k in %(keys)r)}).replace("'", '"').replace('None', 'null') + chr(10))
f.close()
sys.modules['time'] = vtime
sys.modules['os'] = vos
sys.modules['socket'] = vsock
sys.modules['gc'] = vgc
gc = vgc
import cryptolib
gc.collect()
a0 = gc.mem_alloc()
o = cryptolib.aes(bytes(16), 1)
gc.collect()
print('C_AES', gc.mem_alloc() - a0)
del o
print('MAXSIZE', sys.maxsize)
gc.collect()
import wake
wake.HEAP0 = gc.mem_alloc()
import main
"""


def record_argv(heap_budget=None, romfs=None):
    """runner.device_argv's stand-in while recording (same arguments): the wake boots the same
    image (the harness bootloader's slot if it picked one) with the recording shims."""
    runner.build_mpy()
    size = runner.build_romfs()
    image = runner.ROMFS
    if romfs:
        image, size = romfs, os.path.getsize(romfs)
    heap = REC_HEAP + (size + 15) // 16 * 16
    boot = UNIX_BOOT % {"size": size, "romfs": image, "shims": SHIMS, "keys": ENV_KEYS}
    return [runner.MP, "-X", "heapsize=%d" % heap, "-c", boot]


# What is measured: one scenario per group of wake paths. Wake 0 sets up, the later wakes are
# the paths named; "show": the wakes measured (default all; the set-up wakes another group
# measures already are left out). report "send": every wake takes and sends its sample (the real workload).
# Server requests avoid /3/0/10 (free memory differs between the ports by design).
_S = {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": dict(FAST_COAP)}
REQUESTS = [("read", "/3303/0"), ("read-cf", "/3/0/9", 11542), ("discover", "/3"),
            ("write-attr", "/3303/0/5700", {"pmax": 7200, "st": 0.5}), ("observe", "/3303/0/5700"),
            ("write", "/1/0/3", "10"), ("exec", "/3303/0/5605"), ("read-cf", "/4/0", 112)]
OSCORE_SECRETS = {"master_secret": "0102030405060708090a0b0c0d0e0f10", "master_salt": "9e7ca92223786340",
                  "sender_id": "01", "recipient_id": "00"}      # = secrets/example.json's oscore
GROUPS = {
    "nosec": {"wakes": 2, "mode": "nosec", "plugins": ["nosec"]},
    "nosec-dm": {"wakes": 2, "mode": "nosec", "plugins": ["nosec"], "actions": {1: REQUESTS}, "show": [1]},
    "oscore": {"wakes": 2, "mode": "oscore", "plugins": ["oscore", "nosec"]},
    "oscore-heal": {"wakes": 3, "mode": "oscore", "plugins": ["oscore", "nosec"], "server_restart": [2],
                    "plugin_cfg": {"oscore": {"restart_loses_contexts": True, "secrets": OSCORE_SECRETS}}, "show": [2]},
    "dtls": {"wakes": 2, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None}},
    "dtls-cid": {"wakes": 2, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"}},
    "dtls-dm": {"wakes": 2, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None},
                "actions": {1: REQUESTS}, "show": [1]},
    "dtls-reuse": {"wakes": 2, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None},
                   "local_port": "fixed", "board": {"schedule": {"sleep_s": 60}}, "show": [1]},
    "dtls-cid-fallback": {"wakes": 3, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"},
                          "server_restart": [2], "actions": {2: [("forget",)]}, "show": [2]},
}
# several mechanisms for one server (security.modes, docs/planner.md): OSCORE lost on the server
# at wake 2, the wake falls back to a DTLS full handshake (one channel alive at a time)
GROUPS["multi-fallback"] = {"wakes": 3, "mode": "oscore", "modes": ["oscore", "psk"],
                            "plugins": ["dtls", "oscore", "nosec"], "security": {"cid": "rfc9146"},
                            "server_drop": {2: ["oscore"]}, "show": [2]}
GROUPS["multi-oscore"] = {"wakes": 2, "mode": "oscore", "modes": ["oscore", "psk"],     # (both
                          "plugins": ["dtls", "oscore", "nosec"], "security": {"cid": "rfc9146"},
                          "show": [1]}                    # provisioned, an OSCORE Update)


def group_scenario(over):
    sc = {"local_port": "fresh", "board": _S, "nat": {"timeout_s": 120}}
    return runner.merge(sc, dict((k, v) for k, v in over.items() if k != "show"))


def path_key(w):
    """The path label of a wake: 'resume+update', with the fallback chain when there was one,
    and '+dm' when it served server requests."""
    p = w.get("path", "?")
    tried = w.get("tried")
    if tried and len(tried) > 1:
        p = " -> ".join(t[0] for t in tried) + " (" + p + ")"
    if w.get("served"):
        p += " +%d requests" % w["served"]
    return p


async def record_group(name, sc, outdir):
    """Run scenario `sc` under the unix port with the recording shims; returns the wakes (the
    WAKE line fields, plus 'rec': the recording's directory)."""
    orig_wake = runner.Device.wake
    orig_argv = runner.device_argv
    n = [0]

    async def wake(self, extra_env=None, heap_budget=None):
        d = os.path.join(outdir, "%s-%d" % (name, n[0]))
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(self.dir, os.path.join(d, "state"))
        shutil.copy(self.config_path, os.path.join(d, "config.json"))
        if self.secrets_path:
            shutil.copy(self.secrets_path, os.path.join(d, "secrets.json"))
        if self.clock_file and os.path.exists(self.clock_file):
            shutil.copy(self.clock_file, os.path.join(d, "clock"))
        seed = hashlib.sha256(("%s-%d" % (name, n[0])).encode()).hexdigest()[:32]
        env = dict(extra_env or {}, LWM2M_REC=os.path.join(d, "rec.txt"), LWM2M_SEED=seed)
        n[0] += 1
        info = await orig_wake(self, env, heap_budget)
        info["rec"] = d
        for ln in info.get("log", []):
            if ln.startswith("C_AES "):
                info["c_aes_bytes"] = int(ln[6:])
        return info

    runner.Device.wake = wake
    runner.device_argv = record_argv
    try:
        rep = await runner.run_scenario("heap32-" + name, sc, out_dir=None, quiet=True)
    finally:
        runner.Device.wake = orig_wake
        runner.device_argv = orig_argv
    return rep["wakes"]


def node():
    return shutil.which("node")


def available():
    """None when the 32-bit port can run here, else the reason."""
    if not node():
        return "node is not installed (make heap32 installs nodejs with apt-get as root)"
    if not os.path.exists(MPJS):
        return "%s is not installed in .node/ (make heap32 installs it)" % WASM_PKG
    return None


def replay(recdir, timeout=300):
    """Replay one recorded wake on the 32-bit port; returns replay.mjs's JSON result."""
    runner.build_mpy()
    runner.build_romfs()
    p = subprocess.run([node(), REPLAY, recdir, runner.ROMFS, SHIMS, MPJS], capture_output=True,
                       text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"ok": False, "error": "replay.mjs: exit %d: %s" % (p.returncode, (p.stderr or p.stdout)[-800:])}
    return json.loads(lines[-1])


BINDING = 0.85      # a path binds the budget when its 64-bit peak is within 15 % of the heaviest


def budget(rows):
    """(ratio used, budget in bytes, text): the unix-port budget that stands for TARGET_HEAP on a
    32-bit MCU, with a 20 % margin.

    The budget binds the heaviest wakes (the DTLS handshakes, resumption, the fallback chain):
    the ratio taken is the smallest among the paths whose 64-bit peak is within 15 % of the
    heaviest one. A lighter path may have a smaller ratio (the interned-name pool doubles at a
    different point on each port: OSCORE measured 1.58 for that reason), but it is far from
    the budget on both ports; it is checked directly instead: every measured path's 32-bit peak
    must stay under TARGET_HEAP x MARGIN, and the text says so, path by path if one does not."""
    rs = sorted(r["ratio"] for r in rows if r.get("ratio"))
    if not rs:
        return None, None, "no ratio measured"
    meas = [r for r in rows if r.get("ratio")]
    heavy = max(meas, key=lambda r: r["peak64"])
    bind = [r for r in meas if r["peak64"] >= BINDING * heavy["peak64"]]
    lo_row = min(bind, key=lambda r: r["ratio"])
    lo = lo_row["ratio"]
    exact = TARGET_HEAP * lo * MARGIN
    b = int(exact) // 1024 * 1024
    cap = int(TARGET_HEAP * MARGIN)
    over = [r for r in meas if r.get("peak32") and r["peak32"] > cap]
    top32 = max(meas, key=lambda r: r.get("peak32") or 0)
    text = ("budget_unix = %d KiB x %.3f (smallest ratio of the binding paths) x %.1f (20 %% margin) = %d B,"
            " rounded down to %d B (%d KiB)\n"
            "  binding paths (64-bit peak within %d %% of the heaviest, %s: %d B): %d, ratios %.3f..%.3f;"
            " all paths: ratios %.3f..%.3f, median %.3f\n"
            "  direct check on 32 bits: every path's peak <= %d KiB x %.1f = %d B: %s (highest %s: %d B)"
            % (TARGET_HEAP // 1024, lo, MARGIN, exact, b, b // 1024,
               round((1 - BINDING) * 100), heavy["path"], heavy["peak64"], len(bind),
               min(r["ratio"] for r in bind), max(r["ratio"] for r in bind),
               rs[0], rs[-1], rs[len(rs) // 2], TARGET_HEAP // 1024, MARGIN, cap,
               "ok" if not over else "OVER: " + ", ".join("%s %d B" % (r["path"], r["peak32"]) for r in over),
               top32["path"], top32.get("peak32") or 0))
    return lo, b, text


async def measure(groups, keep=None, quiet=False):
    outdir = keep or tempfile.mkdtemp(prefix="heap32-")
    os.makedirs(outdir, exist_ok=True)
    rows = []
    why = available()
    for g in groups:
        wakes = await record_group(g, group_scenario(GROUPS[g]), outdir)
        for i, w in enumerate(wakes):
            if i not in GROUPS[g].get("show", range(len(wakes))):
                continue
            row = {"group": g, "wake": i, "path": path_key(w), "result": w.get("result"),
                   "peak64": w.get("heap_peak"), "at64": w.get("heap_at"), "marks64": w.get("heap_marks"),
                   "c_aes_bytes": w.get("c_aes_bytes"), "rec": w.get("rec")}
            if why is None:
                r = replay(w["rec"])
                ww = r.get("wake") or {}
                row.update({"replay_ok": r.get("ok"), "replay_error": r.get("error"), "peak32": ww.get("heap_peak"),
                            "at32": ww.get("heap_at"), "marks32": ww.get("heap_marks"),
                            "shim_aes_bytes": r.get("shim_aes_bytes"), "maxsize32": r.get("maxsize"),
                            "datagrams": "%d up, %d down" % (r.get("up", 0), r.get("down", 0))})
                labels = lambda m: [x.split(":")[0] for x in (m or "").split()]  # noqa: E731
                if r.get("ok") and ww.get("path") != w.get("path"):
                    row["replay_ok"] = False
                    row["replay_error"] = "path %s replayed as %s" % (w.get("path"), ww.get("path"))
                elif r.get("ok") and [w.get(k) for k in SAME] != [ww.get(k) for k in SAME]:
                    row["replay_ok"] = False
                    row["replay_error"] = "the replayed wake reports otherwise: %s" % [
                        (k, w.get(k), ww.get(k)) for k in SAME if w.get(k) != ww.get(k)]
                elif r.get("ok") and labels(ww.get("heap_marks")) != labels(w.get("heap_marks")):
                    row["replay_ok"] = False
                    row["replay_error"] = "other heap checkpoints: %s vs %s" % (w.get("heap_marks"), ww.get("heap_marks"))
                if row["replay_ok"] and row["peak32"]:
                    row["ratio"] = round(row["peak64"] / row["peak32"], 3)
            rows.append(row)
            if not quiet:
                print("  %-18s wake %d %-50s 64-bit %6s B  32-bit %6s B  %s" % (
                    g, i, row["path"][:50], row["peak64"], row.get("peak32"),
                    ("ratio %.3f" % row["ratio"]) if row.get("ratio") else (row.get("replay_error") or why or "")[:120]),
                    flush=True)
    if not keep:
        shutil.rmtree(outdir, ignore_errors=True)
    return rows, why


def print_table(rows, why=None, out=sys.stdout):
    print("%-58s %8s %8s %6s  %s" % ("wake path (scenario wake)", "64-bit B", "32-bit B", "ratio", "peak at (64 / 32)"), file=out)
    for r in rows:
        print("%-58s %8s %8s %6s  %s / %s" % (
            ("%s (%s %d)" % (r["path"], r["group"], r["wake"]))[:58], r["peak64"], r.get("peak32") or "-",
            ("%.3f" % r["ratio"]) if r.get("ratio") else "-", r.get("at64"), r.get("at32")), file=out)
    bad = [r for r in rows if r.get("replay_ok") is False]
    for r in bad:
        print("replay failed: %s %d: %s" % (r["group"], r["wake"], r.get("replay_error")), file=out)
    if why:
        print("32-bit port not available: %s" % why, file=out)
    aes = [r for r in rows if r.get("shim_aes_bytes") is not None]
    if aes:
        print("cryptolib shim (32-bit port): %d B of heap per aes object (the unix port's C cryptolib: %s B); "
              "CCM builds one per seal/open and drops it, none is live at a checkpoint"
              % (aes[0]["shim_aes_bytes"], aes[0].get("c_aes_bytes")), file=out)
    lo, b, text = budget(rows)
    print(text, file=out)
    return lo, b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", default=",".join(GROUPS), help="scenario groups: " + ", ".join(GROUPS))
    ap.add_argument("--json", default=os.path.join(ROOT, "reports", "heap32.json"))
    ap.add_argument("--keep", help="keep the recordings in this directory")
    args = ap.parse_args()
    rows, why = asyncio.run(measure([g for g in args.groups.split(",") if g], args.keep))
    print()
    lo, b = print_table(rows, why)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"rows": rows, "ratio_min": lo, "budget_unix": b, "unavailable": why}, f, indent=1)
    print("written: %s" % args.json)
    if why or any(r.get("replay_ok") is False for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
