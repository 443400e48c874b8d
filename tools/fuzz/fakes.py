"""Test doubles for the fuzz targets: a board on a virtual clock (no real sleeping), a store with
state.Store's interface kept in dicts, a network that hands out datagrams cut from the input."""


class Board:
    name = "fuzz"

    def __init__(self):
        self.rtc = None
        self.flash = {}
        self.t = 1798761600.0
        self.ms = 0
        self.cfg = {}

    def now(self):
        return self.t + self.ms / 1000

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return a - b

    def urandom(self, n):
        return bytes(range(7, 7 + n)) if n < 240 else bytes(n)

    def temperature(self):
        return 21.5

    def battery(self):
        return 87

    def mem_free(self):
        return 40000

    def bearer(self):
        return 21

    def rssi(self):
        return -67

    def ip_address(self):
        return "127.0.0.1"

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, b):
        if len(b) > 2048:
            raise ValueError("RTC memory is 2048 bytes")
        self.rtc = bytes(b)

    def flash_read(self, key):
        return self.flash.get(key)

    def flash_write(self, key, data):
        self.flash[key] = bytes(data)

    def local_port(self):
        return 0


class Net:
    """send() records, recv() hands out the next datagram; an empty queue is silence that
    advances the virtual clock by the whole timeout."""

    def __init__(self, board, dgs):
        self.board = board
        self.q = list(dgs)
        self.sent = []
        self.up = self.down = self.dg_up = self.dg_down = 0

    def send(self, d):
        self.sent.append(bytes(d))
        self.up += len(d)
        self.dg_up += 1

    def recv(self, timeout_ms):
        if not self.q:
            self.board.ms += max(int(timeout_ms), 1)
            return None
        self.board.ms += 1
        d = self.q.pop(0)
        self.down += len(d)
        self.dg_down += 1
        return d

    def close(self):
        pass

    def local(self):
        return None


def split(d, n=8):
    """Cut an input into up to n datagrams: a length byte before each (0 = the rest)."""
    out = []
    i = 0
    while i < len(d) and len(out) < n:
        k = d[i]
        i += 1
        if k == 0:
            out.append(d[i:])
            break
        out.append(d[i:i + k])
        i += k
    return out


def join(dgs):
    b = bytearray()
    for i, d in enumerate(dgs):
        if i == len(dgs) - 1 or len(d) > 255 or not d:
            b.append(0)
            b.extend(d)
            break
        b.append(len(d))
        b.extend(d)
    return bytes(b)
