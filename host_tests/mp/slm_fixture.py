# Helpers for the SLM AT driver tests (test_slm_at*.py): a scripted UART double that answers AT
# commands like the spec's transcripts (../shared/specs/serial-modem-at.md), in pieces, with
# echo or noise on demand; a board and a store double.
import binascii
import time

from errors import NetworkDown
from net.slm import SlmNet, fields, timer_s, _UP

try:
    from time import ticks_ms, ticks_diff
except ImportError:
    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


def _sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


class Board:
    def ticks_ms(self):
        return ticks_ms()

    def ticks_diff(self, a, b):
        return ticks_diff(a, b)


class Store:
    def __init__(self, mdm=None):
        self.d = {"mdm": mdm} if mdm else {}

    def get(self, k):
        return self.d.get(k)

    def put(self, k, v):
        self.d[k] = v


class Modem:
    """A scripted SLM: answers(cmd) -> bytes; pieces of `chunk` bytes at a time; data mode for
    dialect A (bytes until '+++', then '#XDATAMODE: 0')."""

    def __init__(self, answers, chunk=64, echo=False, noise=None, eol=b"\r\n"):
        self.answers = answers
        self.chunk = chunk
        self.echo = echo
        self.noise = noise          # callable() -> bytes put before every answer
        self.out = bytearray()
        self.inp = bytearray()
        self.cmds = []
        self.dm = None
        self.sent = []              # datagrams that left data mode / hex commands
        self.eol = eol

    def write(self, b):
        self.inp.extend(b)
        while True:
            if self.dm is not None:
                i = self.inp.find(b"+++")
                if i < 0:
                    return
                self.dm.extend(self.inp[:i])
                self.inp = self.inp[i + 3:]
                self.sent.append(bytes(self.dm))
                self.dm = None
                self.out.extend(b"\r\n#XDATAMODE: 0\r\n")
                continue
            i = self.inp.find(self.eol)
            if i < 0:
                return
            c = bytes(self.inp[:i]).decode()
            self.inp = self.inp[i + len(self.eol):]
            self.cmds.append(c)
            if self.echo:
                self.out.extend(c.encode() + b"\r\n")
            if self.noise:
                self.out.extend(self.noise())
            a = self.answers(c, self)
            if a is not None:
                self.out.extend(a)

    def readinto(self, mv, ms):
        if not self.out:
            _sleep_ms(1)
            return 0
        n = min(len(self.out), self.chunk, len(mv))
        mv[:n] = self.out[:n]
        self.out = self.out[n:]
        return n


OK = b"\r\nOK\r\n"
CEREG_READ = b'\r\n+CEREG: 5,1,"0A0B","01020304",9,,,"00100110","01011111"\r\n' + OK


def slm_a(c, m):
    """Dialect A answers from the spec's transcripts."""
    if c == "AT":
        return OK
    if c == "AT+CFUN?":
        return b"\r\n+CFUN: 1\r\n" + OK
    if c == "AT+CEREG?":
        return CEREG_READ
    if c == "AT#XSOCKET=1,2,0":
        return b"\r\n#XSOCKET: 1,2,17\r\n" + OK
    if c == "AT#XSOCKETSELECT?":
        return b"\r\n#XSOCKETSELECT: 1,1,0,2,-1,1,0\r\n\r\n#XSOCKETSELECT: 1\r\n" + OK
    if c.startswith("AT#XSENDTO="):
        m.dm = bytearray()
        return OK
    if c.startswith("AT#XPOLL="):
        return b'\r\n#XPOLL: 1,"0x0001"\r\n' + OK
    if c.startswith("AT#XRECVFROM="):
        d = m.rx.pop(0)
        return b'\r\n#XRECVFROM: %d,"192.168.1.100",24210\r\n' % len(d) + d + OK
    if c.startswith("AT#XSOCKETOPT="):
        return OK
    return b"\r\nERROR\r\n"


def _net(answers=slm_a, mdm=None, m=None, **kw):
    modem = Modem(answers, **kw)
    modem.rx = []
    cfg = {"dialect": "A", "sync_ms": 300, "reg_timeout_ms": 300, "dm_guard_ms": 1}
    cfg.update(m or {})
    st = Store(mdm)
    n = SlmNet("192.0.2.1", 5683, Board(), st, cfg, uart=modem)
    return n, modem, st


_MDM_UP = b"\x01\x01\x01\x00\x00\x2a\x30\x00\x00\x00\x02\x00\x00\xff"   # configured, handle 1


