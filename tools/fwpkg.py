#!/usr/bin/env python3
"""Firmware images and packages for Object 5 (docs/fota.md).

    fwpkg.py VERSION [-o build/fota/VERSION.pkg] [--bad]

An image is build/mpy (the firmware compiled as runner.py does it) with lwm2m/std.py's
FW_VERSION set to VERSION (what /3/0/3 then reports), packed as a ROMFS image; --bad replaces
wake/planner with a module that fails at import, so the image never completes a wake (the
rollback test). A package is the 48-byte header (blockserve.package) and the image.
`action()` is the runner's ("fota", VERSION, opts) scenario step: publish the package on the
harness server and write its URI to /5/0/1 (pull), or push it with Block1 (opts push=True).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
OUT = os.path.join(ROOT, "build", "fota")


def build_image(version, bad=False):
    import runner
    runner.build_mpy()
    tag = version + ("-bad" if bad else "")
    out = os.path.join(OUT, tag + ".romfs")
    if os.path.exists(out) and os.path.getmtime(out) >= max(
            os.path.getmtime(os.path.join(dp, f)) for dp, _d, fs in os.walk(runner.MPY_DIR) for f in fs):
        with open(out, "rb") as f:
            return f.read()
    work = os.path.join(OUT, "%s.%d" % (tag, os.getpid()))
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(runner.MPY_DIR, work)
    src = open(os.path.join(ROOT, "firmware", "lwm2m", "std.py")).read()
    src = re.sub(r'FW_VERSION = "[^"]*"', 'FW_VERSION = "%s"' % version, src)
    mods = {"lwm2m/std.py": src}
    if bad:
        mods["wake/planner.py"] = 'raise ImportError("this image is broken on purpose")\n'
    for rel, text in mods.items():
        p = os.path.join(work, rel[:-3] + ".py")
        with open(p, "w") as f:
            f.write(text)
        subprocess.run([runner.MPY_CROSS, "-s", runner.rom_name(rel), "-o", p[:-3] + ".mpy", p], check=True)
        os.remove(p)
    tmp = out + ".%d.tmp" % os.getpid()
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "mpremote"), "romfs", "-o", tmp, "build", work],
                   check=True, stdout=subprocess.DEVNULL)
    os.replace(tmp, out)
    shutil.rmtree(work, ignore_errors=True)
    with open(out, "rb") as f:
        return f.read()


def action(server, ep, version, opts, board, target):
    """Publish VERSION's package and start the update: returns the future of the Write of the
    Package URI (pull) or of the last block pushed. opts: bad (an image that never completes a
    wake), corrupt (a wrong SHA-256 in the header), push (Block1 instead of a URI),
    scheme (coap/coaps; default: the device's)."""
    import asyncio
    from harness import blockserve
    img = opts.get("image") or build_image(version, bool(opts.get("bad")))
    pkg = blockserve.package(img, version, sha=b"\0" * 32 if opts.get("corrupt") else None)
    if opts.get("push"):
        async def go():
            rs = await blockserve.push(server, ep, "/5/0/0", pkg, opts.get("szx", 5))
            r = rs[-1]
            r.op = "push %d blocks" % len(rs)
            return r
        return asyncio.ensure_future(go())
    name = "fw/%s.bin" % version
    server.files[name] = pkg
    scheme = opts.get("scheme") or ("coaps" if board["security"]["mode"] == "psk" else "coap")
    return server.write(ep, "/5/0/1", "%s://%s:%d/%s" % (scheme, target[0], target[1], name))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("version")
    ap.add_argument("-o", "--out")
    ap.add_argument("--bad", action="store_true")
    a = ap.parse_args()
    from harness import _paths  # noqa: F401
    from harness import blockserve
    pkg = blockserve.package(build_image(a.version, a.bad), a.version)
    out = a.out or os.path.join(OUT, a.version + ".pkg")
    with open(out, "wb") as f:
        f.write(pkg)
    print("%s: %d B package (%d B image, version %s)" % (out, len(pkg), len(pkg) - 48, a.version))


if __name__ == "__main__":
    main()
