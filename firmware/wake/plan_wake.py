"""The wake around the path (issue 13): the queue-mode listen window, the per-wake fixed cost
of the bearer and the sleep until the next wake, planned from the planner's state (wake/planner.py:
NAT bounds, the server's reaction time, measured path costs) and the board's knobs.

A module of its own, loaded by wake/cycle.py for the listen window and again for the sleep, and
dropped after each: its code is not in the heap during the handshake, the requests or the Send. Functions of
the Planner instance `self` (docs/planner.md "The wake around the path").
"""

def listen_ms(self):
    """The queue-mode listen window: the board's schedule.listen_ms; with
    schedule.listen_min_ms below it, twice the slowest server reaction seen (a queue-mode
    server sends what it queued as soon as the Update arrives), at least that minimum."""
    sch = self.cfg["schedule"]
    hi = sch["listen_ms"]
    lo = sch.get("listen_min_ms", hi)
    if lo >= hi:
        return hi
    return max(lo, min(hi, 2 * max(self.lag * 10, 2 * self.radio["rtt_ms"])))


def fixed_uJ(self):
    """Per-wake fixed energy of the bearer: association or RRC set-up (radio.wake_uJ), the
    listen window and the connected tail (radio.tail_ms, radio.rai_tail_ms with RAI) at
    the connected-idle power (radio.idle_mW)."""
    r = self.radio
    rai = (self.cfg.get("modem") or {}).get("rai", True)
    tail = r.get("rai_tail_ms" if rai else "tail_ms", r.get("tail_ms", 0))
    return r.get("wake_uJ", 0) + (listen_ms(self) + tail) * r.get("idle_mW", r["rx_mW"])


def sleep_s(self, chan, sleep_s, due_s=1 << 30):
    """The sleep until the next wake: the schedule's, never past the registration renewal
    (due_s); with schedule.reachable never past the proven NAT lower bound (less a margin:
    the mapping, and the server's way to the device, stay alive); else just under it when a
    keep-alive there (the fixed cost + the way back while the mapping lives) costs less per
    day than sleeping the schedule (the fixed cost + the way back after that sleep: a
    dtls-reuse that may find the mapping gone, then its fallback). A fixed strategy
    (planner.force) keeps the schedule (and the requirements)."""
    s = max(1, min(sleep_s, due_s))
    lo = self.nat_lo
    k = lo - 2 - (lo >> 4)     # (the wake's own seconds, as in p_ok)
    if k >= s or k < 1:
        return s
    if self.cfg["schedule"].get("reachable"):
        return k
    if self.force or not self.port or "dtls-reuse" not in chan.paths():
        return s
    self.same_port = True      # the next wake binds this wake's port
    w = fixed_uJ(self)
    if (w + _cost(self, chan, k)) * s < (w + _cost(self, chan, s)) * k:
        return k
    return s


def _cost(self, chan, asleep_s):
    """The expected energy of the wake's way back after asleep_s: the chain's paths weighed from
    the last one backwards, as Planner.chain does (without exploration)."""
    rest = None
    for p in reversed(chan.paths()):
        c = self.cost(chan, p)
        if rest is not None:
            c += (1.0 - self.p_ok(p, asleep_s)) * (self.detect_uJ(p) + rest)
        rest = c if rest is None else min(rest, c)
    return rest
