"""The ESP32 models (tools/esp32sim) and firmware/board/esp32.py on them, under micropython:
the API facts the board layer depends on (MicroPython ESP32 docs, /work/shared/specs)."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MP = os.path.join(ROOT, ".venv", "bin", "micropython")

SCRIPT = r'''
import sys
sys.path[0:0] = [%r, %r]
import time, machine, esp32, network, os
from board.esp32 import Esp32Board
assert not hasattr(os, "getenv") and os.urandom(4) and os.uname()[0] == "esp32"   # a board has no environment
import config
try:
    config.load()          # no LWM2M_CONFIG on a board: the default /config.json (absent here)
    raise AssertionError("loaded")
except Exception as e:
    assert type(e).__name__ == "ConfigError" and "/config.json" in str(e), repr(e)

# time: epoch 2000, ints; a power-on starts the clock at 2000-01-01 until NTP sets it; ticks from boot
assert 0 <= time.time() < 60, time.time()
import ntptime
ntptime.settime()
assert 800000000 < time.time() < 1600000000, time.time()
assert time.gmtime()[0] >= 2026
assert time.ticks_ms() < 5000
assert time.ticks_diff(3, (1 << 30) - 2) == 5
# RTC memory: 2048 bytes at most, ValueError beyond
r = machine.RTC()
r.memory(bytes(2048))
try:
    r.memory(bytes(2049)); raise AssertionError("no limit")
except ValueError:
    pass
assert machine.reset_cause() == machine.PWRON_RESET and machine.wake_reason() == 0
# NVS: pending until commit; limits; errors as OSError(-code, name)
n = esp32.NVS("t")
n.set_blob("k", b"abc")
buf = bytearray(8)
assert n.get_blob("k", buf) == 3
try:
    esp32.NVS("t").get_blob("k", buf); raise AssertionError("uncommitted write visible")
except OSError as e:
    assert e.args[0] == -0x1102, e.args
n.commit()
assert esp32.NVS("t").get_blob("k", buf) == 3 and bytes(buf[:3]) == b"abc"
for bad in (lambda: n.set_blob("x" * 16, b""), lambda: n.set_blob("big", bytes(esp32.BLOB_MAX + 1)),
            lambda: n.get_blob("k", bytearray(2)), lambda: n.get_i32("k")):
    try:
        bad(); raise AssertionError("accepted")
    except OSError as e:
        assert e.args[0] in (-0x1109, -0x110E, -0x110C, -0x1103), e.args
# Wi-Fi: connect needs active(True); CONNECTING then GOT_IP after assoc_ms; wrong key fails
w = network.WLAN(network.STA_IF)
try:
    w.connect("lwm2m-lab", "sleepy-device"); raise AssertionError("connected while inactive")
except OSError:
    pass
w.active(True)
assert w.status() == network.STAT_IDLE
w.connect("lwm2m-lab", "sleepy-device")
assert w.status() == network.STAT_CONNECTING and not w.isconnected()
time.sleep_ms(60)
assert w.isconnected() and w.status() == network.STAT_GOT_IP and w.status("rssi") < 0
w.connect("lwm2m-lab", "nope"); time.sleep_ms(60)
assert w.status() == network.STAT_WRONG_PASSWORD and not w.isconnected()
w.active(False)

# the board layer: NVS blobs bigger than its first 2 KiB buffer, missing keys, Wi-Fi, pin wake
b = Esp32Board({"wifi": {"ssid": "lwm2m-lab", "key": "sleepy-device"}, "wake_pin": 33, "wake_level": 1})
big = bytes(range(256)) * 20
b.flash_write("smp", big)
assert b.flash_read("smp") == big and b.flash_read("none") is None
b.flash_erase("smp")
assert b.flash_read("smp") is None
assert b.now() > 1700000000 and b.reset_cause() == "power-on"
assert b.net_up() and b.ip_address() != "0.0.0.0" and b.rssi() < 0
b.rtc_write(b"x" * 100)
assert b.rtc_read() == b"x" * 100
try:
    Esp32Board({"wake_pin": 5}).deepsleep(1000); raise AssertionError("pin 5 cannot wake")
except ValueError:
    pass
print("OK")
b.deepsleep(5000)
'''


def _run(script, env):
    return subprocess.run([MP, "-X", "heapsize=256K", "-c", script], capture_output=True, text=True,
                          timeout=60, env=env)


def test_models_and_board_layer():
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, LWM2M_STATE=d, LWM2M_ESP32SIM='{"ap": {"assoc_ms": 40, "scan_ms": 40}}')
        env.pop("LWM2M_CLOCK", None)
        p = _run(SCRIPT % (os.path.join(ROOT, "tools", "esp32sim"), os.path.join(ROOT, "firmware")), env)
        assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr
        # deepsleep is a reset: it recorded the sleep and the armed wake pin, then ended the process
        assert open(os.path.join(d, "sleep")).read().strip() == "5000"
        assert '"ext0": [33, 1]' in open(os.path.join(d, "wake_cfg")).read()
        # the next boot after it: a deep-sleep reset, woken by the pin when the harness presses it
        env.update(LWM2M_RESET="deepsleep", LWM2M_ESP32SIM='{"wake_by": "pin"}')
        q = _run("import sys\nsys.path.insert(0, %r)\nimport machine\nprint(machine.reset_cause(), machine.wake_reason(), len(machine.RTC().memory()))"
                 % os.path.join(ROOT, "tools", "esp32sim"), env)
        assert q.stdout.split() == ["4", "2", "100"], q.stdout + q.stderr
