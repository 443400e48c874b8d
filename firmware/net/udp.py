"""UDP transport to one server: send a datagram, wait for one with a timeout, count bytes.

What it does not do: retransmit or interpret payloads (the security channel and CoAP do).
The same interface is offered by net/modem.py (nRF9160 SLM over UART AT commands) and by
test doubles: send(data), recv(timeout_ms) -> bytes or None, close(), and the counters.
"""
import socket
import errno

from errors import NetworkDown

_MAX_DGRAM = 1280  # cap every input: nothing we speak needs more (IPv6 minimum MTU)


class Udp:
    def __init__(self, host, port, local_port=0):
        self.host = host
        self.port = port
        self.up = 0
        self.down = 0
        self.dg_up = 0
        self.dg_down = 0
        try:
            self.addr = socket.getaddrinfo(host, port)[0][-1]
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if local_port:
                try:
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                except (OSError, AttributeError):
                    pass
            self.sock.bind(socket.getaddrinfo("0.0.0.0", local_port)[0][-1])
        except OSError as e:
            raise NetworkDown("udp: %s" % e)

    def send(self, data):
        try:
            self.sock.sendto(data, self.addr)
        except OSError as e:
            raise NetworkDown("udp send: %s" % e)
        self.up += len(data)
        self.dg_up += 1

    def recv(self, timeout_ms):
        """One datagram from the server, or None after timeout_ms. Others are dropped."""
        if timeout_ms <= 0:
            timeout_ms = 1
        self.sock.settimeout(timeout_ms / 1000)
        while True:
            try:
                data, src = self.sock.recvfrom(_MAX_DGRAM)
            except OSError as e:
                if e.args and e.args[0] in (errno.EAGAIN, errno.ETIMEDOUT, 110, 11):
                    return None
                raise NetworkDown("udp recv: %s" % e)
            if src != self.addr and not _same(src, self.addr):
                continue  # not from our server: ignore
            self.down += len(data)
            self.dg_down += 1
            return data

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


def _same(a, b):
    # MicroPython returns raw sockaddr bytes; compare the port/address part.
    try:
        return bytes(a) == bytes(b)
    except TypeError:
        return a == b
