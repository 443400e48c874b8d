"""The ESP32 board (Wi-Fi): RTC memory, NVS flash store, deep sleep, Wi-Fi link.

Facts used (../shared/specs/esp32-micropython.md): machine.RTC().memory() holds 2048 bytes and
survives deep sleep; NVS blobs need commit() and are power-fail safe; deepsleep is a reset and
reset_cause() == machine.DEEPSLEEP_RESET after it; time.time() counts from 2000-01-01 and keeps
running through deep sleep; ticks restart at every wake. Runs in the harness against a model of
those APIs (tools/esp32sim, board esp32-sim); not yet run on hardware.

Board options (`board_opts` in the board config): `wifi_timeout_ms` (8000), `wifi_mW` (radio
power while associating, for the logged cost; 400), `wake_pin`/`wake_level` (an RTC GPIO that
also wakes the board from deep sleep, esp32.wake_on_ext0), `ntp_host` (pool.ntp.org: sets the
clock after a power-on). Wi-Fi credentials come from the secrets file:
"wifi": {"ssid": ..., "key": ...}.
"""
import time

import machine

RTC_MAX = 2048
_EPOCH_2000 = 946684800
_NVS_NOT_FOUND = -0x1102
_NVS_INVALID_LENGTH = -0x110C
_NVS_BLOB_MAX = 19984     # ESP-IDF: 97.6 % of the 0x6000-byte nvs partition - 4000
_CLOCK_VALID = 757382400  # 2024-01-01 in the 2000 epoch: an earlier clock was never set


class Esp32Board:
    name = "esp32"

    def __init__(self, cfg=None):
        self.cfg = cfg or {}
        self._rtc = machine.RTC()
        self._nvs = None
        self._wlan = None

    def now(self):
        return time.time() + _EPOCH_2000

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def rtc_read(self):
        return bytes(self._rtc.memory())

    def rtc_write(self, data):
        if len(data) > RTC_MAX:
            raise ValueError("RTC memory: %d bytes > %d" % (len(data), RTC_MAX))
        self._rtc.memory(data)

    def _store(self):
        if self._nvs is None:
            import esp32
            self._nvs = esp32.NVS("lwm2m")
        return self._nvs

    def flash_read(self, key):
        """The blob or None if there is none. MicroPython's get_blob cannot tell a blob's size
        and fails on a short buffer (ESP_ERR_NVS_INVALID_LENGTH): start at 2 KiB, grow."""
        nvs = self._store()
        size = 2048
        while True:
            buf = bytearray(size)
            try:
                n = nvs.get_blob(key, buf)
                return bytes(buf[:n])
            except OSError as e:
                code = e.args[0] if e.args else 0
                if code == _NVS_INVALID_LENGTH and size < _NVS_BLOB_MAX:
                    size = min(size * 4, _NVS_BLOB_MAX)
                    continue
                if code == _NVS_NOT_FOUND:
                    return None
                raise

    def flash_write(self, key, data):
        nvs = self._store()
        nvs.set_blob(key, data)
        nvs.commit()

    def flash_erase(self, key):
        nvs = self._store()
        try:
            nvs.erase_key(key)
            nvs.commit()
        except OSError:
            pass

    def reset_cause(self):
        return "deepsleep" if machine.reset_cause() == machine.DEEPSLEEP_RESET else "power-on"

    def deepsleep(self, ms):
        if self._wlan:
            self._wlan.active(False)
        pin = self.cfg.get("wake_pin")
        if pin is not None:       # a button or sensor line may wake the board before the timer
            import esp32
            esp32.wake_on_ext0(machine.Pin(int(pin), machine.Pin.IN), int(self.cfg.get("wake_level", 0)))
        machine.deepsleep(int(ms))

    def wake_reason(self):
        """'timer', 'pin' or None (power-on, reset)."""
        r = machine.wake_reason()
        return "timer" if r == machine.TIMER_WAKE else "pin" if r == machine.EXT0_WAKE else None

    def temperature(self):
        try:
            import esp32
            return (esp32.raw_temperature() - 32) / 1.8   # die temperature, as a stand-in
        except (ImportError, AttributeError):
            return 20.0

    def battery(self):
        return 100

    def urandom(self, n):
        import os
        return os.urandom(n)

    def mem_free(self):
        import gc
        return gc.mem_free()

    def net_up(self, timeout_ms=None):
        """Associate with the configured Wi-Fi, bounded in time (the driver itself retries
        forever): give up at once on a definite failure (no such AP, wrong key), else after
        `wifi_timeout_ms`. Logs the outcome, the time and the energy it took."""
        import network
        from log import log
        w = network.WLAN(network.STA_IF)
        self._wlan = w
        wifi = self.cfg.get("wifi") or {}
        if not wifi.get("ssid"):
            log("wifi: no credentials (secrets file: \"wifi\": {\"ssid\": ..., \"key\": ...})", "E")
            return False
        if timeout_ms is None:
            timeout_ms = int(self.cfg.get("wifi_timeout_ms", 8000))
        t0 = time.ticks_ms()
        w.active(True)
        if w.isconnected():
            return True
        st = network.STAT_CONNECTING
        try:
            w.connect(wifi["ssid"], wifi.get("key", ""))
            while not w.isconnected():
                st = w.status()
                if st in (network.STAT_NO_AP_FOUND, network.STAT_WRONG_PASSWORD) or \
                        time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
                    break
                time.sleep_ms(50)
        except OSError as e:
            log("wifi: %s" % e, "E")
        ms = time.ticks_diff(time.ticks_ms(), t0)
        uj = ms * int(self.cfg.get("wifi_mW", 400))
        if w.isconnected():
            log("wifi up in %d ms (%d uJ) rssi %d" % (ms, uj, self.rssi()))
            if time.time() < _CLOCK_VALID:
                self._set_clock(log)
            return True
        w.active(False)
        log("wifi failed in %d ms (%d uJ): status %d %s" % (ms, uj, st, {
            network.STAT_NO_AP_FOUND: "no AP", network.STAT_WRONG_PASSWORD: "wrong key"}.get(st, "timeout")), "E")
        return False

    def _set_clock(self, log):
        """After a power-on the RTC counts from 2000-01-01: set it once by NTP (`ntp_host` in
        board_opts; deep sleep keeps it afterwards). Timestamps (SenML, registration) need it."""
        try:
            import ntptime
            ntptime.host = self.cfg.get("ntp_host", "pool.ntp.org")
            ntptime.timeout = 1
            ntptime.settime()
            log("clock set by NTP (%s)" % ntptime.host)
        except Exception as e:      # no NTP: run on the 2000-based clock, try again next wake
            log("clock not set (NTP %r); times are since power-on" % (e,), "W")

    def local_port(self):
        return int(self.cfg.get("local_port", 0))

    # -- Connectivity Monitoring (LwM2M object 4) ------------------------------------------------
    def bearer(self):
        return 21                 # WLAN

    def rssi(self):
        try:
            return int(self._wlan.status("rssi"))
        except Exception:
            return 0

    def ip_address(self):
        try:
            return self._wlan.ifconfig()[0]
        except Exception:
            return "0.0.0.0"
