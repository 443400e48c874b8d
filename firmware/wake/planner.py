"""The wake planner: which path to take this wake, in which fallback order, and what to learn.

Inputs: the paths the security channel can take from its persisted state (cheapest first),
the channel's byte estimates, what earlier wakes measured (bytes per path, the real listening
time of its failed attempts, success and failure by sleep-length bin), the time asleep against
the learned NAT-timeout bounds [lo, hi], whether the local port is the one of the last wake, and
the radio cost model of the board. Output: an ordered chain of paths. Every path that can fail
is weighed, from the cheapest fallback backwards: a path is kept in front of the rest of the
chain only when trying it first is expected to cost less than going straight to the rest:

    cost(p) + P(fail p | sleep bin) * (detect(p) + C(rest)) < C(rest)

Energy per path (µJ) = bytes_up * tx_uJ_per_byte + bytes_down * rx_uJ_per_byte
                      + datagrams * datagram_uJ + round_trips * rtt_ms * rx_mW
detect(p) (µJ) = the measured listening time of p's failed attempts * rx_mW (before any was
measured: the probe's retransmission budget at the board's CoAP timers).

Attribution: a silent dtls-reuse followed by a refused resumption is the server having lost
its state, not the NAT; a new local port says nothing about the NAT (and rules dtls-reuse
out). Exploration: a path the evidence ruled out (a NAT bound, a server without CID or session
cache) is probed again (one ACK timeout of listening) once the wakes since the last probe have
put aside `planner.explore` % (default 1) of the path energy to pay for its expected failure,
the price doubling with each failed probe (up to 64 x), so a NAT timeout that rises, or a
server that changed, is found again at a bounded cost. `planner.force` (a path name) disables the planner: that path
first whenever its state exists (the fixed strategies of make bench-planner).

The wake, not only the path (listen_ms, sleep_s): the queue-mode listen window (the board's,
or, with schedule.listen_min_ms below it, twice the slowest server reaction seen) and the sleep
(never past the lifetime renewal; with schedule.reachable never past the proven NAT lower bound;
else just under it when a keep-alive there costs less per day than the path after an expiry,
counting the per-wake fixed cost of the bearer: association or RRC set-up, listen window, tail).

Persisted (section 'plan', 107 B): NAT bounds (and whether the upper one was seen, not only the
prior's, and when: that evidence fades over planner.nat_memory_s), the server's reaction time, the last local port, the exploration state, per
path 4 sleep bins of (ok, fail) nibbles (halved at 15: forgetting), measured bytes, the
measured time of a success and the listening time of a failure, (ok, fail) right after another
path of the wake failed (a restart fails cid and resume together); the time of the last exchange, and how many wakes in a row failed
(the sleep back-off in wake/cycle.py doubles with it).
"""
import struct

PATHS = ("nosec", "oscore", "oscore-b2", "cid", "dtls-reuse", "resume", "full-handshake")
_HDR = ">BIIIIBHHBBBBI"           # ver, last_exchange, last_wake, nat_lo, nat_hi, fails, port,
_HDR_LEN = 30                     # wakes since the last probe, probe price exponent, clean wakes,
_VER = 8                          # flags (1: nat_hi was seen), server lag (10 ms), when nat_hi was seen
_PER = ">5sHHH"                   # 4 bins of (ok << 4 | fail) and (ok << 4 | fail) right after
_PER_LEN = 11                     # another path of the wake failed, measured bytes, ms / 10 of a
                                  # failed attempt, ms / 10 of a successful one


def _k(p):
    """'modem-cid' and 'modem-full-handshake' (DTLS run by an nRF9160) count as 'cid' and
    'full-handshake'."""
    return PATHS.index(p if p in PATHS else p[p.find(chr(45)) + 1:])


def fails(store):
    """Wakes in a row that reached no server, from the persisted `plan` (lwm2m/bootstrap.py
    asks it before a wake plans anything): 0 when there is none or it is another layout."""
    p = store.get("plan")
    return p[17] if p and len(p) >= _HDR_LEN and p[0] == _VER else 0     # _HDR's 'fails'


def _count(c, ok):
    """An (ok << 4 | fail) byte with one outcome more; halved when one reaches 16
    (forgetting: recent behaviour weighs more)."""
    o, f = (c >> 4) + ok, (c & 15) + (not ok)
    if o > 15 or f > 15:
        o, f = (o + 1) // 2, (f + 1) // 2
    return o << 4 | f


