#!/usr/bin/env python3
"""Onto a real board: flash MicroPython, deploy the client, watch its log, smoke-test it.

    deploy.py flash   --port /dev/ttyUSB0 --firmware ESP32_GENERIC-ROMFS-v1.xx.bin [--dry-run]
    deploy.py deploy  --port /dev/ttyUSB0 --board esp32 --secrets secrets/esp32.json [--dry-run]
    deploy.py monitor --port /dev/ttyUSB0            (or --log FILE: render a captured log)
    deploy.py hw-test --port /dev/ttyUSB0 --board esp32 --secrets secrets/esp32.json \\
                      --server coap://HOST:5683 [--wakes 3] [--sleep 20]
    deploy.py console --port 5683 [--host 0.0.0.0]   (the harness server's console on that port)

`deploy` validates the board config and the secrets on the host with the firmware's own loader
(firmware/config.py: the same checks the device makes at every wake) plus what the board type
needs (Wi-Fi credentials for an ESP32), builds the .mpy files and the ROMFS image, then runs one
mpremote command: the image into the ROMFS partition, tools/device/main.py as /main.py (boot runs
it; it starts the client from /rom), the config as /config.json, the secrets as /secrets.json,
and a reset. The image holds what the configured security mode needs (tools/size.py): changing
security.mode means deploying again. --dry-run prints the exact esptool/mpremote command lines and runs nothing.

Board types (BOARD_TYPES) say how a board family is flashed and what its secrets need; the
board config's "board" field picks one. A second family (an nRF9160 host board) is one more entry.
Exit status: 0 done, 1 the operation or a check failed, 2 something is missing (tool, port, file,
option): the message says what.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
DEVICE_MAIN = os.path.join(HERE, "device", "main.py")

# How each board family is flashed and deployed. `romfs_bytes`: the ROMFS partition of the
# MicroPython image the README names (ESP32_GENERIC, ROMFS variant: partitions-4MiB-romfs.csv,
# a 128 KiB `romfs` data partition, subtype 0x8f).
BOARD_TYPES = {
    "esp32": {
        "chip": "esp32", "flash_offset": "0x1000", "baud": 460800, "romfs_bytes": 128 * 1024,
        "wifi": True, "micropython": "ESP32_GENERIC, ROMFS variant, v1.25.0 or later",
    },
    # an ESP32 host driving an nRF9160 (Serial LTE Modem) on a UART: the modem is the network
    "esp32-nrf9160": {
        "chip": "esp32", "flash_offset": "0x1000", "baud": 460800, "romfs_bytes": 128 * 1024,
        "wifi": False, "micropython": "ESP32_GENERIC, ROMFS variant, v1.25.0 or later",
    },
}


class Missing(Exception):
    """Something the user must supply or install (exit status 2)."""


class Failed(Exception):
    """A check or a tool failed (exit status 1)."""


def tool(name, env):
    p = os.getenv(env) or os.path.join(VENV_BIN, name)
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise Missing("%s not found at %s: run `make setup` (it installs the pinned %s into .venv)" % (name, p, name))
    return p


def need_port(port, dry_run):
    if not port:
        raise Missing("no serial port: give PORT=/dev/ttyUSB0 (Linux; /dev/ttyACM0 for native USB, "
                      "/dev/cu.usbserial-* on macOS); `.venv/bin/mpremote devs` lists them")
    if not dry_run and not os.path.exists(port):
        raise Missing("serial port %s does not exist: is the board plugged in? (`.venv/bin/mpremote devs`)" % port)
    return port


def need_file(path, what, hint=""):
    if not path:
        raise Missing("no %s given%s" % (what, hint))
    if not os.path.isfile(path):
        raise Missing("%s %s not found%s" % (what, path, hint))
    return path


def board_path(board):
    if not board:
        raise Missing("no board config: give BOARD=esp32 (boards/esp32.json) or BOARD=path/to/board.json")
    p = board if board.endswith(".json") else os.path.join(ROOT, "boards", board + ".json")
    return need_file(p, "board config", " (boards/*.json: %s)" % ", ".join(
        sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "boards")) if f.endswith(".json"))))


def show(argv):
    return " ".join(shlex.quote(a) for a in argv)


def run(cmds, dry_run):
    for argv in cmds:
        print("$ " + show(argv), flush=True)
        if dry_run:
            continue
        r = subprocess.run(argv)
        if r.returncode:
            raise Failed("%s exited with status %d" % (os.path.basename(argv[0]), r.returncode))


# -- validation with the firmware's own loader ------------------------------------------------
def firmware_config():
    """firmware/config.py under CPython (the shims stand in for MicroPython-only modules)."""
    for p in (os.path.join(HERE, "cpython_shims"), os.path.join(ROOT, "firmware")):
        if p not in sys.path:
            sys.path.insert(0, p)
    import config
    from errors import ConfigError
    return config, ConfigError


def validate(bpath, spath):
    """(cfg, secrets, board type) or Failed with the firmware's message."""
    config, ConfigError = firmware_config()
    try:
        cfg, secrets = config.load(bpath, spath)
    except ConfigError as e:
        raise Failed("invalid configuration: %s" % e)
    with open(bpath) as f:
        kind = json.load(f).get("board")
    btype = BOARD_TYPES.get(kind)
    if btype is None:
        raise Failed("%s: \"board\": %r is not a board type this tool deploys (%s); boards/unix.json and "
                     "boards/esp32-sim.json are for the host harness" % (bpath, kind, ", ".join(BOARD_TYPES)))
    if cfg["_host"] in ("127.0.0.1", "localhost", "::1"):
        raise Failed("server.uri %s: a board cannot reach the host's loopback; give the server's LAN or "
                     "public address" % cfg["server"]["uri"])
    if btype.get("wifi"):
        w = secrets.get("wifi") if isinstance(secrets, dict) else None
        if not isinstance(w, dict) or not isinstance(w.get("ssid"), str) or not 0 < len(w["ssid"]) <= 32:
            raise Failed("secrets file %s: an ESP32 needs \"wifi\": {\"ssid\": \"...\", \"key\": \"...\"} "
                         "(ssid 1-32 characters; see secrets/example.json)" % spath)
        k = w.get("key", "")
        if not isinstance(k, str) or not (k == "" or 8 <= len(k) <= 64):
            raise Failed("secrets file %s: wifi.key must be 8-63 characters (WPA2), 64 hex digits, or \"\" "
                         "for an open network" % spath)
    return cfg, secrets, kind, btype


