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


def _path(ns, key):
    return _DIR + "/" + ns + "." + key


class NVS:
    """Committed entries are files <state>/nvs/<namespace>.<key> (type byte + value), read on
    demand: on the chip NVS lives in flash, so the model keeps no copy in the heap either."""

    def __init__(self, namespace):
        self.ns = _name(namespace)
        self._pending = {}        # key -> b"i<int>" | b"b<bytes>" | None (erase)

    def _get(self, key, typ):
        _name(key)
        v = self._pending[key] if key in self._pending else _sim.read(_path(self.ns, key))
        if v is None:
            raise _err(ESP_ERR_NVS_NOT_FOUND)
        if v[0] != typ:
            raise _err(ESP_ERR_NVS_TYPE_MISMATCH)
        return v

    def set_i32(self, key, value):
        _name(key)
        if not -(1 << 31) <= value < (1 << 31):
            raise OverflowError("overflow converting long int to machine word")
        self._pending[key] = b"i%d" % value

    def get_i32(self, key):
        return int(self._get(key, 0x69)[1:])

    def set_blob(self, key, value):
        _name(key)
        if len(value) > BLOB_MAX:
            raise _err(ESP_ERR_NVS_VALUE_TOO_LONG)
        self._pending[key] = b"b" + bytes(value)

    def get_blob(self, key, buf):
        v = self._get(key, 0x62)
        n = len(v) - 1
        if n > len(buf):
            raise _err(ESP_ERR_NVS_INVALID_LENGTH)
        buf[:n] = memoryview(v)[1:]
        return n

    def erase_key(self, key):
        _name(key)
        if key in self._pending and self._pending[key] is None or \
                key not in self._pending and not _sim.exists(_path(self.ns, key)):
            raise _err(ESP_ERR_NVS_NOT_FOUND)
        self._pending[key] = None

    def commit(self):
        _commits[0] += 1
        cut = _sim.KNOBS.get("nvs_cut")
        if cut and _commits[0] == int(cut):
            _sim.power_off("NVS commit #%d of this wake (%s) never landed" % (_commits[0], ",".join(self._pending)))
        for k, v in self._pending.items():
            if v is None:
                try:
                    _sim.os.remove(_path(self.ns, k))
                except OSError:
                    pass
            else:
                _sim.write_atomic(_path(self.ns, k), v)
        self._pending = {}
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
