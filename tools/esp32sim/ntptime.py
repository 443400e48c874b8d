"""Model of `ntptime` (micropython-lib, frozen into the ESP32 port): settime() asks an NTP
server (`host`, one 48-byte UDP request and answer, `timeout` s) and sets the RTC. The answer is
the harness's virtual clock; knob `ntp: "down"` makes it time out (OSError ETIMEDOUT)."""
import time

import _sim

host = "pool.ntp.org"
timeout = 1
NTP_DELTA = 3155673600 - 946684800      # 1900 -> 2000 epoch, as the ESP32 port's ntptime uses


def time_ntp():
    if _sim.KNOBS.get("ntp") == "down":
        time.sleep_ms(int(timeout * 1000))
        raise OSError(110)
    return int(time.virtual_unix()) - 946684800


def settime():
    t = time_ntp()
    time.set_unix(t + 946684800)
    _sim.note("ntp", "set")
