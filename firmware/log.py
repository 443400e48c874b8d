"""Logging for sleepy devices: one line per event, and one machine-readable WAKE line per wake.

Levels: 'E' a wake failed or data is at risk, 'W' a fallback was taken, 'I' what a wake did,
'D' protocol detail. Never pass keys or PSKs here.

Also the runtime helpers every layer shares, each defined once (here because this module is
loaded anyway: a module of their own cost 288 B of heap in every wake):
trace        the one trace hook: None, or trace(label) called at the wake's measurement
             points ('handshake' at the DTLS handshake's high water, 'request' after each
             server request served, 'bs-request'). wake/cycle.py sets it to its heap
             checkpoint; a tool may set its own. Callers read it when the point is reached:
             `from log import trace` there (or `log.trace`), then `if trace: trace("label")`.
recv(src, clock, t0, ms)
             receive until a deadline: src.recv(time left) while t0 + ms (ticks) is ahead,
             else None; the clock is the caller's (clock.ticks_ms/ticks_diff, the board).
unload(name) drop a module whose work is done: its bytecode is heap on the unix port and on
             an ESP32 running .mpy files (frozen modules would live in flash). Out of
             sys.modules and out of its package (the package's attribute would keep it
             alive); the caller collects when it wants the memory back.
"""
import json

LEVEL = "I"
_ORDER = "DIWE"
trace = None


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


def recv(src, clock, t0, ms):
    n = ms - clock.ticks_diff(clock.ticks_ms(), t0)
    return src.recv(n) if n > 0 else None


def unload(name):
    import sys
    sys.modules.pop(name, None)
    i = name.rfind(".")
    if i > 0:
        p = sys.modules.get(name[:i])
        name = name[i + 1:]
        if p is not None and name in p.__dict__:
            delattr(p, name)
