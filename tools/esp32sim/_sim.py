"""Shared state of the ESP32 model (MicroPython, unix port): where the device's state lives and
the knobs the harness sets for this wake. Not part of the firmware; tools/esp32sim/ is put on
sys.path only by the harness (SimDevice in harness.py).

Environment (set by the harness for each wake):
  LWM2M_STATE   directory of the device's persistent state (rtc.bin, nvs/, sleep, powercut),
                an absolute host path
  LWM2M_CLOCK   file holding the virtual-clock offset (tools/simclock.py), as for the unix board
  LWM2M_RESET   'deepsleep' if the previous wake ended in machine.deepsleep, else power-on
  LWM2M_ESP32SIM  JSON knobs: {"ap": {"ssid", "key", "assoc_ms", "down"}, "nvs_cut": N}
"""
import json
import sys

# the unix port's own os (the firmware's `import os` finds the model, tools/esp32sim/os.py)
_p = sys.path[:]
sys.path.clear()
try:
    import os
finally:
    sys.path.extend(_p)
del _p

getenv = os.getenv
# The board's filesystem is mounted at "/" (the harness's VfsPosix of the device directory) and
# the host's root at /host: harness paths (state, clock) are reached through it.
try:
    import vfs
    HOST = "/host" if any(m[1] == "/host" for m in vfs.mount()) else ""
    del vfs
except (ImportError, TypeError):
    HOST = ""


def host(path):
    return HOST + path if path.startswith("/") else path


STATE = host(getenv("LWM2M_STATE") or "/tmp/esp32sim-state")
try:
    KNOBS = json.loads(getenv("LWM2M_ESP32SIM") or "{}")
except ValueError:
    KNOBS = {}


def mkdir(p):
    """mkdir -p"""
    q = "/" if p.startswith("/") else ""
    for part in p.split("/"):
        if not part:
            continue
        q = q + part if q in ("", "/") else q + "/" + part
        try:
            os.mkdir(q)
        except OSError:
            pass


def exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


mkdir(STATE)


def write_atomic(path, data):
    """One write (the unix port's os.rename fails on a mounted VfsPosix, so no tmp + rename;
    the harness ends a wake only between writes: power cuts are modelled, not kills)."""
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    if not exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def note(what, line):
    """Append a line to <state>/<what> (the harness reads them after the wake)."""
    with open(STATE + "/" + what, "a") as f:
        f.write(line + "\n")


def power_off(why):
    """The supply is gone: nothing after this point happens (no commit, no WAKE line). The
    harness sees the marker and drops RTC memory, as a real power loss does."""
    with open(STATE + "/powercut", "w") as f:
        f.write(why + "\n")
    print("SIM power cut: " + why)
    sys.exit(0)
