"""The device's heap budget in the harness: ONE constant for the runner, make bench, the tests
and the interop runs (README, "Memory").

The target (an ESP32 with Wi-Fi up, beside a modem driver and the user's code) leaves the
firmware 64 KiB of heap on a 32-bit MicroPython. The harness runs the 64-bit unix port, whose
objects are bigger (pointers, object headers, GC blocks of 16 B instead of 8 B): the same live
objects take RATIO times the bytes. The harness budget is therefore

    HARNESS_BUDGET = DEVICE_BUDGET x RATIO x MARGIN

with MARGIN = 0.8 (at least 20 % stricter than the plain conversion), rounded down to a whole
KiB. RATIO is the 64-bit / 32-bit live-heap ratio measured per wake path by replaying recorded
wakes byte for byte on MicroPython's 32-bit webassembly port (tools/wasm, make bench,
docs/memory.md): 1.781 ..
1.850 over nosec, oscore, DTLS full handshake, resumption, CID and the cid -> resume -> full
handshake fallback, median 1.803 (make bench on this firmware; 1.783 .. 1.861 before the sample
was taken ahead of the radio). The smallest ratio is taken: the paths that bind the budget
(the DTLS ones) are those with the smallest ratio, a typical one would over-credit them.

    64 KiB x 1.781 x 0.8 = 93,375 B -> 93,184 B (91 KiB)

make bench recomputes the budget from the ratios it measures and says if it differs from this
one (then RATIO is to be updated here).

`LWM2M_HEAP_BUDGET=N` (bytes) overrides it for experiments (e.g. 65536 to see what still fits
the old, twice-too-strict budget).
"""
import os

DEVICE_BUDGET = 64 * 1024          # what a 32-bit MCU leaves the firmware
RATIO = 1.781                      # 64-bit unix port / 32-bit port, live heap: smallest measured
MARGIN = 0.8                       # at least 20 % margin
HARNESS_BUDGET = int(DEVICE_BUDGET * RATIO * MARGIN) // 1024 * 1024
HEAP_BUDGET = int(os.getenv("LWM2M_HEAP_BUDGET", HARNESS_BUDGET))


def describe():
    """One line for make bench and the runner: the budget and where it comes from."""
    s = "heap budget %d B (%.1f KiB) = 64 KiB x ratio %.4g x margin %.1f" % (
        HEAP_BUDGET, HEAP_BUDGET / 1024, RATIO, MARGIN)
    if HEAP_BUDGET != HARNESS_BUDGET:
        s += " [overridden by LWM2M_HEAP_BUDGET; derived %d B]" % HARNESS_BUDGET
    return s
