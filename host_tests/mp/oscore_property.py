"""Property (RFC 8613 App. B.1.1): across simulated wakes with deep sleeps, resets and power
cuts, the real OSCORE channel never protects two different requests with the same Partial IV
under the same security context (ID Context).

Each wake: a new Store and channel (as wake/cycle.py builds them), restore from RTC memory and
flash, the first usable path (B.2 when the context is unknown), 0-3 requests (some of them
retransmitted, which must resend the same bytes), then one ending, chosen at random:
  sleep   settle + save + commit (a normal deep sleep: RTC memory and flash kept)
  reset   no settle, no final persist (RTC memory kept as last committed, flash kept)
  cut     power cut: RTC memory lost, flash kept
and, at random, a power cut in the middle of the wake at the n-th RTC/flash write (the write
is lost, the wake stops there), now and then the server losing the context (the next request
gets an unprotected 4.01: forget, B.2) or the device's flash context being forgotten.
Every protected request leaving the device is recorded as (ID Context, PIV) -> hash of its
bytes; a second, different datagram under the same key is a reused nonce (a retransmission is
the same datagram).

Not collected by itself: host_tests/unit/test_oscore_property.py runs it under CPython (>= 1000
wakes) and under micropython (ROMFS, 64 KiB heap, fewer wakes).
"""
import gc

from coap import codec as C
from errors import ProtocolError, SessionUnknown
from oscore import option_of, protect, unprotect
from oscore.kdf import context
from sec.oscore_channel import OscoreChannel
from state import Store

MS = b"\x01" * 16
SALT = b"\x9e\x7c\xa9\x22\x23\x78\x63\x40"
SECRETS = {"oscore": {"master_secret": "01" * 16, "master_salt": "9e7ca92223786340",
                      "sender_id": "01", "recipient_id": "02"}}


class Cut(BaseException):
    """The power went away during a write (not an Exception: nothing in the firmware may
    catch it, as nothing runs after a real power cut)."""


class Rng:
    """xorshift32: the same sequence under CPython and micropython."""

    def __init__(self, seed):
        self.s = seed or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n


class Board:
    def __init__(self, rng):
        self.rng = rng
        self.rtc = b""
        self.flash = {}
        self.writes_left = -1      # >= 0: power cut at that many more writes

    def _write(self):
        if self.writes_left == 0:
            raise Cut()
        if self.writes_left > 0:
            self.writes_left -= 1

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, b):
        self._write()
        self.rtc = bytes(b)

    def flash_read(self, k):
        return self.flash.get(k)

    def flash_write(self, k, v):
        self._write()
        self.flash[k] = bytes(v)

    def urandom(self, n):
        return bytes(self.rng.below(256) for _ in range(n))

    def ticks_ms(self):
        return 0

    def ticks_diff(self, a, b):
        return a - b


class Server:
    """Answers every request (no replay window: a reused PIV must be caught by the checker,
    not hidden by the server); B.2 responder; can lose its context."""

    def __init__(self):
        self.ctx = None
        self.lost = False

    def handle(self, d):
        m = C.decode(d)
        if m.code == 0 or m.code >= 64:
            return None
        piv, kc, kid = option_of(m)
        if kc is not None and len(kc) == 8:                  # B.2 request #1
            rid = unprotect(context(MS, SALT, b"\x02", kid, kc), m, None, None, False)[1]
            r2 = bytes(b"\xA2" * 4) + d[2:4] + bytes(2)
            c2 = context(MS, SALT, b"\x02", kid, r2 + kc)
            return C.encode(protect(c2, C.Message(C.ACK, C.UNAUTHORIZED, m.mid, m.token),
                                    None, rid, r2)[0])
        if kc is not None and (self.ctx is None or kc != self.ctx.idc):
            self.ctx = context(MS, SALT, b"\x02", kid, kc)   # B.2 request #2
            self.lost = False
        if self.ctx is None or self.lost:
            return C.encode(C.Message(C.ACK, C.UNAUTHORIZED, m.mid, m.token))
        try:
            rid = unprotect(self.ctx, m, None, None, False)[1]
        except ProtocolError:
            # a context the server never confirmed (the device was cut between B.2 and the
            # first verified answer): 4.00 unprotected, the device runs B.2 again
            return C.encode(C.Message(C.ACK, C.BAD_REQUEST, m.mid, m.token))
        return C.encode(protect(self.ctx, C.Message(C.ACK, C.CHANGED, m.mid, m.token),
                                None, rid)[0])


