"""Model of the ESP32 port's `socket` (lwIP; docs/library/socket.rst): the unix port's sockets
underneath, with the errors an ESP32 raises: a receive timeout is OSError(ETIMEDOUT), 116 in the
ESP-IDF's newlib errno numbering (the unix port says EAGAIN 11)."""
import sys

_p = sys.path[:]
sys.path.clear()
try:
    import socket as _s
finally:
    sys.path.extend(_p)
del _p

AF_INET = _s.AF_INET
SOCK_DGRAM = _s.SOCK_DGRAM
SOCK_STREAM = _s.SOCK_STREAM
SOL_SOCKET = _s.SOL_SOCKET
SO_REUSEADDR = _s.SO_REUSEADDR
IPPROTO_UDP = 17
ETIMEDOUT = 116
getaddrinfo = _s.getaddrinfo


def _err(e):
    code = e.args[0] if e.args else 0
    return OSError(ETIMEDOUT) if code in (11, 110) else e


class socket:
    def __init__(self, af=AF_INET, kind=SOCK_STREAM, proto=0):
        self._s = _s.socket(af, kind, proto)

    def recv(self, n):
        try:
            return self._s.recv(n)
        except OSError as e:
            raise _err(e)

    def recvfrom(self, n):
        try:
            return self._s.recvfrom(n)
        except OSError as e:
            raise _err(e)

    def settimeout(self, t):
        self._s.settimeout(t)

    def setsockopt(self, *a):
        self._s.setsockopt(*a)

    def bind(self, a):
        self._s.bind(a)

    def connect(self, a):
        self._s.connect(a)

    def send(self, b):
        return self._s.send(b)

    def sendto(self, b, a):
        return self._s.sendto(b, a)

    def close(self):
        self._s.close()

    def setblocking(self, f):
        self._s.setblocking(f)
