"""CPython side of the ESP32 model: runs the real firmware/board/esp32.py under the micropython
unix port with tools/esp32sim/ (machine, esp32, network, time models) on sys.path, booted the way
a board boots: the ROMFS image mounted at /rom and the filesystem's main.py (tools/device/main.py,
what `make deploy` puts on the board) run as the boot script.

Scenario key `esp32sim` (tools/runner.py passes it here for boards/esp32-sim.json):
  ap        the access point: {"ssid", "key", "assoc_ms", "scan_ms", "down", "rssi"}
  ap_at     {wake index: {...}} overrides of `ap` for one wake (e.g. {"down": true})
  wifi      the credentials the device is given (default: the AP's own)
  nvs_cut   {wake index: N}: the power fails at the N-th NVS commit of that wake, before it lands
  wake_by   {wake index: "pin"}: a pin armed with esp32.wake_on_ext0 ends that sleep
  ntp       "down": the NTP server does not answer (the clock stays at 2000 after a power-on)
  clock_set true: the RTC clock was set before the run (no NTP needed at the first power-on)
Each wake's info gains wifi_ms / wifi_uJ (from the board's own "wifi up in ..." log line),
nvs_commits, and notes for the runner's table; a power cut gives result "power-cut".
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)
import runner  # noqa: E402

DEVICE_MAIN = os.path.join(TOOLS, "device", "main.py")
AP = {"ssid": "lwm2m-lab", "key": "sleepy-device", "assoc_ms": 1200, "scan_ms": 2500, "rssi": -61}
_WIFI = re.compile(r"wifi (up|failed) in (\d+) ms \((\d+) uJ\)")


SIM_MODULES = ("_sim", "time", "machine", "esp32", "network", "ntptime", "os", "socket")
SIM_DIR = os.path.join(runner.ROOT, "build", "esp32sim")
SIM_ROMFS = os.path.join(runner.ROOT, "build", "esp32sim.romfs")
SIM_ALLOW = 24 * 1024     # heap set aside for the models themselves (built-in C modules on a board)
# The models' names join MicroPython's interned-name pool (on a chip the port's names are in ROM),
# which brings the pool's next doubling into the wake: esp32-sim wakes get this much more than the
# budget. Heap figures for the budget come from the unix board (make bench, test_heap_budget.py).
SIM_NAME_SLACK = 8 * 1024


def build_sim():
    """The models and the boot file compiled to .mpy and packed in their own ROMFS image (their
    bytecode then costs no heap, as the port's C modules cost none). Returns the image size."""
    import subprocess
    srcs = [(os.path.join(HERE, m + ".py"), m + ".mpy") for m in SIM_MODULES]
    os.makedirs(SIM_DIR, exist_ok=True)
    newest = 0
    for src, name in srcs:
        dst = os.path.join(SIM_DIR, name)
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            tmp = "%s.%d.tmp" % (dst, os.getpid())
            subprocess.run([runner.MPY_CROSS, "-o", tmp, src], check=True)
            os.replace(tmp, dst)
        newest = max(newest, os.path.getmtime(dst))
    if not os.path.exists(SIM_ROMFS) or os.path.getmtime(SIM_ROMFS) < newest:
        tmp = "%s.%d.tmp" % (SIM_ROMFS, os.getpid())
        subprocess.run([os.path.join(runner.ROOT, ".venv", "bin", "mpremote"), "romfs", "-o", tmp, "build", SIM_DIR],
                       check=True, stdout=subprocess.DEVNULL)
        os.replace(tmp, SIM_ROMFS)
    return os.path.getsize(SIM_ROMFS)


def boot_argv(romfs_image, fs_dir, heap_budget=None):
    """Boot a model board: its ROMFS partition holds `romfs_image` (mounted at /rom), its
    filesystem is the directory `fs_dir` (mounted at /: /main.py, /config.json, /secrets.json as
    `make deploy` leaves them), the host's root is at /host (the models' state), the models at
    /sim (last on sys.path: they stand in for the port's built-in modules). Then /main.py runs as
    MicroPython runs it after a reset. Heap: the budget plus the ROMFS image (which stands for the
    memory-mapped flash partition, as in runner.device_argv) plus SIM_ALLOW for the models; what
    they keep after import is taken out of SIM_ALLOW and the rest is locked in a pad."""
    if heap_budget is None:
        heap_budget = runner.HEAP_BUDGET + SIM_NAME_SLACK
    size = os.path.getsize(romfs_image)
    ssize = build_sim()
    heap = heap_budget + (size + 15) // 16 * 16 + (ssize + 15) // 16 * 16 + SIM_ALLOW
    boot = ("import sys, vfs, gc\n"
            "def _img(p, n):\n b = bytearray(n)\n f = open(p, 'rb')\n f.readinto(b)\n f.close()\n return b\n"
            "_r = _img(%r, %d)\n_s = _img(%r, %d)\n"
            "vfs.umount('/')\nvfs.mount(vfs.VfsPosix(%r), '/')\nvfs.mount(vfs.VfsPosix('/'), '/host')\n"
            "vfs.mount(vfs.VfsRom(_r), '/rom')\nvfs.mount(vfs.VfsRom(_s), '/sim')\ndel _img, _r, _s\n"
            "import os as _o\n_o.chdir('/')\ndel _o\nsys.modules.pop('os', None)\n"
            "sys.path[:] = ['', '.frozen', '/rom', '/rom/lib', '/lib', '/sim']\n"
            "gc.collect()\n_a = gc.mem_alloc()\n"
            "import _sim, time, machine, esp32, network, os, socket\ngc.collect()\n"
            "_sim.PAD = bytearray(max(16, %d - (gc.mem_alloc() - _a)))\ndel _a\n"
            "exec(open('/main.py').read(), {'__name__': '__main__'})\n") % (
        romfs_image, size, SIM_ROMFS, ssize, os.path.abspath(fs_dir), SIM_ALLOW)
    return [runner.MP, "-X", "heapsize=%d" % heap, "-c", boot]


class SimDevice(runner.Device):
    def __init__(self, workdir, config, secrets=None, clock_file=None, local_port="fresh", heap="64K", sim=None):
        self.sim = dict(sim or {})
        ap = dict(AP, **(self.sim.get("ap") or {}))
        self.sim["ap"] = ap
        secrets = dict(secrets or {})
        # the device is given the AP's credentials unless the scenario says otherwise
        secrets["wifi"] = self.sim.get("wifi") or {"ssid": ap["ssid"], "key": ap["key"]}
        super().__init__(workdir, config, secrets, clock_file, local_port, heap)
        self.mode = config.get("security", {}).get("mode", "nosec")
        self.n = 0

    def argv(self, heap_budget=None):
        """What `make deploy` would put on the board: the image for this security mode
        (tools/size.py: no line-number tables, only the modules the mode reaches) and, on its
        filesystem, /main.py, /config.json, /secrets.json; booted as a board boots."""
        import shutil
        import size
        img, _ = size.build_device(self.mode)
        fs = os.path.join(os.path.dirname(self.dir), "fs")
        os.makedirs(fs, exist_ok=True)
        shutil.copyfile(DEVICE_MAIN, os.path.join(fs, "main.py"))
        shutil.copyfile(self.config_path, os.path.join(fs, "config.json"))
        if self.secrets_path:
            shutil.copyfile(self.secrets_path, os.path.join(fs, "secrets.json"))
        return boot_argv(img, fs, heap_budget)

    def power_cut(self):
        super().power_cut()
        for f in ("wake_cfg", "rtc_clock"):     # the RTC domain loses power too
            try:
                os.remove(os.path.join(self.dir, f))
            except FileNotFoundError:
                pass

    def nvs(self, namespace="lwm2m"):
        """What the model's flash holds (committed NVS writes), key -> bytes or int."""
        d = os.path.join(self.dir, "nvs")
        out = {}
        for fn in sorted(os.listdir(d)) if os.path.isdir(d) else ():
            if fn.startswith(namespace + ".") and not fn.endswith(".tmp"):
                with open(os.path.join(d, fn), "rb") as f:
                    v = f.read()
                out[fn[len(namespace) + 1:]] = v[1:] if v[:1] == b"b" else int(v[1:])
        return out

    async def wake(self, extra_env=None, heap_budget=None):
        i = self.n
        self.n += 1
        knobs = {"ap": dict(self.sim["ap"], **(self.sim.get("ap_at", {}).get(i) or {}))}
        if self.sim.get("nvs_cut", {}).get(i):
            knobs["nvs_cut"] = self.sim["nvs_cut"][i]
        if self.sim.get("wake_by", {}).get(i):
            knobs["wake_by"] = self.sim["wake_by"][i]
        for k in ("ntp", "clock_set"):
            if k in self.sim:
                knobs[k] = self.sim[k]
        for f in ("powercut", "nvs_commits", "wifi"):
            try:
                os.remove(os.path.join(self.dir, f))
            except FileNotFoundError:
                pass
        env = {"LWM2M_ESP32SIM": json.dumps(knobs)}
        env.update(extra_env or {})
        info = await super().wake(env, heap_budget)
        notes = info.setdefault("notes", [])
        for ln in info.get("log", ()):
            m = _WIFI.search(ln)
            if m:
                info["wifi"] = m.group(1)
                info["wifi_ms"] = int(m.group(2))
                info["wifi_uJ"] = int(m.group(3))
                notes.append("wifi %s %d ms" % (m.group(1), info["wifi_ms"]))
        p = os.path.join(self.dir, "nvs_commits")
        info["nvs_commits"] = len(open(p).read().split()) if os.path.exists(p) else 0
        if os.path.exists(os.path.join(self.dir, "powercut")):
            info["result"] = "power-cut"
            info["path"] = info.get("path", "none")
            notes.append("power cut at an NVS commit")
            self.power_cut()
        return info
