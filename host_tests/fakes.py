"""In-process doubles to run the firmware DTLS client against the harness DTLS plugin under
CPython, without sockets: a fake LwM2M server (sendto/deliver/clock/log), a fake board (RTC
memory, flash, randomness) and a net that hands datagrams straight to the plugin, with an
address that can change (NAT rebinding), loss on demand and a tap on every datagram."""
import os

from coap import codec as C


class Clock:
    def __init__(self, t=1798761600.0):
        self.t = t

    def now(self):
        return self.t

    def advance(self, s):
        self.t += s


class FakeServer:
    """What a plugin needs from tools/harness/server.py; answers requests like an LwM2M server
    would an Update (POST -> 2.04, GET -> 2.05 'hello')."""

    def __init__(self):
        self.clock = Clock()
        self.sent = []          # (bytes, addr)
        self.delivered = []     # (peer, msg)
        self.events = []
        self.answer = True

    def sendto(self, data, addr):
        self.sent.append((bytes(data), addr))

    def deliver(self, peer, m):
        self.delivered.append((peer, m))
        if self.answer and m.is_request():
            code = C.CONTENT if m.code == C.GET else C.CHANGED
            r = C.Message(C.ACK if m.mtype == C.CON else C.NON, code, m.mid, m.token,
                          b"hello" if m.code == C.GET else b"")
            peer.plugin.send_message(peer, r)

    def log(self, kind, **f):
        self.events.append((kind, f))


class FakeBoard:
    def __init__(self):
        self.rtc = b""
        self.flash = {}

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, b):
        if len(b) > 2048:
            raise ValueError("RTC memory too small")
        self.rtc = bytes(b)

    def flash_read(self, k):
        return self.flash.get(k)

    def flash_write(self, k, v):
        self.flash[k] = bytes(v)

    def urandom(self, n):
        return os.urandom(n)

    def power_cut(self):
        self.rtc = b""


class PipeNet:
    """Client side of an in-process link to `plugin` (hosted by `server`)."""

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