def image_set(cfg):
    """Which device image a board config needs (tools/size.py SETS): its security mode's, or
    "all" when it provisions several mechanisms (security.modes: the DTLS and the OSCORE code
    and wake/mechanisms.py); "+modem" for a board with an nRF9160 (a `modem` section: the AT
    driver, docs/nrf9160.md)."""
    sec = cfg["security"]
    which = "all" if len(sec.get("modes") or ()) > 1 else sec["mode"]
    return which + ("+modem" if cfg.get("modem") else "")


def build(mode, features=()):
    """The device image for the board's security mode (tools/size.py: -X no-source-lines, only the
    modules that mode can reach, and the optional features the config enables). Returns (path, size)."""
    sys.path.insert(0, HERE)
    import size
    return size.build_device(mode, features)


# -- commands -----------------------------------------------------------------------------------
def cmd_flash(a):
    port = need_port(a.port, a.dry_run)
    fw = need_file(a.firmware, "MicroPython image",
                   " (FIRMWARE=path/to/ESP32_GENERIC-ROMFS-<date>-v1.xx.bin; see the README, Deploy to an ESP32)")
    bt = BOARD_TYPES[a.type]
    esptool = tool("esptool", "LWM2M_ESPTOOL")
    cmds = [[esptool, "--chip", bt["chip"], "--port", port, "erase-flash"],
            [esptool, "--chip", bt["chip"], "--port", port, "--baud", str(bt["baud"]), "write-flash",
             bt["flash_offset"], fw]]
    run(cmds, a.dry_run)
    if not a.dry_run:
        print("flashed; next: make deploy PORT=%s BOARD=... SECRETS=..." % port)


def deploy_cmds(port, bpath, spath, mpremote, image):
    return [[mpremote, "connect", port, "romfs", "deploy", image,
             "+", "cp", DEVICE_MAIN, ":main.py",
             "+", "cp", bpath, ":config.json",
             "+", "cp", spath, ":secrets.json",
             "+", "reset"]]


def cmd_deploy(a, bpath=None):
    port = need_port(a.port, a.dry_run)
    bpath = bpath or board_path(a.board)
    spath = need_file(a.secrets, "secrets file",
                      " (SECRETS=secrets/NAME.json: Wi-Fi credentials and keys; copy secrets/example.json)")
    mpremote = tool("mpremote", "LWM2M_MPREMOTE")
    cfg, secrets, kind, bt = validate(bpath, spath)
    print("config ok: %s, board %s, security %s, server %s%s" % (
        os.path.relpath(bpath, ROOT) if bpath.startswith(ROOT) else bpath, kind, cfg["security"]["mode"],
        cfg["server"]["uri"], ", Wi-Fi %r" % secrets["wifi"]["ssid"] if bt.get("wifi") else ""))
    image, size = build(image_set(cfg), [f for f in ("bootstrap", "fota") if cfg.get(f) is not None])
    if size > bt["romfs_bytes"]:
        raise Failed("ROMFS image %d bytes > the %d-byte romfs partition" % (size, bt["romfs_bytes"]))
    print("ROMFS image %s: %d bytes for security mode %s (partition %d)" % (
        os.path.relpath(image, ROOT), size, cfg["security"]["mode"], bt["romfs_bytes"]))
    run(deploy_cmds(port, bpath, spath, mpremote, image), a.dry_run)
    if not a.dry_run:
        print("deployed; the board resets and runs a wake; watch it: make monitor PORT=%s" % port)


