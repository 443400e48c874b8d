"""Deterministic clock for recorded and replayed wakes (tools/wasm; not firmware).

Installed as sys.modules['time'] before the firmware is imported, on the unix port (recording)
and on the webassembly port (replay). Ticks start at 0 and advance only while the device waits
for a datagram (vsock: by the wait recorded under the unix port, or by the whole timeout when
nothing came): computation takes no virtual time, so both ports see the same ticks at the same
points of the wake. time() is the recorded wall-clock second T0 plus the virtual ticks.
"""
import time as _t

T0 = 0          # set by the boot code (recorded under the unix port)
V = 0           # virtual milliseconds since the boot
real_ms = _t.ticks_ms
real_diff = _t.ticks_diff


def adv(ms):
    global V
    V += ms


def ticks_ms():
    return V


def ticks_diff(a, b):
    return a - b


def ticks_add(a, b):
    return a + b


def time():
    return T0 + V / 1000


def sleep_ms(ms):
    adv(ms)


def sleep(s):
    adv(int(s * 1000))


gmtime = _t.gmtime
localtime = _t.localtime
