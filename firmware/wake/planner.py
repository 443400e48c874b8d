"""The wake planner: which path to take this wake, in which fallback order, and what to learn.

Inputs: the paths the security channel can take from its persisted state (cheapest first),
the channel's byte estimates, what earlier wakes measured (bytes per path, success counts),
the time asleep against the learned NAT-timeout bounds [lo, hi], and the radio cost model of
the board. Output: an ordered chain of paths; each optimistic path is kept only when trying
it first is expected to cost less than going straight to the rest of the chain:

    cost(p) + P(fail p) * (detect(p) + C(rest)) < C(rest)

Energy per path (µJ) = bytes_up * tx_uJ_per_byte + bytes_down * rx_uJ_per_byte
                      + datagrams * datagram_uJ + round_trips * rtt_ms * rx_mW
Failure detection (µJ) = the listen time before giving up * rx_mW.

Learned and persisted (section 'plan', a few dozen bytes): NAT bounds, per-path success and
failure counts (halved when large: recent behaviour weighs more), measured bytes per path,
the time of the last exchange with the server, and how many wakes in a row failed (the
sleep back-off in wake/cycle.py doubles with it).
"""
import struct

PATHS = ("nosec", "oscore", "oscore-b2", "cid", "dtls-reuse", "resume", "full-handshake")
OPTIMISTIC = ("dtls-reuse",)      # paths that depend on the NAT mapping still being alive
_HDR = ">BIIIIB"                  # ver, last_exchange, last_wake, nat_lo, nat_hi, fails
_HDR_LEN = 18
_PER = ">BBH"                     # ok, fail, measured bytes (0: unknown)


class Planner:
    def __init__(self, store, cfg):
        self.store = store
        self.radio = cfg["radio"]
        self.coap = cfg["coap"]
        prior = self.radio.get("nat_timeout_prior_s", [30, 120])
        self.nat_lo, self.nat_hi = int(prior[0]), int(prior[1])
        self.last_exchange = 0
        self.last_wake = 0
        self.stats = [[0, 0, 0] for _ in PATHS]
        self.fails = 0           # wakes in a row that ended without an exchange
        self.tried = []          # [(path, outcome)] this wake
        self.force = (cfg.get("planner") or {}).get("force")   # a fixed strategy (make bench-planner)
        self.reg = ((), 0)       # (paths after which this wake Registers instead of Updating,
                                 # the bytes that adds): set by wake/cycle.py
        s = store.get("plan")
        if s and len(s) == _HDR_LEN + 4 * len(PATHS) and s[0] == 2:
            (_v, self.last_exchange, self.last_wake, self.nat_lo, self.nat_hi,
             self.fails) = struct.unpack(_HDR, s[:_HDR_LEN])
            for i in range(len(PATHS)):
                self.stats[i] = list(struct.unpack(_PER, s[_HDR_LEN + 4 * i:_HDR_LEN + 4 * i + 4]))

    def save(self):
        b = bytearray(struct.pack(_HDR, 2, int(self.last_exchange), int(self.last_wake),
                                  int(self.nat_lo), int(self.nat_hi), min(self.fails, 255)))
        for st in self.stats:
            b.extend(struct.pack(_PER, st[0], st[1], st[2]))
        self.store.put("plan", b)

    # -- cost model ---------------------------------------------------------------------------
    def energy(self, est):
        up, down, dg, rtt = est
        r = self.radio
        return (up * r["tx_uJ_per_byte"] + down * r["rx_uJ_per_byte"] + dg * r["datagram_uJ"]
                + rtt * r["rtt_ms"] * r["rx_mW"])

    def detect_uJ(self, path):
        """Listening before we know a path failed: a probe waits once (2 x ACK_TIMEOUT),
        a normal path the whole CoAP retransmission budget."""
        t = self.coap["ack_timeout_ms"]
        if path in OPTIMISTIC:
            ms = 2 * t
        else:
            ms = t * ((1 << (self.coap["max_retransmit"] + 1)) - 1)
        return ms * self.radio["rx_mW"]

    def p_ok(self, path, asleep_s):
        if path == "dtls-reuse":
            if asleep_s < self.nat_lo:
                return 0.95
            if asleep_s >= self.nat_hi:
                return 0.02
            return 0.5
        ok, fail, _b = self.stats[PATHS.index(path if path in PATHS else path[path.find(chr(45)) + 1:])]
        return (ok + 1.0) / (ok + fail + 2.0)

    def estimate(self, chan, path):
        est = chan.estimate(path)
        measured = self.stats[PATHS.index(path if path in PATHS else path[path.find(chr(45)) + 1:])][2]
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
        # 'modem-cid', 'modem-full-handshake' (DTLS run by an nRF9160, sec/modem_dtls.py) count
        # as 'cid' and 'full-handshake' (written without new names: see wake/cycle.py)
        paths = [p for p in chan.paths() if (p if p in PATHS else p[p.find(chr(45)) + 1:]) in PATHS]
        if not paths:
            return []
        if self.force:      # always this path first when its state exists, then the channel's order
            for i, p in enumerate(paths):
                if p == self.force or p[p.find(chr(45)) + 1:] == self.force:
                    return paths[i:]
            return paths
        chain = [paths[-1]]
        rest_cost = self.energy(self.estimate(chan, paths[-1]))
        for p in reversed(paths[:-1]):
            c = self.energy(self.estimate(chan, p))
            pk = self.p_ok(p, asleep_s)
            try_first = c + (1.0 - pk) * (self.detect_uJ(p) + rest_cost)
            if p not in OPTIMISTIC or try_first < rest_cost:
                chain.insert(0, p)
                rest_cost = try_first
        return chain

    # -- learning -----------------------------------------------------------------------------
    def record(self, path, outcome, asleep_s=None, nbytes=None):
        self.tried.append((path, outcome))
        st = self.stats[PATHS.index(path if path in PATHS else path[path.find(chr(45)) + 1:])]
        if outcome == "ok":
            st[0] += 1
            if nbytes:
                st[2] = nbytes if not st[2] else (3 * st[2] + nbytes) // 4
                st[2] = min(st[2], 65535)
            if path == "dtls-reuse" and asleep_s is not None:
                self.nat_lo = max(self.nat_lo, int(asleep_s))
                if self.nat_hi <= self.nat_lo:
                    self.nat_hi = self.nat_lo + 1
        else:
            st[1] += 1
            if path == "dtls-reuse" and outcome == "no-answer" and asleep_s is not None:
                self.nat_hi = max(1, min(self.nat_hi, int(asleep_s)))
                if self.nat_lo >= self.nat_hi:
                    self.nat_lo = self.nat_hi - 1
        if st[0] + st[1] > 200:
            st[0] //= 2
            st[1] //= 2
