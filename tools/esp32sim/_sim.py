"""Shared state of the ESP32 model (MicroPython, unix port): where the device's state lives and
the knobs the harness sets for this wake. Not part of the firmware; tools/esp32sim/ is put on
sys.path only by the harness (SimDevice in harness.py).

Environment (set by the harness for each wake):
  LWM2M_STATE   directory of the device's persistent state (rtc.bin, nvs/, sleep, powercut)
  LWM2M_CLOCK   file holding the virtual-clock offset (tools/simclock.py), as for the unix board
  LWM2M_RESET   'deepsleep' if the previous wake ended in machine.deepsleep, else power-on
  LWM2M_ESP32SIM  JSON knobs: {"ap": {"ssid", "key", "assoc_ms", "down"}, "nvs_cut": N}
"""
import json
import os
import sys

STATE = os.getenv("LWM2M_STATE") or ".sim/esp32"
try:
    KNOBS = json.loads(os.getenv("LWM2M_ESP32SIM") or "{}")
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
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


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
