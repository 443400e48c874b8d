"""Model of the ESP32 port's `time` (docs/library/time.rst, esp32 port):
- time.time() counts seconds from 2000-01-01 (the ESP32 port's epoch, not 1970), an int; the
  IDF keeps system time through deep sleep (RTC slow clock), so it continues across wakes, but
  a power-on starts it again at 2000-01-01 00:00:00 until something sets it (ntptime.settime()
  or RTC.datetime()). Here: the harness's virtual clock (real time + the offset in LWM2M_CLOCK)
  plus an offset kept in <state>/rtc_clock (the RTC domain: the harness deletes it at a power
  cut): at power-on the offset makes the clock read 0; setting the clock makes it unix - 946684800.
  Knob `clock_set: true` starts with a set clock (as if set before the run).
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
    import _sim
    p = _sim.getenv("LWM2M_CLOCK")
    if not p:
        return 0.0
    try:
        with open(_sim.host(p)) as f:
            return float(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0.0


_OFF = _offset()


def _rtc_clock():
    import _sim
    p = _sim.STATE + "/rtc_clock"
    b = _sim.read(p)
    if b is None:       # power-on: the RTC counts from 2000-01-01 00:00:00 (or was set before the run)
        v = -EPOCH_2000 if _sim.KNOBS.get("clock_set") else -int(_t.time() + _OFF)
        _sim.write_atomic(p, b"%d" % v)
        return v
    return int(b)


_RTC_OFF = _rtc_clock()


def set_unix(unix_now):
    """ntptime.settime() / RTC.datetime(): the clock reads `unix_now` (unix seconds) now."""
    global _RTC_OFF
    import _sim
    _RTC_OFF = int(unix_now - EPOCH_2000 - (_t.time() + _OFF))
    _sim.write_atomic(_sim.STATE + "/rtc_clock", b"%d" % _RTC_OFF)


def _now():
    return _t.time() + _OFF + _RTC_OFF


def time():
    return int(_now())


def time_ns():
    return int(_now() * 1000000) * 1000


def gmtime(secs=None):
    return _t.gmtime((time() if secs is None else int(secs)) + EPOCH_2000)


def virtual_unix():
    """The harness's clock (what an NTP server would say), unix seconds."""
    return _t.time() + _OFF


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