# -- the device's log -----------------------------------------------------------------------------
HEADER = "%-4s %-8s %-26s %6s %6s %5s %-14s %s" % ("wake", "time", "path", "up B", "down B", "dg", "result", "notes")


def wake_row(n, w, wifi=None):
    """One WAKE line as a row of the runner's table (tools/runner.py)."""
    notes = []
    if wifi:
        notes.append(wifi)
    if w.get("cause") and w["cause"] != "deepsleep":
        notes.append(w["cause"])
    if w.get("tried"):
        notes.append("tried " + " > ".join("%s:%s" % tuple(t) for t in w["tried"]))
    for k in ("served", "notified"):
        if w.get(k):
            notes.append("%s %d" % (k, w[k]))
    if w.get("heap_peak") is not None:
        notes.append("heap %d" % w["heap_peak"])
    if w.get("sleep_s") is not None:
        notes.append("sleep %ds" % w["sleep_s"])
    if w.get("error"):
        notes.append(str(w["error"])[:60])
    t = time.strftime("%H:%M:%S", time.gmtime(w["t"])) if isinstance(w.get("t"), (int, float)) else "?"
    return "%-4d %-8s %-26s %6d %6d %5d %-14s %s" % (
        n, t, w.get("path", "?"), w.get("up", 0), w.get("down", 0), w.get("dg_up", 0) + w.get("dg_down", 0),
        w.get("result", "?"), "; ".join(notes))


class Renderer:
    """Device log lines in, table rows (WAKE lines) and indented log lines out."""

    def __init__(self, out=print, raw=True):
        self.out = out
        self.raw = raw
        self.n = 0
        self.wifi = None
        self.wakes = []
        out(HEADER)

    def line(self, ln):
        ln = ln.rstrip("\r\n")
        if ln.startswith("WAKE "):
            try:
                w = json.loads(ln[5:])
            except ValueError:
                self.out("      | " + ln)
                return None
            self.wakes.append(w)
            self.out(wake_row(self.n, w, self.wifi))
            self.n += 1
            self.wifi = None
            return w
        if " wifi " in " " + ln:
            i = ln.find("wifi ")
            self.wifi = ln[i:].split(" (")[0] if "wifi up" in ln or "wifi failed" in ln else self.wifi
        if self.raw and ln:
            self.out("      | " + ln)
        return None


def serial_lines(port, stop):
    """Lines from the board's UART (115200 8N1) without resetting it (DTR/RTS left low);
    reopens the port when it goes away (native-USB boards drop it in deep sleep)."""
    import serial
    while not stop():
        try:
            s = serial.Serial()
            s.port, s.baudrate, s.timeout = port, 115200, 0.5
            s.dtr = False
            s.rts = False
            s.open()
        except (serial.SerialException, OSError):
            time.sleep(1.0)
            continue
        buf = b""
        try:
            while not stop():
                buf += s.read(256)
                while b"\n" in buf:
                    ln, buf = buf.split(b"\n", 1)
                    yield ln.decode("utf-8", "replace")
        except (serial.SerialException, OSError):
            time.sleep(1.0)
        finally:
            s.close()


def cmd_monitor(a):
    if a.log:
        r = Renderer(raw=not a.quiet)
        with open(need_file(a.log, "log file")) as f:
            for ln in f:
                r.line(ln)
        return
    port = need_port(a.port, False)
    try:
        import serial  # noqa: F401  (pyserial comes with mpremote)
    except ImportError:
        raise Missing("pyserial not installed: run `make setup`")
    print("monitor %s (115200 baud; Ctrl-C ends)" % port)
    r = Renderer(raw=not a.quiet)
    try:
        for ln in serial_lines(port, lambda: False):
            r.line(ln)
    except KeyboardInterrupt:
        pass


def cmd_console(a):
    if not a.port:
        raise Missing("no UDP port: give PORT=5683 (the port the harness server listens on)")
    argv = [sys.executable, os.path.join(HERE, "harness", "console.py"), "--port", str(a.port)]
    if a.host:
        argv += ["--host", a.host]
    argv += a.rest
    print("$ " + show(argv), flush=True)
    os.execv(argv[0], argv)


