"""The unix-port board: the harness's stand-in for an ESP32 or an nRF9160 host MCU.

- RTC memory: a file, 2048 bytes at most (an oversize write raises ValueError as on the chip);
  the harness deletes it to simulate a power cut.
- Flash: one small file per key under <state>/flash/ (written atomically: tmp + rename).
- Clock: virtual unix time = real time + the offset the scenario runner publishes in the
  clock file (LWM2M_CLOCK); awake time passes in real time, sleep is skipped by the runner.
- deepsleep(ms): writes the request to <state>/sleep and exits the process: a reset.
- Reset cause: 'deepsleep' when the runner says so (LWM2M_RESET), else 'power-on'.

Environment: LWM2M_STATE (state dir), LWM2M_CLOCK (clock file), LWM2M_RESET, LWM2M_TEMP.
"""
import os
import sys
import time

RTC_MAX = 2048

try:
    from time import ticks_ms, ticks_diff
except ImportError:  # CPython (host tests): the same semantics without wrap-around
    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


class UnixBoard:
    name = "unix"

    def __init__(self, cfg=None):
        self.cfg = cfg or {}
        self.dir = os.getenv("LWM2M_STATE") or ".sim/device"
        self._mkdir(self.dir)
        self._mkdir(self.dir + "/flash")
        self.clock_file = os.getenv("LWM2M_CLOCK")
        self._offset = 0.0
        if self.clock_file and _exists(self.clock_file):
            with open(self.clock_file) as f:
                self._offset = float(f.read().strip() or "0")
        self._t0 = ticks_ms()

    @staticmethod
    def _mkdir(p):
        try:
            os.mkdir(p)
        except OSError:
            pass

    # -- time ---------------------------------------------------------------------------------
    def now(self):
        """Virtual unix time in seconds (float)."""
        return time.time() + self._offset

    def ticks_ms(self):
        return ticks_ms()

    def ticks_diff(self, a, b):
        return ticks_diff(a, b)

    def awake_ms(self):
        return ticks_diff(ticks_ms(), self._t0)

    # -- RTC memory ---------------------------------------------------------------------------
    def rtc_read(self):
        p = self.dir + "/rtc.bin"
        if not _exists(p):
            return b""
        with open(p, "rb") as f:
            return f.read()

    def rtc_write(self, data):
        if len(data) > RTC_MAX:
            raise ValueError("RTC memory: %d bytes > %d" % (len(data), RTC_MAX))
        p = self.dir + "/rtc.bin"
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)

    # -- flash --------------------------------------------------------------------------------
    def flash_read(self, key):
        p = self.dir + "/flash/" + key
        if not _exists(p):
            return None
        with open(p, "rb") as f:
            return f.read()

    def flash_write(self, key, data):
        p = self.dir + "/flash/" + key
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
        self._count("flash_writes")

    def flash_erase(self, key):
        try:
            os.remove(self.dir + "/flash/" + key)
        except OSError:
            pass

    def _count(self, what):
        # Harness metering of flash wear (one line per write).
        try:
            with open(self.dir + "/" + what, "a") as f:
                f.write("1\n")
        except OSError:
            pass

    # -- power --------------------------------------------------------------------------------
    def reset_cause(self):
        return "deepsleep" if os.getenv("LWM2M_RESET") == "deepsleep" else "power-on"

    def deepsleep(self, ms):
        """Persisting is the caller's job (done before). Ends the process like a reset."""
        with open(self.dir + "/sleep", "w") as f:
            f.write("%d\n" % int(ms))
        sys.exit(0)

    # -- sensors, randomness ------------------------------------------------------------------
    def temperature(self):
        t = os.getenv("LWM2M_TEMP")
        if t:
            return float(t)
        # A plausible slow daily swing from the virtual clock.
        h = (self.now() % 86400) / 3600.0
        return 20.0 + 3.0 * (1.0 - abs(h - 14.0) / 14.0)

    def battery(self):
        return 87

    def urandom(self, n):
        return os.urandom(n)

    def mem_free(self):
        import gc
        return gc.mem_free()

    # -- radio / network ----------------------------------------------------------------------
    def net_up(self):
        """Bring the link up. Wi-Fi association on ESP32; nothing to do here."""
        return True

    # -- Connectivity Monitoring (LwM2M object 4): plausible values for the harness -----------------
    def bearer(self):
        return 21                 # WLAN (LwM2M object 4 resource 0 codes)

    def rssi(self):
        return -67 - int(self.now() // 3600) % 7   # dBm, drifting by the hour

    def ip_address(self):
        return "127.0.0.1"

    def local_port(self):
        """Fixed local port (a modem socket that survives sleep) or 0 for a fresh one."""
        p = self.cfg.get("local_port", 0)
        return int(os.getenv("LWM2M_LOCAL_PORT") or p or 0)
