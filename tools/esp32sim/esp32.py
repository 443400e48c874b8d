"""Model of the ESP32 port's `esp32` module (docs/library/esp32.rst; ports/esp32/modesp32.c,
esp32_nvs.c) and of ESP-IDF NVS behaviour (ESP-IDF "Non-volatile storage library" docs):

- NVS(namespace): set_i32/get_i32, set_blob/get_blob(key, buf) -> length, erase_key, commit.
  Writes are pending until commit(); a power cut before commit() loses them (the knob
  `nvs_cut: N` cuts the power at the N-th commit of this wake, before it lands). Committed data
  survives power cuts (NVS is log-structured and power-fail safe).
- Limits as ESP-IDF enforces them: namespace and key names at most 15 characters
  (ESP_ERR_NVS_KEY_TOO_LONG); a blob at most 97.6 % of the partition minus 4000 bytes (the
  MicroPython 4 MiB tables have a 0x6000-byte nvs partition: 19984 bytes;
  ESP_ERR_NVS_VALUE_TOO_LONG); get_blob into a buffer shorter than the blob fails
  (ESP_ERR_NVS_INVALID_LENGTH); a missing key is ESP_ERR_NVS_NOT_FOUND; a key read as the wrong
  type is ESP_ERR_NVS_TYPE_MISMATCH. MicroPython's check_esp_err raises these as
  OSError(-code, 'ESP_ERR_...') (e.g. OSError: (-4354, 'ESP_ERR_NVS_NOT_FOUND')).
- wake_on_ext0(pin, level): only RTC pins can wake the chip from deep sleep.
- raw_temperature(): the die sensor in Fahrenheit (original ESP32 only).
"""
import json

import _sim
import machine

ESP_ERR_NVS_NOT_FOUND = 0x1102
ESP_ERR_NVS_TYPE_MISMATCH = 0x1103
ESP_ERR_NVS_KEY_TOO_LONG = 0x1109
ESP_ERR_NVS_INVALID_LENGTH = 0x110C
ESP_ERR_NVS_VALUE_TOO_LONG = 0x110E
NVS_PARTITION = 0x6000
BLOB_MAX = int(NVS_PARTITION * 0.976) - 4000
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True
_DIR = _sim.STATE + "/nvs"
_sim.mkdir(_DIR)
_commits = [0]


_NAMES = {0x1102: "ESP_ERR_NVS_NOT_FOUND", 0x1103: "ESP_ERR_NVS_TYPE_MISMATCH",
          0x1109: "ESP_ERR_NVS_KEY_TOO_LONG", 0x110C: "ESP_ERR_NVS_INVALID_LENGTH",
          0x110E: "ESP_ERR_NVS_VALUE_TOO_LONG"}


def _err(code):
    return OSError(-code, _NAMES.get(code, "ESP_FAIL"))


def _name(s):
    if not isinstance(s, str) or not s or len(s) > 15:
        raise _err(ESP_ERR_NVS_KEY_TOO_LONG)
    return s


def nvs_committed(namespace):
    """The harness's view: what flash holds for `namespace` (committed writes only)."""
    b = _sim.read(_DIR + "/" + namespace + ".json")
    return json.loads(b) if b else {}


class NVS:
    def __init__(self, namespace):
        self.ns = _name(namespace)
        self._data = nvs_committed(self.ns)
        self._pending = {}        # key -> ["i", int] | ["b", hex] | None (erase)

    def _get(self, key, typ):
        _name(key)
        v = self._pending[key] if key in self._pending else self._data.get(key)
        if v is None:
            raise _err(ESP_ERR_NVS_NOT_FOUND)
        if v[0] != typ:
            raise _err(ESP_ERR_NVS_TYPE_MISMATCH)
        return v[1]

    def set_i32(self, key, value):
        _name(key)
        if not -(1 << 31) <= value < (1 << 31):
            raise OverflowError("overflow converting long int to machine word")
        self._pending[key] = ["i", int(value)]

    def get_i32(self, key):
        return self._get(key, "i")

    def set_blob(self, key, value):
        _name(key)
        value = bytes(value)
        if len(value) > BLOB_MAX:
            raise _err(ESP_ERR_NVS_VALUE_TOO_LONG)
        self._pending[key] = ["b", value.hex()]

    def get_blob(self, key, buf):
        data = bytes.fromhex(self._get(key, "b"))
        if len(data) > len(buf):
            raise _err(ESP_ERR_NVS_INVALID_LENGTH)
        buf[:len(data)] = data
        return len(data)

    def erase_key(self, key):
        self._get(key, (self._pending.get(key) or self._data.get(key) or ["?"])[0])  # NOT_FOUND
        self._pending[key] = None

    def commit(self):
        _commits[0] += 1
        cut = _sim.KNOBS.get("nvs_cut")
        if cut and _commits[0] == int(cut):
            _sim.power_off("NVS commit #%d of this wake (%s) never landed" % (_commits[0], ",".join(self._pending)))
        for k, v in self._pending.items():
            if v is None:
                self._data.pop(k, None)
            else:
                self._data[k] = v
        self._pending = {}
        _sim.write_atomic(_DIR + "/" + self.ns + ".json", json.dumps(self._data).encode())
        _sim.note("nvs_commits", "1")


def wake_on_ext0(pin, level):
    pid = pin.id if isinstance(pin, machine.Pin) else pin
    if pid is not None and pid not in machine.RTC_WAKE_PINS:
        raise ValueError("invalid pin for wake")
    machine._armed["ext0"] = None if pid is None else [pid, 1 if level else 0]


def wake_on_ext1(pins=None, level=False):
    for p in pins or ():
        if (p.id if isinstance(p, machine.Pin) else p) not in machine.RTC_WAKE_PINS:
            raise ValueError("invalid pin for wake")
    machine._armed["ext1"] = [p.id if isinstance(p, machine.Pin) else p for p in (pins or ())]


def raw_temperature():
    t = _sim.KNOBS.get("temp_c", 21.5)
    return int(t * 1.8 + 32)


def gpio_deep_sleep_hold(enable):
    pass