# -- smoke test on hardware --------------------------------------------------------------------------
def check_wakes(wakes):
    """What a few wakes on a real board must show. Returns a list of problems (empty: pass)."""
    bad = []
    if not wakes:
        return ["no WAKE line"]
    eps = {w.get("ep") for w in wakes if w.get("ep")}
    for i, w in enumerate(wakes):
        if w.get("result") != "ok":
            bad.append("wake %d: %s %s" % (i, w.get("result"), w.get("error", "")))
            continue
        if not (w.get("path", "").endswith("+register") or w.get("path", "").endswith("+update")):
            bad.append("wake %d: path %r" % (i, w.get("path")))
        if not w.get("up") or not w.get("down"):
            bad.append("wake %d: nothing went both ways (up %s, down %s)" % (i, w.get("up"), w.get("down")))
    if len(eps) > 1:
        bad.append("the endpoint changed between wakes: %s" % sorted(eps))
    later = wakes[1:]
    if later and any(w.get("cause") != "deepsleep" for w in later):
        bad.append("a wake after the first was not a deep-sleep wake: %s" % [w.get("cause") for w in later])
    if later and not any(w.get("path", "").endswith("+update") for w in later):
        bad.append("no Update after the first wake: the registration did not survive deep sleep")
    return bad


def cmd_hw_test(a):
    if not a.port:
        raise Missing("hw-test skipped: no PORT given. Run it with a board plugged in: "
                      "make hw-test PORT=/dev/ttyUSB0 BOARD=esp32 SECRETS=secrets/esp32.json SERVER=coap://HOST:5683")
    if not a.server:
        raise Missing("no SERVER given: the LwM2M server the board should reach (e.g. SERVER=coap://192.168.1.10:5683; "
                      "`make console PORT=5683 HOST=0.0.0.0` runs the harness server on this machine)")
    bpath = board_path(a.board)
    with open(bpath) as f:
        cfg = json.load(f)
    cfg.setdefault("server", {})["uri"] = a.server
    cfg.setdefault("schedule", {})["sleep_s"] = a.sleep
    sec = cfg.setdefault("security", {})
    if a.server.startswith("coaps://"):
        sec["mode"] = "psk"
    elif sec.get("mode") == "psk":
        sec["mode"] = "nosec"
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    tpath = os.path.join(ROOT, "build", "hw-test-config.json")
    with open(tpath, "w") as f:
        json.dump(cfg, f, indent=1)
    cmd_deploy(a, tpath)
    if a.dry_run:
        print("(dry run: would now read %d WAKE lines from %s)" % (a.wakes, a.port))
        return
    deadline = time.monotonic() + a.wakes * (a.sleep + 90)
    print("reading %d wakes from %s (at most %d s)" % (a.wakes, a.port, deadline - time.monotonic()))
    r = Renderer()
    for ln in serial_lines(a.port, lambda: time.monotonic() > deadline or len(r.wakes) >= a.wakes):
        r.line(ln)
    bad = check_wakes(r.wakes[:a.wakes]) if len(r.wakes) >= a.wakes else \
        ["only %d of %d WAKE lines before the deadline" % (len(r.wakes), a.wakes)] + check_wakes(r.wakes)
    if bad:
        raise Failed("hw-test FAILED:\n  " + "\n  ".join(bad))
    print("hw-test passed: %d wakes ok against %s (%s)" % (len(r.wakes), a.server, ", ".join(
        sorted({w["path"] for w in r.wakes}))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("flash", help="erase the flash and write a MicroPython image (esptool)")
    p.add_argument("--port")
    p.add_argument("--firmware")
    p.add_argument("--type", default="esp32", choices=sorted(BOARD_TYPES))
    p.add_argument("--dry-run", action="store_true")
    for name in ("deploy", "hw-test"):
        p = sub.add_parser(name)
        p.add_argument("--port")
        p.add_argument("--board")
        p.add_argument("--secrets")
        p.add_argument("--dry-run", action="store_true")
        if name == "hw-test":
            p.add_argument("--server")
            p.add_argument("--wakes", type=int, default=3)
            p.add_argument("--sleep", type=int, default=20)
    p = sub.add_parser("monitor")
    p.add_argument("--port")
    p.add_argument("--log", help="render a captured log file instead of a serial port")
    p.add_argument("--quiet", action="store_true", help="only the WAKE rows")
    p = sub.add_parser("console")
    p.add_argument("--port")
    p.add_argument("--host", help="address to listen on (0.0.0.0: reachable from a board on the LAN)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    f = {"flash": cmd_flash, "deploy": cmd_deploy, "monitor": cmd_monitor, "console": cmd_console,
         "hw-test": cmd_hw_test}[a.cmd]
    try:
        f(a)
    except Missing as e:
        print("%s: %s" % (a.cmd, e), file=sys.stderr)
        return 2
    except Failed as e:
        print("%s: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
