"""socket for recorded and replayed wakes (tools/wasm; not firmware): net/udp.py runs unmodified
on top of it.

Unix port (recording): a real UDP socket; every datagram sent, every datagram received (with
the milliseconds waited) and every timeout is appended to the recording (LWM2M_REC), one line
each: 'U <hex>', 'D <ms> <hex>', 'E <ms> <errno>' (a receive that timed out or failed),
'S <errno> <hex>' (a send that failed). Webassembly port (replay): the JS host (`host` module,
tools/wasm/replay.mjs) hands out the recorded downlink and checks each uplink byte for byte.
Nothing is kept in the Python heap: lines are appended and the file closed at once.
"""
import sys
import vtime
from binascii import hexlify

AF_INET = 2
SOCK_DGRAM = 2
SOL_SOCKET = 1
SO_REUSEADDR = 2
REC = None      # recording file (unix port)
if sys.platform == "webassembly":
    import host
    _real = None
else:
    import socket as _real


def _log(line):
    f = open(REC, "a")
    f.write(line + "\n")
    f.close()


def getaddrinfo(h, p, *a):
    if _real:
        return _real.getaddrinfo(h, p)
    return [(2, 2, 0, "", (h, p))]


class socket:
    def __init__(self, af=2, t=2):
        self.s = _real.socket(af, t) if _real else None
        self.t = 1000

    def setsockopt(self, *a):
        if self.s:
            self.s.setsockopt(*a)

    def bind(self, a):
        if self.s:
            self.s.bind(a)

    def connect(self, a):
        if self.s:
            self.s.connect(a)

    def settimeout(self, t):
        self.t = int(t * 1000)
        if self.s:
            self.s.settimeout(t)

    def getsockname(self):
        return ("0.0.0.0", 0)

    def close(self):
        if self.s:
            self.s.close()

    def send(self, d):
        if self.s:
            try:
                n = self.s.send(d)
            except OSError as e:
                _log("S %d %s" % (e.args[0], hexlify(d).decode()))
                raise
            _log("U " + hexlify(d).decode())
            return n
        r = host.tx(hexlify(d).decode())
        if r:
            raise OSError(int(r))
        return len(d)

    def recv(self, n):
        ms = self.t
        if self.s:
            t0 = vtime.real_ms()
            try:
                d = self.s.recv(n)
            except OSError as e:
                w = vtime.real_diff(vtime.real_ms(), t0)
                if e.args[0] in (11, 110) or w > ms:
                    w = ms
                _log("E %d %d" % (w, e.args[0]))
                vtime.adv(w)
                raise
            w = min(vtime.real_diff(vtime.real_ms(), t0), ms)
            _log("D %d %s" % (w, hexlify(d).decode()))
            vtime.adv(w)
            return d
        r = host.rx(ms).split(" ")
        vtime.adv(int(r[1]))
        if r[0] == "E":
            raise OSError(int(r[2]))
        return bytes.fromhex(r[2])
