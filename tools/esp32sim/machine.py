"""Model of the ESP32 port's `machine` (docs/library/machine.rst, machine.RTC.rst,
docs/esp32/quickref.rst; ports/esp32/modmachine.c, machine_rtc.c), enough for a sleepy client:

- RTC().memory([data]): user RTC memory, 2048 bytes at most (MICROPY_HW_RTC_USER_MEM_MAX;
  ValueError("buffer too long") beyond). Survives deep sleep and soft reset, lost at power-on.
- deepsleep([ms]): a deep-sleep wake is a reset: the process ends here (the harness starts the
  next wake as a new boot). The requested time goes to <state>/sleep; Wi-Fi is not kept.
- reset_cause(): DEEPSLEEP_RESET (4) after a deep sleep, else PWRON_RESET (1).
- wake_reason(): TIMER_WAKE (4) after a timed sleep, EXT0_WAKE/PIN_WAKE (2) when the harness
  "presses" a pin that esp32.wake_on_ext0() armed before the sleep; 0 after power-on.
- Pin(id, mode, pull): only RTC-capable pins (0, 2, 4, 12-15, 25-27, 32-39) can wake from deep
  sleep (esp32.wake_on_ext0 raises ValueError otherwise); value() reads a level the harness sets.
"""
import json
import sys

import _sim

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
DEEPSLEEP = 4
SLEEP = 2
EXT0_WAKE = PIN_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

RTC_USER_MEM_MAX = 2048
RTC_WAKE_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)
_RTC = _sim.STATE + "/rtc.bin"
_WAKE = _sim.STATE + "/wake_cfg"
_armed = {}              # wake sources armed for the next deep sleep (esp32.wake_on_ext0)


def _after_deepsleep():
    return _sim.getenv("LWM2M_RESET") == "deepsleep"


class RTC:
    def __init__(self, id=0):
        pass

    def memory(self, data=None):
        if data is None:
            return _sim.read(_RTC) or b""
        data = bytes(data)
        if len(data) > RTC_USER_MEM_MAX:
            raise ValueError("buffer too long")
        _sim.write_atomic(_RTC, data)
        return None

    def datetime(self, dt=None):
        import time
        if dt is None:
            t = time.gmtime()
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        raise OSError("the model's clock is the harness's virtual clock")


def reset_cause():
    return DEEPSLEEP_RESET if _after_deepsleep() else PWRON_RESET


def wake_reason():
    if not _after_deepsleep():
        return 0
    cfg = _sim.read(_WAKE)
    cfg = json.loads(cfg) if cfg else {}
    if _sim.KNOBS.get("wake_by") == "pin" and cfg.get("ext0"):
        return EXT0_WAKE
    return TIMER_WAKE if cfg.get("timer") else 0


def deepsleep(time_ms=0):
    cfg = dict(_armed)
    cfg["timer"] = int(time_ms)
    _sim.write_atomic(_WAKE, json.dumps(cfg).encode())
    with open(_sim.STATE + "/sleep", "w") as f:
        f.write("%d\n" % int(time_ms if time_ms else 0))
    sys.exit(0)      # a reset: nothing after deepsleep() runs


def lightsleep(time_ms=0):
    import time
    time.sleep_ms(min(int(time_ms), 50))    # RAM kept, execution goes on (shortened here)


def reset():
    sys.exit(0)


def soft_reset():
    sys.exit(0)


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def freq(hz=None):
    return 160000000 if hz is None else None


def idle():
    pass


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, id, mode=-1, pull=-1, value=None, hold=False):
        if not isinstance(id, int) or not 0 <= id <= 39:
            raise ValueError("invalid pin")
        self.id = id
        self.mode = mode
        self._v = value

    def value(self, v=None):
        if v is None:
            lv = _sim.KNOBS.get("pins", {}).get(str(self.id))
            return int(lv) if lv is not None else (self._v or 0)
        self._v = 1 if v else 0
        return None

    def __call__(self, v=None):
        return self.value(v)

    def __repr__(self):
        return "Pin(%d)" % self.id
