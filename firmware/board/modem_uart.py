"""The UART to the nRF9160 (Serial LTE Modem) on a board: machine.UART with RTS/CTS.
(On the unix port net/slm.py talks to tools/modem_emu over a loopback TCP socket instead.)

Offers write(b) and readinto(mv, timeout_ms) -> n (0 after timeout_ms without a byte).
Nothing here interprets bytes.
Board config (`modem` section of boards/nrf9160.json): uart (id), tx, rx, rts, cts (pins),
baud, flow ("rtscts" or none), rxbuf. On the unix port LWM2M_UART=host:port names the emulator.
"""


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
    return MachineUart(m)
