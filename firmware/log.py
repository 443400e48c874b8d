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
    """The one line per wake that people and the harness read (path, cost, result)."""
    print("WAKE " + json.dumps(fields))
