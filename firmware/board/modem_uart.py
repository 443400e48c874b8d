"""The UART to the nRF9160 (Serial LTE Modem): machine.UART on a board, a TCP loopback socket to
the modem emulator (tools/modem_emu/) on the unix port.

Both offer write(b) and readinto(mv, timeout_ms) -> n (0 after timeout_ms without a byte), so the
AT driver (net/slm.py) does not know which it has. Nothing here interprets bytes.
Board config (`modem` section of boards/nrf9160.json): uart (id), tx, rx, rts, cts (pins),
baud, flow ("rtscts" or none), rxbuf. On the unix port LWM2M_UART=host:port names the emulator.
"""
import os
import sys


class SockUart:
    """The emulator's loopback TCP socket standing for the UART wires."""

    def __init__(self, addr):
        import socket
        h, p = addr.rsplit(":", 1)
        s = self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(socket.getaddrinfo(h, int(p))[0][-1])

    def write(self, b):
        mv = memoryview(b)
        while len(mv):
            self.s.settimeout(5)
            n = self.s.send(mv)
            mv = mv[n:]

    def readinto(self, mv, timeout_ms):
        s = self.s
        s.settimeout(max(timeout_ms, 1) / 1000)
        try:
            d = s.recv(len(mv))
        except OSError as e:
            if e.args[0] in (11, 110, 116):
                return 0
            raise
        if not d:
            raise OSError(104)        # the emulator went away: a dead UART
        n = len(d)
        mv[:n] = d
        return n

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class MachineUart:
    """machine.UART with hardware flow control (SLM's default on the DKs)."""

    def __init__(self, m):
        import machine
        kw = {"baudrate": m.get("baud", 115200), "rxbuf": m.get("rxbuf", 2048), "timeout": 0}
        for k in ("tx", "rx", "rts", "cts"):
            if m.get(k) is not None:
                kw[k] = m[k]
        if m.get("flow", "rtscts") == "rtscts":
            kw["flow"] = machine.UART.RTS | machine.UART.CTS
        self.u = machine.UART(m.get("uart", 1), **kw)

    def write(self, b):
        self.u.write(b)

    def readinto(self, mv, timeout_ms):
        import time
        u = self.u
        t0 = time.ticks_ms()
        while not u.any():
            if time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                return 0
            time.sleep_ms(2)
        return u.readinto(mv, min(len(mv), u.any())) or 0

    def close(self):
        pass


def open_uart(m):
    if sys.platform in ("linux", "darwin"):
        addr = os.getenv("LWM2M_UART") or m.get("emulator")
        if not addr:
            raise OSError("no LWM2M_UART (host:port of tools/modem_emu)")
        return SockUart(addr)
    return MachineUart(m)
