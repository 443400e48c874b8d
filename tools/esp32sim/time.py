"""Model of the ESP32 port's `time` (docs/library/time.rst, esp32 port):
- time.time() counts seconds from 2000-01-01 (the ESP32 port's epoch, not 1970), an int; the
  IDF keeps system time through deep sleep (RTC slow clock), so it continues across wakes. Here
  it is the harness's virtual clock (real time + the offset in LWM2M_CLOCK) minus 946684800:
  the model assumes the clock was set once (NTP or RTC.datetime) and survives deep sleep.
- ticks_ms()/ticks_us() count from boot: after every deep-sleep wake they restart near 0
  (each wake is a new process here), and wrap at 2**30 (ticks_add/ticks_diff semantics).
"""
import sys

_p = sys.path[:]
sys.path.clear()          # only built-in modules: the unix port's own time
try:
    import time as _t
finally:
    sys.path.extend(_p)
del _p

EPOCH_2000 = 946684800
_PERIOD = 1 << 30
_MASK = _PERIOD - 1
_T0 = _t.ticks_us()


def _offset():
    import os
    p = os.getenv("LWM2M_CLOCK")
    if not p:
        return 0.0
    try:
        with open(p) as f:
            return float(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0.0


_OFF = _offset()


def time():
    return int(_t.time() + _OFF) - EPOCH_2000


def time_ns():
    return int((_t.time() + _OFF - EPOCH_2000) * 1000000) * 1000


def gmtime(secs=None):
    return _t.gmtime((time() if secs is None else int(secs)) + EPOCH_2000)


localtime = gmtime


def mktime(tt):
    return int(_t.mktime(tt)) - EPOCH_2000


def ticks_us():
    return _t.ticks_diff(_t.ticks_us(), _T0) & _MASK


def ticks_ms():
    return (_t.ticks_diff(_t.ticks_us(), _T0) // 1000) & _MASK


def ticks_cpu():
    return ticks_us()


def ticks_add(t, delta):
    return (t + delta) & _MASK


def ticks_diff(a, b):
    return ((a - b + _PERIOD // 2) & _MASK) - _PERIOD // 2


def sleep(s):
    _t.sleep(s)


def sleep_ms(ms):
    _t.sleep_ms(ms)


def sleep_us(us):
    _t.sleep_us(us)
