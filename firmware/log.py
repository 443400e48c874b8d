"""Logging for sleepy devices: one line per event, and one machine-readable WAKE line per wake.

Levels: 'E' a wake failed or data is at risk, 'W' a fallback was taken, 'I' what a wake did,
'D' protocol detail. Never pass keys or PSKs here.
"""
import json

LEVEL = "I"
_ORDER = "DIWE"


def log(msg, level="I"):
    if _ORDER.find(level) >= _ORDER.find(LEVEL):
        print("%s %s" % (level, msg))


def _plain(v):
    # Only what json.loads reads back: MicroPython's json.dumps writes an exception object as
    # NoAnswer('x',) and inf as `inf` (issue #11: the WAKE line must stay valid JSON).
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and v - v == 0 else str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        d = {}
        for k in v:
            d[str(k)] = _plain(v[k])
        return d
    return str(v)


def wake_line(fields):
    """The one line per wake that people and the harness read (path, cost, result)."""
    print("WAKE " + json.dumps(_plain(fields)))
