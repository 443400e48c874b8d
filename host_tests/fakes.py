"""The test doubles the host tests share (one place: no copies in test files or under tools/).

Runs under CPython and micropython (host_tests/mp/ imports it too: keep it MicroPython-compatible,
and cheap to import: the CoAP codec is loaded only when FakeServer answers a request).

- FakeBoard: the board a Store, a channel or the DM sees, without hardware: RTC memory (2048 B,
  enforced like board/unix.py), flash as a dict (or none), randomness (os.urandom, or
  `zeros`/`Counter()` for predictable bytes), a clock in milliseconds that moves by `tick_ms`
  at every ticks_ms() look (so that no deadline loop waits for real or spins forever) and
  when a test moves `ms`, a power cut, and on demand a FOTA slot (slots()).
- Clock, FakeServer: what a harness security plugin (tools/harness/dtls_server.py,
  oscore_server.py) needs from the LwM2M server: sendto/deliver/clock/log; it answers requests
  like an LwM2M server answers an Update (POST -> 2.04, GET -> 2.05 'hello').
- PipeNet: the client side of an in-process link to such a plugin: datagrams go straight to it,
  with an address that can change (NAT rebinding), loss on demand and a tap on every datagram.
"""
import os


def zeros(n):
    """Predictable 'randomness' for a FakeBoard: n zero bytes."""
    return bytes(n)


class Counter:
    """Predictable, varying 'randomness' for a FakeBoard: each call differs from the last."""

    def __init__(self):
        self.n = 0

    def __call__(self, n):
        self.n += 1
        return bytes((self.n * 7 + i * 13) & 0xFF for i in range(n))


class FakeBoard:
    name = "fake"
    RTC_SIZE = 2048

    def __init__(self, flash=True, rand=None, tick_ms=1, epoch=1800000000, slot=False):
        self.rtc = b""
        self.flash = {} if flash else None      # None: a board whose flash keeps nothing
        self.rand = rand or os.urandom          # n -> bytes
        self.tick_ms = tick_ms
        self.ms = 0                             # the clock: ticks_ms(), now() = epoch + ms / 1000
        self.epoch = epoch
        self.slot = bytearray() if slot else None
        self.active = 0

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, b):
        if len(b) > self.RTC_SIZE:
            raise ValueError("RTC memory too small")
        self.rtc = bytes(b)

    def flash_read(self, k):
        return None if self.flash is None else self.flash.get(k)

    def flash_write(self, k, v):
        if self.flash is not None:
            self.flash[k] = bytes(v)

    def flash_erase(self, k):
        if self.flash is not None:
            self.flash.pop(k, None)

    def urandom(self, n):
        return self.rand(n)

    def ticks_ms(self):
        self.ms += self.tick_ms
        return self.ms

    def ticks_diff(self, a, b):
        return a - b

    def now(self):
        return self.epoch + self.ms // 1000

    def power_cut(self):
        self.rtc = b""

    def slots(self):
        return None if self.slot is None else FakeSlot(self)


class FakeSlot:
    """The spare firmware slot lwm2m/fota.py writes a package to (kept in board.slot)."""

    def __init__(self, board):
        self.b = board

    def erase(self):
        self.b.slot = bytearray()

    def write(self, off, data):
        s = self.b.slot
        if len(s) < off + len(data):
            s.extend(bytes(off + len(data) - len(s)))
        s[off:off + len(data)] = data

    def read(self, off, n):
        return bytes(self.b.slot[off:off + n])


class Clock:
    def __init__(self, t=1798761600.0):
        self.t = t

    def now(self):
        return self.t

    def advance(self, s):
        self.t += s


class FakeServer:
    """What a plugin needs from tools/harness/server.py (LwServer): sendto (kept in `sent` as
    (bytes, addr)), deliver (kept in `delivered` as (peer, msg); requests answered through the
    plugin while `answer` is true), clock, log (kept in `events`)."""

    def __init__(self, t=1798761600.0):
        self.clock = Clock(t)
        self.sent = []
        self.delivered = []
        self.events = []
        self.answer = True

    def sendto(self, data, addr):
        self.sent.append((bytes(data), addr))

    def deliver(self, peer, m):
        from coap import codec as C
        self.delivered.append((peer, m))
        if self.answer and m.is_request():
            code = C.CONTENT if m.code == C.GET else C.CHANGED
            r = C.Message(C.ACK if m.mtype == C.CON else C.NON, code, m.mid, m.token,
                          b"hello" if m.code == C.GET else b"")
            peer.plugin.send_message(peer, r)

    def log(self, kind, **f):
        self.events.append((kind, f))


class PipeNet:
    """Client side of an in-process link to `plugin` (hosted by `server`, a FakeServer)."""

    def __init__(self, server, plugin, addr=("127.0.0.1", 40000)):
        self.server = server
        self.plugin = plugin
        self.addr = addr
        self.inbox = []
        self.up = self.down = self.dg_up = self.dg_down = 0
        self.sizes_up = []
        self.sizes_down = []
        self.drop_up = 0        # drop the next n datagrams client -> server
        self.drop_down = 0
        self.tap = None

    def send(self, data):
        data = bytes(data)
        self.up += len(data)
        self.dg_up += 1
        self.sizes_up.append(len(data))
        if self.tap:
            self.tap(data)
        if self.drop_up:
            self.drop_up -= 1
            return
        n0 = len(self.server.sent)
        self.plugin.datagram_received(data, self.addr)
        for d, a in self.server.sent[n0:]:
            if a == self.addr:
                self.inbox.append(d)
        del self.server.sent[n0:]

    def pull(self):
        """Datagrams the server sent to our address outside of send() (server requests)."""
        for d, a in self.server.sent:
            if a == self.addr:
                self.inbox.append(d)
        self.server.sent = [(d, a) for d, a in self.server.sent if a != self.addr]

    def recv(self, timeout_ms):
        self.pull()
        while self.inbox:
            d = self.inbox.pop(0)
            if self.drop_down:
                self.drop_down -= 1
                continue
            self.down += len(d)
            self.dg_down += 1
            self.sizes_down.append(len(d))
            return d
        return None

    def close(self):
        pass


class PathChan:
    """A security channel as the planner sees it (wake/planner.py): the paths its state allows
    and each path's static estimate (bytes up, bytes down, datagrams, round trips)."""
    EST = {"dtls-reuse": (42, 34, 2, 1), "cid": (47, 34, 2, 1), "resume": (208, 196, 4, 2),
           "full-handshake": (400, 300, 8, 4), "oscore": (27, 16, 2, 1),
           "oscore-b2": (80, 50, 4, 2), "nosec": (13, 5, 2, 1)}

    def __init__(self, paths):
        self._p = paths

    def paths(self):
        return self._p

    def estimate(self, path):
        return self.EST[path]
