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
docs/memory.md). The ratio taken is the smallest among the paths that bind the budget (64-bit
peak within 15 % of the heaviest: the DTLS handshakes, resumption, CID, the fallback chain):
1.786 .. 1.807 on this firmware (make bench after the merges of issues 11-18). A lighter path
may measure a smaller ratio (OSCORE 1.58: MicroPython's interned-name pool doubles at another
point on each port, a 6 KiB step on 32 bits), but it stays far from the budget on both ports;
make bench checks every measured path's 32-bit peak directly against 64 KiB x 0.8 (the highest,
the cid -> resume -> full-handshake wake, 37,360 B of 52,428 B).

    64 KiB x 1.786 x 0.8 = 93,637 B -> 93,184 B (91 KiB)

At 80 KiB (what the OSCORE ratio would give) the 50-request bursts and the host-DTLS wake over
the nRF9160 modem run short of heap: measured, not assumed.

make bench recomputes the budget from the ratios it measures and says if it differs from this
one (then RATIO is to be updated here).

`LWM2M_HEAP_BUDGET=N` (bytes) overrides it for experiments (e.g. 65536 to see what still fits
the old, twice-too-strict budget).
"""
import os

DEVICE_BUDGET = 64 * 1024          # what a 32-bit MCU leaves the firmware
RATIO = 1.786                      # 64-bit unix port / 32-bit port, live heap: smallest of the binding paths
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
