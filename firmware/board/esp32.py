"""The ESP32 board (Wi-Fi): RTC memory, NVS flash store, deep sleep, Wi-Fi link.

Facts used (../shared/specs/esp32-micropython.md): machine.RTC().memory() holds 2048 bytes and
survives deep sleep; NVS blobs need commit() and are power-fail safe; deepsleep is a reset and
reset_cause() == machine.DEEPSLEEP_RESET after it; time.time() counts from 2000-01-01 and keeps
running through deep sleep; ticks restart at every wake. Not yet run on hardware.
"""
import time

import machine

RTC_MAX = 2048
_EPOCH_2000 = 946684800


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
        nvs = self._store()
        buf = bytearray(2048)   # NVS blobs up to the RTC size (sample spill, DM writes)
        try:
            n = nvs.get_blob(key, buf)
        except OSError:
            return None
        return bytes(buf[:n])

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
        machine.deepsleep(int(ms))

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

    def net_up(self, timeout_ms=8000):
        """Associate with the configured Wi-Fi; bounded in time (the driver retries forever)."""
        import network
        w = network.WLAN(network.STA_IF)
        self._wlan = w
        w.active(True)
        if w.isconnected():
            return True
        wifi = self.cfg.get("wifi") or {}
        if not wifi.get("ssid"):
            return False
        w.connect(wifi["ssid"], wifi.get("key", ""))
        t0 = time.ticks_ms()
        while not w.isconnected():
            if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
                w.active(False)
                return False
            time.sleep_ms(50)
        return True

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