def _bin(asleep_s):
    return 0 if asleep_s < 90 else 1 if asleep_s < 900 else 2 if asleep_s < 7200 else 3


class Planner:
    def __init__(self, store, cfg, port=0):
        self.store = store
        self.radio = cfg["radio"]
        self.coap = cfg["coap"]
        self.cfg = cfg
        prior = self.radio.get("nat_timeout_prior_s", [30, 120])
        self.nat_lo, self.nat_hi = int(prior[0]), int(prior[1])
        self.last_exchange = 0
        self.last_wake = 0
        self.stats = [[bytearray(5), 0, 0, 0] for _ in PATHS]
        self.fails = 0           # wakes in a row that ended without an exchange
        self.tried = []          # [(path, outcome)] this wake
        self.undo = None         # (stats, bytes, ms) before this wake's success measured them
        pc = cfg.get("planner") or {}
        self.force = pc.get("force")          # a fixed strategy (make bench-planner)
        self.explore = pc.get("explore", 1)   # % of the path energy spent on exploration
        self.port = port         # this wake's local port (0: a new one each wake)
        self.same_port = False
        self.since = 0           # wakes since the last exploration probe
        self.pexp = 0            # the probe interval is explore << pexp
        self.probing = None
        self.shadow = ()         # cid or resume, left out by chain() (record books them too)
        self.clean = 0           # wakes in a row whose exchanges needed no retransmission
        self.flags = 0           # 1: the NAT upper bound was seen (an expiry), not the prior's
        self.lag = 0             # the slowest server reaction seen in a listen window (10 ms)
        self.nat_t = 0           # when an expiry set nat_hi (the evidence fades: _seen)
        self.rt = self.radio["rtt_ms"]   # the link's time per round trip (chain() measures it)
        self.nat_fail = None     # a silent dtls-reuse, booked on the NAT at save() unless the
                                 # server showed it lost its state
        self.reg = ((), 0)       # (paths after which this wake Registers instead of Updating,
                                 # the bytes that adds): set by wake/cycle.py
        s = store.get("plan")
        if s and len(s) == _HDR_LEN + _PER_LEN * len(PATHS) and s[0] == _VER:
            (_v, self.last_exchange, self.last_wake, self.nat_lo, self.nat_hi, self.fails,
             last_port, self.since, self.pexp, self.clean, self.flags,
             self.lag, self.nat_t) = struct.unpack(_HDR, s[:_HDR_LEN])
            self.same_port = port != 0 and port == last_port
            for i in range(len(PATHS)):
                o = _HDR_LEN + _PER_LEN * i
                st = list(struct.unpack(_PER, s[o:o + _PER_LEN]))
                st[0] = bytearray(st[0])
                self.stats[i] = st

    def save(self, retx=None):
        """retx: the wake's CoAP retransmissions (None: no exchange). A wake without failed
        paths and without retransmissions counts as clean; one with retransmissions says the
        link loses datagrams."""
        if retx is not None and not any(t[1] != "ok" for t in self.tried):
            self.clean = 0 if retx else min(self.clean + 1, 255)
        u = self.undo
        if retx and u:
            # retransmissions: the link lost datagrams, and the time and bytes of this wake's
            # path are the link's (any path pays them), not the path's: keep the older figures
            # (none yet: the channel's estimate; a first figure from a lossy wake would make
            # the path look slower than every path not measured yet)
            u[0][1] = u[1]
            u[0][3] = u[2]
        f = self.nat_fail
        if f is not None and any(t[1] == "session-unknown" for t in self.tried):
            b = self.stats[_k("dtls-reuse")][0]      # the server, not the NAT: dtls-reuse's own
            b[f[1]] = _count(b[f[1]], False)
        elif f is not None:
            f = f[0]
            lo = self.nat_lo
            self.nat_hi = max(1, min(self.nat_hi, f))
            self.flags |= 1
            self.nat_t = self.last_wake
            if f <= lo + (lo >> 4) + 2:
                # an expiry within what was proven: the NAT changed, what it keeps is unknown
                self.nat_lo = max(1, min(int(self.radio.get("nat_timeout_prior_s", [30])[0]),
                                         f >> 1))
            elif lo >= self.nat_hi:
                self.nat_lo = self.nat_hi - 1
        b = bytearray(struct.pack(_HDR, _VER, int(self.last_exchange), int(self.last_wake),
                                  int(self.nat_lo), int(self.nat_hi), min(self.fails, 255),
                                  self.port & 0xFFFF, min(self.since, 65535), self.pexp,
                                  self.clean, self.flags, self.lag, int(self.nat_t)))
        for st in self.stats:
            b.extend(struct.pack(_PER, bytes(st[0]), st[1], st[2], st[3]))
        self.store.put("plan", b)

    # -- cost model ---------------------------------------------------------------------------
    def energy(self, est, ms=0):
        """ms: the measured time the path kept the radio listening (round trips, the server's
        and our own processing, retransmissions), at least round trips x rtt_ms."""
        up, down, dg, rtt = est
        r = self.radio
        return (up * r["tx_uJ_per_byte"] + down * r["rx_uJ_per_byte"] + dg * r["datagram_uJ"]
                + max(ms, rtt * r["rtt_ms"]) * r["rx_mW"])

    def detect_uJ(self, path):
        """Listening before we know a path failed: measured (the last failures of this path),
        else the probe's retransmission budget at the board's timers."""
        ms = self.stats[_k(path)][2] * 10
        if not ms and path[-6:] in ("resume", "oscore"):
            # the channel's own fallback (a resumption answered with a full handshake, an
            # OSCORE Update answered 4.01 then B.2) is refused with an answer: one round trip
            # more, not a silence (its time is inside the fallback's, not measured apart)
            ms = 2 * self.radio["rtt_ms"]
        if not ms:
            n = int(self.coap.get("probe_retransmit", 2))
            t = self.coap["ack_timeout_ms"]
            if n:       # (coap/exchange.py: no random factor without retransmissions)
                t *= (1 + self.coap.get("ack_random_factor", 1.5)) / 2
            ms = t * ((1 << (n + 1)) - 1)
        return ms * self.radio["rx_mW"]

    def p_ok(self, path, asleep_s):
        """P(success) from the path's record in this sleep bin on a prior: a path whose state
        exists worked last time (mean 0.9988: at the board's slow CoAP timers a first CID must
        not cost more in expected silence than it saves; worth 2 wakes: one failure in three
        wakes drops a path whose silence costs more than it saves, and it comes back as the
        evidence changes); dtls-reuse's prior comes from the NAT bounds, linear between them,
        and is 0 on a new local port. An upper bound that only the prior set is no evidence:
        past it the mapping may still live (0.5 x hi / asleep), and up to it the line ends at
        0.5, not 0; one an expiry set fades as evidence (_seen)."""
        c = self.stats[_k(path)][0][_bin(asleep_s)]
        ok, fail = c >> 4, c & 15
        a, b = 2.0, 0.0025
        if path == "dtls-reuse":
            if not self.same_port:
                return 0.0
            lo, hi = self.nat_lo, self.nat_hi
            tail = 0.5 - 0.5 * self._seen(asleep_s)
            x = 2.0
            if asleep_s >= hi:
                x = tail * hi / asleep_s
            elif asleep_s > lo + (lo >> 4) + 2:      # (a wake's own seconds: not past lo)
                x = (hi - asleep_s) / (hi - lo)
                x += (1.0 - x) * tail
            if x < 2:
                # past the proven bound: successes at shorter sleeps of the bin say nothing
                # (one past it moved the bound), failures (the server's) still count
                a, b, ok = 0.05 + 3.0 * x, 3.0 - 3.0 * x, 0
        return (ok + a) / (ok + fail + a + b)

    def cost(self, chan, path):
        """The energy of a path that works: its measured bytes and time; a path not measured
        yet, the channel's estimate at the time per round trip the link showed on the paths
        that were (the server's, our own and the modem's processing are in it, not only
        rtt_ms: on the nRF9160 a CID Update took 280 ms, a resumption, costed at 2 x 100 ms,
        750 ms)."""
        est = self.estimate(chan, path)
        ms = self.stats[_k(path)][3] * 10
        return self.energy(est, ms or est[3] * self.rt)

    def _seen(self, asleep_s):
        """How much the NAT's upper bound is still worth as evidence: 1 when an expiry set it
        just now, fading as M / (M + its age) with M = planner.nat_memory_s (default a day);
        0 when only the prior set it. A NAT is re-configured, a network path changes: past a
        bound seen a day ago a mapping may live again (p_ok's tail: 0.25 x hi / asleep), and
        the learn probe may look for it again (learn)."""
        if not self.flags & 1:
            return 0.0
        m = (self.cfg.get("planner") or {}).get("nat_memory_s", 86400)
        return m / (m + max(0, self.last_exchange + min(asleep_s, 1 << 29) - self.nat_t))

    def estimate(self, chan, path):
        est = chan.estimate(path)
        measured = self.stats[_k(path)][1]
        if measured:
            # measured bytes replace the channel's static guess, split in the same ratio
            tot = est[0] + est[1] or 1
            est = (measured * est[0] // tot, measured - measured * est[0] // tot, est[2], est[3])
        elif path in self.reg[0]:
            # a Register instead of the channel's 13-byte Update (measured bytes include it)
            est = (est[0] + self.reg[1], est[1], est[2], est[3])
        return est

    def chain(self, chan, asleep_s):
        """Ordered fallback chain for this wake (cheapest expected energy)."""
        paths = chan.paths()
        if type(paths) is tuple:
            # several mechanisms (wake/mechanisms.py): one list each, merged by this cost model
            paths = chan.paths(self)
        paths = [p for p in paths if (p if p in PATHS else p[p.find(chr(45)) + 1:]) in PATHS]
        if not paths:
            return []
        if self.force:      # always this path first when its state exists, then the channel's order
            for i, p in enumerate(paths):
                if p == self.force or p[p.find(chr(45)) + 1:] == self.force:
                    return paths[i:]
            return paths
        # the link's time per round trip, from the paths measured (mean; rtt_ms before any)
        n = t = 0
        for p in paths:
            ms, rt = self.stats[_k(p)][3] * 10, chan.estimate(p)[3]
            if ms and rt:
                n += 1
                t += ms / rt
        self.rt = max(self.radio["rtt_ms"], t / n if n else 0)
        self.since += 1
        if self.clean >= 3:
            # three clean wakes in a row: a silence is the path failing, not a lost datagram;
            # a path with a fallback listens for one ACK timeout, not 2-3 s of retransmissions
            self.coap["probe_retransmit"] = 0
        chain = [paths[-1]]
        rest_cost = self.cost(chan, paths[-1])
        rest_f = rest_cost      # the rest's cost when the path before it failed (correlated:
        for p in reversed(paths[:-1]):      # a restart fails cid and resume together)
            st = self.stats[_k(p)]
            c = self.cost(chan, p)
            pk = self.p_ok(p, asleep_s)
            d = self.detect_uJ(p)
            try_first = c + (1.0 - pk) * (d + rest_f)
            if try_first < rest_cost:
                chain.insert(0, p)
                rest_cost = try_first
                # P(ok | the path before failed): its own record after failures, on a prior of
                # weight 2 at the unconditional rate (no record: independent)
                x = st[0][4]
                rest_f = c + (1.0 - ((x >> 4) + 2.0 * pk) / ((x >> 4) + (x & 15) + 2.0)) * (d + rest_f)
            elif (pk > 0 and self.probing is None and c < rest_cost and self.explore and
                  (self.since * rest_cost * self.explore + self.learn(p, asleep_s, c, rest_cost))
                  >= (1.0 - pk) * self.coap["ack_timeout_ms"] * self.radio["rx_mW"]
                  * (125 << self.pexp)):
                # exploration: the evidence may be stale (a NAT that now keeps mappings longer,
                # a server that changed). A probe listens for one ACK timeout only (no
                # retransmission this wake) and is made when the wakes since the last one have
                # put aside enough (explore % of the path energy) to pay for its expected
                # failure, or when what a success would teach pays for it (learn)
                self.probing = p
                self.since = 0
                self.coap["probe_retransmit"] = 0
                chain.insert(0, p)
        # cid or resume left out: what the other finds says whether the server kept its state
        self.shadow = [p for p in ("cid", "resume") if p in paths and p not in chain]
        return chain

    def learn(self, path, asleep_s, c, rest):
        """x 100 (the budget's scale): what a successful probe of dtls-reuse past the NAT's lower
        bound is worth. It proves the mapping lives that long (lo = asleep), so every wake of
        the next day at this sleep may reuse: P(ok) x the saving per wake x the wakes of a day.
        Other paths learn one count per probe, not a bound, and a bound that was seen (an
        expiry) is explored again by the budget only: nothing beyond it."""
        if path != "dtls-reuse" or asleep_s <= self.nat_lo or (asleep_s >= self.nat_hi and
                                                                self._seen(asleep_s) > 0.5):
            return 0
        pk = self.p_ok(path, asleep_s)
        save = rest - c - 0.005 * (self.detect_uJ(path) + rest)
        return max(0.0, pk * save * 8640000 / max((self.cfg.get("schedule") or {}).get("sleep_s", 3600), 60))

    def served(self, ms):
        """A listen window heard the server: ms until its last request (the slowest kept,
        forgotten by 1/8 a wake; wake/plan_wake.py listen_ms plans with it)."""
        self.lag = max(min(int(ms) // 10 + 1, 255), self.lag * 7 // 8)

    # -- learning -----------------------------------------------------------------------------
    def record(self, path, outcome, asleep_s=None, n=None, ms=0):
        """n: the bytes of a path that worked, the listening ms of an attempt that failed;
        ms: the time a path that worked took."""
        t = self.tried
        # right after another path of this wake failed: booked apart (P(ok | the one before
        # failed), chain()), not in the bins, which say how the path does when tried first
        after = len(t) > 0 and t[-1][1] != "ok" and t[-1][0] != path
        t.append((path, outcome))
        st = self.stats[_k(path)]
        bins = st[0]
        i = 4 if after else _bin(asleep_s or 0)
        c = bins[i]
        if outcome == "ok":
            self.undo = (st, st[1], st[3])
            if n:
                st[1] = min(n if not st[1] else (3 * st[1] + n) // 4, 65535)
            if ms:
                ms = min(ms // 10, 65535)
                st[3] = ms if not st[3] else (st[3] + ms) // 2
            if path == "dtls-reuse" and asleep_s is not None:
                self.nat_lo = max(self.nat_lo, int(asleep_s))
                if self.nat_hi <= self.nat_lo:
                    self.nat_hi = self.nat_lo + 1
            if path == self.probing:
                self.pexp = 0
        else:
            if n:
                n = min(n // 10, 65535)
                st[2] = n if not st[2] else (st[2] + n) // 2
            if path == self.probing:
                self.pexp = min(self.pexp + 1, 6)
            if path == "dtls-reuse" and outcome == "no-answer" and asleep_s is not None and self.same_port:
                # the NAT's, unless the server shows it lost its state (save()): then the bin's
                self.nat_fail = (int(asleep_s), i)
                return
        bins[i] = _count(c, outcome == "ok")
        if after or not self.shadow:
            return
        # a path left out of the chain learns from the one tried first in its place what it
        # would have met: resumption refused, the server lost its state (cid's connection with
        # it), accepted, it kept it (cid's too); a CID Update answered, the server kept the
        # session (resumption works, if it ever worked with this server: a server without a
        # session cache keeps CIDs). So a path dropped on a failure, a restart or a lost
        # handshake, comes back once the server keeps its state, and stays out while it does
        # not, without a probe (the NAT says nothing about either)
        o = "cid" if path == "resume" and outcome[0] in "os" else \
            "resume" if path == "cid" and outcome == "ok" and self.stats[5][3] else None
        if o in self.shadow:
            cb = self.stats[_k(o)][0]
            cb[i] = _count(cb[i], outcome == "ok")

    # -- bootstrap: the most expensive way back --------------------------------------------------
    def bootstrap_cost(self, chan=None):
        """Energy of a bootstrap: never less than any path of the chain (it is what is left when
        they all failed), so it is never chosen while a path may still work."""
        # a bootstrap (Request, the server's Delete/Discover/Writes/Read/Finish) and the Register
        # after it: bytes up, down, datagrams, round trips (measured: 179 B up, 185 B down)
        e = self.energy((410, 250, 20, 9))
        for p in (chan.paths() if chan else ()):
            if p in PATHS:
                e = max(e, self.energy(self.estimate(chan, p)) + 1)
        return e
