#!/usr/bin/env python3
"""How big the firmware is on a device: .mpy bytes per module and in total (make size).

Two builds of firmware/:
- the harness build (build/mpy, tools/runner.py): every module, with line-number tables;
- the device build (build/device/<set>/, what `make deploy` puts in the ROMFS partition):
  compiled with `mpy-cross -X no-source-lines` (tracebacks name the function, not the line), and
  only the modules the board's security mode can reach: board/unix.py never, dtls/ and
  sec/dtls_channel.py only for psk, oscore/ and sec/oscore_channel.py only for oscore, crypto/
  for either (wake/cycle.py imports each channel lazily, so nothing else refers to them).
  `--set all` keeps every mode (the mip package, package.json).

    size.py                 the table (both builds, per module, totals per mode)
    size.py --build MODE    build the device image for MODE (nosec|psk|oscore|all); print its path
    size.py --names         interned names the firmware adds at import (heap a frozen build saves)
    size.py --package       write package.json (mip) from the device module list
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FW = os.path.join(ROOT, "firmware")
BIN = os.path.join(ROOT, ".venv", "bin")
DEVICE_FLAGS = ["-X", "no-source-lines"]
NEVER = ("board/unix.py", "board/unix_slots.py", "board/unix_boot.py")
ONLY = {"dtls/": ("psk",), "sec/dtls_channel.py": ("psk",), "oscore/": ("oscore",),
        "sec/oscore_channel.py": ("oscore",), "crypto/": ("psk", "oscore")}
# features a per-mode image leaves out (loaded only when used; docs/bootstrap.md, docs/fota.md):
# in the "all" image, package.json and manifest.py
OPTIONAL = ("lwm2m/bootstrap.py", "lwm2m/bsrun.py", "lwm2m/fota.py", "lwm2m/fotareq.py")
# the nRF9160 (Serial LTE Modem) code: in a mode's image only for a board with a `modem`
# section ("<mode>+modem"; docs/nrf9160.md)
MODEM = ("net/modem.py", "net/slm.py", "net/slm_link.py", "net/slm_switch.py", "board/modem_uart.py",
         "sec/modem_dtls.py")
# several mechanisms for one server (security.modes, docs/planner.md): such a device needs the
# DTLS and the OSCORE code, so only the "all" image holds it (tools/deploy.py picks that one)
MULTI = ("wake/mechanisms.py",)
SETS = ("nosec", "psk", "oscore", "all")
GOAL = 60 * 1024


def sources():
    out = []
    for dp, _dn, fns in os.walk(FW):
        for fn in fns:
            if fn.endswith(".py"):
                out.append(os.path.relpath(os.path.join(dp, fn), FW).replace(os.sep, "/"))
    return sorted(out)


def modes_of(rel):
    """Security modes whose device image holds `rel` (() = none)."""
    if rel in NEVER:
        return ()
    if rel in OPTIONAL:
        return ("optional",)
    if rel in MODEM:
        return ("modem",)
    if rel in MULTI:
        return ("multi",)
    for prefix, modes in ONLY.items():
        if rel.startswith(prefix):
            return modes
    return ("nosec", "psk", "oscore")


def device_files(which):
    which, _, extra = which.partition("+")
    return [r for r in sources() if modes_of(r) and (which == "all" or which in modes_of(r)
                                                     or (extra == "modem" and r in MODEM))]


def rom_name(rel):
    return "/rom/" + rel[:-3] + ".mpy"


def compile_device(rel):
    """build/device/mpy/<rel>.mpy, compiled again only when the source is newer."""
    dst = os.path.join(ROOT, "build", "device", "mpy", rel[:-3] + ".mpy")
    src = os.path.join(FW, rel)
    if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = "%s.%d.tmp" % (dst, os.getpid())
        subprocess.run([os.path.join(BIN, "mpy-cross")] + DEVICE_FLAGS + ["-s", rom_name(rel), "-o", tmp, src],
                       check=True)
        os.replace(tmp, dst)
    return dst


def build_device(which, features=()):
    """The device image for a mode (or 'all'): build/device/<which>.romfs, rebuilt only when a
    source is newer (or this file). `features`: optional ones to add ("bootstrap", "fota": what
    the board config enables). Returns (path, size)."""
    import shutil
    if which.partition("+")[0] not in SETS or which.partition("+")[2] not in ("", "modem"):
        raise ValueError("unknown set %r (one of %s, optionally +modem)" % (which, ", ".join(SETS)))
    img = os.path.join(ROOT, "build", "device", which + ".romfs")
    extra = [r for r in OPTIONAL if ("fota" if "fota" in r else "bootstrap") in features]
    img = os.path.join(ROOT, "build", "device", which + "".join("+" + f for f in sorted(features)) + ".romfs")
    files = device_files(which)
    files += [r for r in extra if r not in files]
    newest = max([os.path.getmtime(os.path.join(FW, r)) for r in files] + [os.path.getmtime(__file__)])
    if os.path.exists(img) and os.path.getmtime(img) >= newest:
        return img, os.path.getsize(img)
    tree = os.path.join(ROOT, "build", "device", "%s.%d.tree" % (which, os.getpid()))
    shutil.rmtree(tree, ignore_errors=True)
    for rel in files:
        dst = os.path.join(tree, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(compile_device(rel), dst)
    tmp = "%s.%d.tmp" % (img, os.getpid())
    subprocess.run([os.path.join(BIN, "mpremote"), "romfs", "-o", tmp, "build", tree], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(tree, ignore_errors=True)
    os.replace(tmp, img)
    return img, os.path.getsize(img)


def table(out=print):
    sys.path.insert(0, HERE)
    import runner
    runner.build_mpy()
    rows = []
    for rel in sources():
        h = os.path.getsize(os.path.join(runner.MPY_DIR, rel[:-3] + ".mpy"))
        d = os.path.getsize(compile_device(rel)) if modes_of(rel) else None
        rows.append((rel, h, d, modes_of(rel)))
    out("%-26s %9s %9s  %s" % ("module", "harness B", "device B", "on a device in mode"))
    for rel, h, d, m in sorted(rows, key=lambda r: -r[1]):
        out("%-26s %9d %9s  %s" % (rel[:-3], h, "-" if d is None else d,
                                   "all" if len(m) == 3 else ",".join(m) or "never (host harness only)"))
    tot_h = sum(r[1] for r in rows)
    out("%-26s %9d %9d  %d modules" % ("total", tot_h, sum(r[2] or 0 for r in rows), len(rows)))
    out("")
    out(".mpy bytes a device holds (device build: -X no-source-lines, no board/unix):")
    for s in SETS:
        n = sum(r[2] for r in rows if r[2] is not None and (s == "all" or s in r[3]))
        out("  %-7s %6d B = %5.1f KiB  %s" % (s if s != "all" else "all modes", n, n / 1024.0,
                                              "<= 60 KiB goal" if n <= GOAL else "over the 60 KiB goal by %d B" % (n - GOAL)))
    return rows


def names():
    """Import every device module from a ROMFS image on the unix port and count what the
    interned-name pool grew by: on a device those pools are heap; a frozen build keeps the names
    in flash (firmware qstr pool), so this is the heap freezing saves beyond ROMFS."""
    img, _ = build_device("all")
    mods = [r[:-3].replace("/", ".") for r in device_files("all") if not r.endswith("__init__.py")
            and r not in ("main.py", "board/esp32.py")]
    code = ("import sys, vfs, micropython, gc\nimg = open(%r, 'rb').read()\nvfs.mount(vfs.VfsRom(img), '/rom')\n"
            "sys.path.insert(0, '/rom')\nmicropython.qstr_info()\n" % img)
    code += "".join("import %s\n" % m for m in mods) + "micropython.qstr_info()\n"
    r = subprocess.run([os.path.join(BIN, "micropython"), "-X", "heapsize=1M", "-c", code],
                       capture_output=True, text=True, timeout=60)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("qstr pool")]
    if len(lines) != 2:
        raise SystemExit("could not measure: " + r.stdout + r.stderr)

    def f(ln):
        return dict(kv.split("=") for kv in ln.split(": ", 1)[1].split(", "))
    a, b = f(lines[0]), f(lines[1])
    n = int(b["n_qstr"]) - int(a["n_qstr"])
    data = int(b["n_str_data_bytes"]) - int(a["n_str_data_bytes"])
    total = int(b["n_total_bytes"]) - int(a["n_total_bytes"])
    print("importing all %d device modules interns %d names: %d B of name text, %d B of pools on the "
          "64-bit unix port (measured)" % (len(mods), n, data, total))
    # 32-bit ESP32: each pool entry costs a hash (1-2 B), a length (1 B) and a 4-byte pointer
    est = data + n * (1 + 1 + 4)
    print("on a 32-bit ESP32 about %d B (computed: text + %d x (hash 1 + length 1 + pointer 4)), plus the "
          "pool's growth by doubling; a frozen build keeps these names in flash" % (est, n))
    return n, data, total, est


def package_json():
    """package.json for `mpremote mip install`: every module a device runs (all security modes)
    and nothing else, installed as source under the target (mip fetches files as they are)."""
    import json
    urls = [[rel, "firmware/" + rel] for rel in device_files("all")]
    return json.dumps({"urls": urls, "deps": [], "version": "0.1.0"}, indent=1) + "\n"


def main():
    if "--package" in sys.argv:
        with open(os.path.join(ROOT, "package.json"), "w") as f:
            f.write(package_json())
        print("package.json: %d files" % len(device_files("all")))
        return
    if "--build" in sys.argv:
        img, size = build_device(sys.argv[sys.argv.index("--build") + 1])
        print("%s %d" % (img, size))
    elif "--names" in sys.argv:
        names()
    else:
        table()


if __name__ == "__main__":
    main()