class Net:
    def __init__(self, server, seen, ch_ref):
        self.server = server
        self.seen = seen
        self.ch = ch_ref
        self.q = []
        self.n = 0

    def send(self, d):
        d = bytes(d)
        m = C.decode(d)
        if m.is_request():
            piv, kc, _kid = option_of(m)
            idc = kc if kc is not None else self.ch[0].idc
            h = hash(d)
            p = int.from_bytes(piv, "big")
            e = self.seen.get(idc)
            if e is None:
                e = self.seen[idc] = [-1, []]
            if p <= e[0] and (p, h) not in e[1]:
                # at or below a PIV already used under this context, and not a byte-identical
                # retransmission of a recent request: a reused nonce (or one out of order)
                raise AssertionError("PIV %d reused under ID Context %s" % (p, idc.hex()))
            if p > e[0]:
                e[0] = p
                e[1].append((p, h))
                if len(e[1]) > 8:
                    e[1].pop(0)
            self.n += 1
        r = self.server.handle(d)
        if r is not None:
            self.q.append(r)

    def recv(self, timeout_ms):
        return self.q.pop(0) if self.q else None


def run(wakes, seed=1, log=None):
    """Simulate `wakes` wakes; returns a dict of counts. Raises AssertionError on reuse."""
    rng = Rng(seed)
    board = Board(rng)
    srv = Server()
    seen = {}
    ch_ref = [None]
    n = {"requests": 0, "sleep": 0, "reset": 0, "cut": 0, "cut_in_write": 0, "b2": 0,
         "server_lost": 0, "device_forgot": 0, "checked": 0}
    mid = 0
    cfg = {"seq_rtc_block": 4, "seq_flash_block": 16}     # small blocks: many bound crossings
    for w in range(wakes):
        gc.collect()                   # a wake starts on a fresh heap (one process per wake)
        net = Net(srv, seen, ch_ref)
        k = rng.below(100)
        if k < 3:
            srv.lost = True
            n["server_lost"] += 1
        elif k < 5 and board.flash.get("osc"):
            board.flash["osc"] = b"\x00"
            n["device_forgot"] += 1
        board.writes_left = rng.below(7) if rng.below(3) == 0 else -1
        end = ("sleep", "sleep", "reset", "cut")[rng.below(4)]
        try:
            store = Store(board)
            store.load()
            ch = OscoreChannel(net, store, board, cfg, SECRETS)
            ch_ref[0] = ch
            sec = store.get("sec")
            if sec:
                ch.restore(sec)
            paths = ch.paths()
            i = 0
            while True:
                try:
                    ch.connect(paths[i])
                    if paths[i] == "oscore-b2":
                        n["b2"] += 1
                    break
                except SessionUnknown:
                    ch.forget_path(paths[i])
                    i += 1
            for _ in range(rng.below(4)):
                mid = (mid + 1) & 0xFFFF
                m = C.Message(C.CON, C.POST, mid, bytes((mid & 0xFF,))).set_path("rd/5a3f")
                for _t in range(1 + (rng.below(4) == 0)):      # sometimes a retransmission
                    ch.send(m)
                n["requests"] += 1
                try:
                    r = ch.recv(100)
                    while r is not None and r.code == 0:
                        r = ch.recv(100)
                except SessionUnknown:
                    ch.forget_path("oscore")                   # the next wake runs B.2
                    break
            if end == "sleep":
                ch.settle()
                store.put("sec", ch.save())
                store.commit()
        except Cut:
            n["cut_in_write"] += 1
            end = "cut" if rng.below(2) else "reset"
        board.writes_left = -1
        n["checked"] += net.n
        n[end] += 1
        if end == "cut":
            board.rtc = b""                                   # RTC memory lost, flash kept
        if log and w % 200 == 0:
            log("wake %d %s" % (w, n))
    n["contexts"] = len(seen)
    return n
