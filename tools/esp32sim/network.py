"""Model of the ESP32 port's `network.WLAN` in station mode (docs/library/network.WLAN.rst,
ports/esp32/network_wlan.c, modnetwork.h):

- WLAN(network.STA_IF); active(True) starts the driver (status STAT_IDLE 1000); connect()
  before active(True) raises OSError("Wifi Not Started").
- connect(ssid, key) returns at once; the association runs in the background: status() is
  STAT_CONNECTING (1001) until it ends, then STAT_GOT_IP (1010) and isconnected() is True.
  Failures (the driver keeps retrying forever unless config(reconnects=n)):
  STAT_NO_AP_FOUND (201) after a scan when the SSID is not on the air (or the AP is down),
  STAT_WRONG_PASSWORD (202) after the handshake when the key is wrong.
- status('rssi') only while connected; ifconfig() gives the DHCP lease.

The access point is the harness's knob `ap`: {"ssid", "key", "assoc_ms" (time to associate and
get an address; default 1200, the spec's cold-start estimate is 1-3 s), "scan_ms" (default 2500),
"down" (true: not on the air), "rssi"}. Times are real milliseconds of the wake (ticks).
"""
import time

import _sim

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
_IF = {}


def _ap():
    ap = {"ssid": "lwm2m-lab", "key": "sleepy-device", "assoc_ms": 1200, "scan_ms": 2500,
          "down": False, "rssi": -61}
    ap.update(_sim.KNOBS.get("ap") or {})
    return ap


class WLAN:
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __new__(cls, interface=STA_IF):
        o = _IF.get(interface)      # one object per interface, as on the port
        if o is None:
            o = object.__new__(cls)
            o._init(interface)
            _IF[interface] = o
        return o

    def _init(self, interface):
        self.iface = interface
        self._active = False
        self._t0 = None
        self._outcome = None
        self._cfg = {"reconnects": -1, "pm": self.PM_PERFORMANCE}

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        if is_active and not self._active:
            _sim.note("wifi", "active %d" % time.ticks_ms())
        if not is_active and self._active:
            _sim.note("wifi", "inactive %d" % time.ticks_ms())
            self._t0 = None
        self._active = bool(is_active)
        return None

    def connect(self, ssid=None, key=None, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        ap = _ap()
        self._t0 = time.ticks_ms()
        if ap["down"] or ssid != ap["ssid"]:
            self._outcome = (STAT_NO_AP_FOUND, ap["scan_ms"])
        elif (key or "") != ap["key"]:
            self._outcome = (STAT_WRONG_PASSWORD, ap["assoc_ms"])
        else:
            self._outcome = (STAT_GOT_IP, ap["assoc_ms"])
        _sim.note("wifi", "connect %d %s" % (self._t0, ssid))

    def disconnect(self):
        self._t0 = None

    def status(self, param=None):
        st = self._status()
        if param is None:
            return st
        if param == "rssi":
            if st != STAT_GOT_IP:
                raise OSError("STA is not connected")
            return _ap()["rssi"]
        raise ValueError("unknown status param")

    def _status(self):
        if not self._active:
            return STAT_IDLE
        if self._t0 is None:
            return STAT_IDLE
        code, ms = self._outcome
        if time.ticks_diff(time.ticks_ms(), self._t0) < ms:
            return STAT_CONNECTING
        return code

    def isconnected(self):
        return self._status() == STAT_GOT_IP

    def ifconfig(self, cfg=None):
        if self.isconnected():
            return ("192.168.4.57", "255.255.255.0", "192.168.4.1", "192.168.4.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def config(self, *args, **kw):
        if args:
            if args[0] == "mac":
                return b"\x24\x0a\xc4\x00\x00\x01"
            return self._cfg.get(args[0])
        self._cfg.update(kw)
        return None
