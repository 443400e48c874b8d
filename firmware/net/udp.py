"""UDP transport to one server: send a datagram, wait for one with a timeout, count bytes.

The socket is connect()ed to the server, so the kernel drops datagrams from anyone else and a
receive allocates no source address. It is read with recv(1280), not readinto() on a buffer
allocated once: MicroPython's stream readinto() keeps reading until the buffer is full, so it
blocks (or, non-blocking, concatenates every queued datagram into one). recv() allocates the
1280 bytes in C and frees them at once (m_del), keeping only a bytes copy of what was read.
That one allocation needs 1280 contiguous bytes, which a fragmented heap late in a wake may not
have although several KiB are free: main.py's gc.threshold() keeps the heap in few pieces (a
1280-byte reserve dropped on MemoryError was tried as well: it cost more than it saved).
A connected UDP socket reports an ICMP port-unreachable as ECONNREFUSED on the next call
(Linux): recv() treats it as silence and goes on waiting for the rest of timeout_ms, so the
retransmissions keep RFC 7252's spacing (a closed port is not an answer: issue #11); send()
tries once more. An unresolvable host or a socket that cannot be opened is NetworkDown. Timeouts: EAGAIN 11 or ETIMEDOUT
110 (unix port), ETIMEDOUT 110/116 (ESP32).
What it does not do: retransmit or interpret payloads (the security channel and CoAP do).
The same interface is offered by test doubles: send(data), recv(timeout_ms) -> bytes or None,
close(), local(), and the counters up, down, dg_up, dg_down.
"""
import socket
import time

from errors import NetworkDown

_QUIET = (11, 110, 111, 116)   # EAGAIN, ETIMEDOUT, ECONNREFUSED; ETIMEDOUT in newlib (ESP32)
_MAX = 1280                     # every input is capped at the IPv6 minimum MTU


class Udp:
    def __init__(self, host, port, local_port=0):
        self.up = self.down = self.dg_up = self.dg_down = 0
        self.dst = (host, port)        # sec/dtls_channel.py rebinds: __init__ again
        try:
            s = self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if local_port:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                except (OSError, AttributeError):
                    pass
            s.bind(socket.getaddrinfo("0.0.0.0", local_port)[0][-1])
            s.connect(socket.getaddrinfo(host, port)[0][-1])
        except OSError as e:
            raise NetworkDown("udp: %s" % e)

    def send(self, data):
        for i in (0, 1):
            try:
                self.sock.send(data)
                break
            except OSError as e:
                if i or e.args[0] != 111:    # a pending ICMP error is reported once
                    raise NetworkDown("udp send: %s" % e)
        self.up += len(data)
        self.dg_up += 1

    def recv(self, timeout_ms):
        """One datagram from the server, or None after timeout_ms."""
        s = self.sock
        end = time.ticks_add(time.ticks_ms(), max(timeout_ms, 1))
        while True:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                return None
            s.settimeout(left / 1000)
            try:
                d = s.recv(_MAX)
                break
            except OSError as e:
                if e.args[0] == 111:      # ICMP unreachable: wait out the timeout
                    continue
                if e.args[0] in _QUIET:
                    return None
                raise NetworkDown("udp recv: %s" % e)
        self.down += len(d)
        self.dg_down += 1
        return d

    def local(self):
        try:
            return self.sock.getsockname()
        except (OSError, AttributeError):
            return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
