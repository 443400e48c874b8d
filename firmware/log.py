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


def wake_line(fields):
    """The one line per wake that people and the harness read (path, cost, result). Only what
    json.loads reads back: MicroPython's json.dumps writes an exception object as NoAnswer('x',)
    and inf as `inf` (issue #11: the WAKE line must stay valid JSON)."""
    for k in fields:
        v = fields[k]
        if not isinstance(v, (int, str, list, tuple, dict)) and v is not None and \
                not (isinstance(v, float) and v == v and v - v == 0):
            fields[k] = str(v)
    print("WAKE " + json.dumps(fields))
