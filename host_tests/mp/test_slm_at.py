# The SLM AT driver (firmware/net/slm.py) against the transcripts of
# ../shared/specs/serial-modem-at.md, driven through a scripted UART double: split lines, URCs
# between a command and its answer, echo, ERROR / +CME ERROR, a silent modem, binary payloads
# holding CR LF, '"', ',', '+++' and NUL, and a bounded fuzz of noise around the answers.
# Runs under CPython and micropython (plain asserts).
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


def test_fields_and_timers():
    assert fields(b'1,"0A0B","01020304",9,,,"00100110","01011111"') == \
        [b"1", b"0A0B", b"01020304", b"9", b"", b"", b"00100110", b"01011111"]
    assert fields(b'7,"a,b",3') == [b"7", b"a,b", b"3"]
    assert timer_s("00100110") == 6 * 3600          # T3412-ext: unit 1 h x 6
    assert timer_s("10101010") == 10 * 60           # the guide's example: 10 min
    assert timer_s("00100001", False) == 60         # T3324: 1 min
    assert timer_s("11100000") == -1                # deactivated


def test_open_keeps_the_socket_and_reads_the_granted_timers():
    n, modem, st = _net(mdm=_MDM_UP)
    assert n.h == 1 and "socket-kept" in n.events
    # the read form: <n>,<stat>,...,"<Active-Time>","<Periodic-TAU-ext>"
    assert n.stat == 1 and n.act == 6 * 60 and n.tau == 31 * 36000
    assert "AT#XSOCKET=1,2,0" not in modem.cmds       # no new socket: the modem kept it


def test_binary_datagram_round_trip_dialect_a():
    n, modem, st = _net(mdm=_MDM_UP)
    d = b'\x00\r\nOK\r\n"q",\xff#XRECVFROM: 9\r\n'
    modem.rx.append(d)
    assert n.recv(500) == d                          # read by count, not by line
    assert n.down == len(d) and n.dg_down == 1
    n.send(b'"a","b",\r\n\x00')                      # quotes and commas in data mode
    assert modem.sent == [b'"a","b",\r\n\x00'] and n.dg_up == 1


def test_terminator_in_a_datagram_is_refused_not_corrupted():
    n, modem, st = _net(mdm=_MDM_UP)
    n.send(b"ab+++cd")
    n.send(b"ends with +")
    assert modem.sent == [] and n.unsendable == 2 and n.dg_up == 0
    assert not [c for c in modem.cmds if c.startswith("AT#XSENDTO")]


def test_split_lines_urcs_and_echo():
    def noise():
        return b'\r\n%XMODEMSLEEP: 1,36000\r\n\r\n+CSCON: 0\r\n\r\n+CEREG: 1,"0A0B","01020304",9,,,"00000001","00000110"\r\n'
    n, modem, st = _net(mdm=_MDM_UP, chunk=1, echo=True, noise=noise)
    assert n.h == 1
    assert n.tau == 3600 and n.act == 2     # the last +CEREG URC before the read answer... or the read
    modem.rx.append(b"\x01\x02")
    assert n.recv(500) == b"\x01\x02"


def test_error_and_cme_error_are_network_down_with_the_command():
    def ans(c, m):
        if c == "AT#XSOCKETSELECT?":
            return b"\r\n+CME ERROR: 518\r\n"
        return slm_a(c, m)
    try:
        _net(ans, mdm=_MDM_UP)
        assert False, "no error"
    except NetworkDown as e:
        assert "AT#XSOCKETSELECT?" in str(e) and "518" in str(e)
    n, modem, st = _net(mdm=_MDM_UP)
    modem.answers = lambda c, m: b"\r\nERROR\r\n" if c.startswith("AT#XPOLL") else slm_a(c, m)
    try:
        n.recv(100)
        assert False
    except NetworkDown as e:
        assert "poll" in str(e)
    assert n.h == -1                  # the socket is considered gone: a new one next wake


def test_silent_modem_is_bounded():
    t0 = ticks_ms()
    try:
        _net(lambda c, m: None, mdm=_MDM_UP)
        assert False
    except NetworkDown as e:
        assert "silent" in str(e)
    assert ticks_diff(ticks_ms(), t0) < 5000


def test_no_registration_is_network_down():
    def ans(c, m):
        if c == "AT+CEREG?":
            return b"\r\n+CEREG: 5,2,\"FFFE\",\"FFFFFFFF\",7,0,0,,\r\n" + OK
        return slm_a(c, m)
    try:
        _net(ans, mdm=_MDM_UP)
        assert False
    except NetworkDown as e:
        assert "registered" in str(e)


def test_modem_reset_detected_and_link_configured():
    def ans(c, m):
        if c == "AT+CFUN?":
            return b"\r\n+CFUN: %d\r\n" % m.cfun + OK
        if c.startswith("AT+CFUN="):
            m.cfun = int(c[8:])
            return OK
        if c == "AT#XSOCKETSELECT?":
            return OK                          # no socket survived the reset
        if c.startswith("AT+C") or c.startswith("AT%") or c.startswith("AT#XDATACTRL"):
            return OK
        return slm_a(c, m)
    modem_cfun = 0
    n, modem, st = _net(lambda c, m: ans(c, m) if hasattr(m, "cfun") else (setattr(m, "cfun", modem_cfun) or ans(c, m)),
                        mdm=_MDM_UP)
    assert "modem-reset" in n.events and n.resets == 1
    assert "AT+CFUN=4" in modem.cmds and "AT+CFUN=1" in modem.cmds and "AT+CEREG=5" in modem.cmds
    assert [c for c in modem.cmds if c.startswith("AT+CPSMS=1")]
    assert n.h == 1 and "socket-opened" in n.events and n.flags & _UP


def test_dialect_b_hex_is_binary_safe():
    seen = []

    def ans(c, m):
        if c == "AT":
            return OK
        if c == "AT+CFUN?":
            return b"\r\n+CFUN: 1\r\n" + OK
        if c == "AT+CEREG?":
            return CEREG_READ
        if c == "AT#XSOCKET?":
            return b"\r\n#XSOCKET: 0,1,0,2,0\r\n" + OK
        if c.startswith("AT#XSENDTO=0,1,0,"):
            hx = c.split(",")[-1].strip('"')
            seen.append(binascii.unhexlify(hx))
            return b"\r\n#XSENDTO: 0,0,%d\r\n" % (len(hx) // 2) + OK
        if c.startswith("AT#XAPOLL="):
            return OK + b"\r\n#XAPOLL: 0,1\r\n"
        if c.startswith("AT#XRECVFROM=0,1,"):
            d = m.rx.pop(0)
            h = binascii.hexlify(d)
            return b'\r\n#XRECVFROM: 0,1,%d,"192.168.1.100",24210\r\n' % len(d) + h + OK
        if c.startswith("AT#XSOCKETOPT="):
            return OK
        return b"\r\nERROR\r\n"
    mdm = b"\x01\x00\x01\x00\x00\x2a\x30\x00\x00\x00\x02\x00\x00\xff"   # handle 0
    n, modem, st = _net(ans, mdm=mdm, m={"dialect": "B"}, eol=b"\r", chunk=5)
    d = bytes(range(256)) + b'+++"," \r\n'
    n.send(d)
    assert seen == [d]
    modem.rx.append(d)
    assert n.recv(500) == d


def test_fuzz_noise_never_crashes():
    # bounded: 60 opens with random noise lines and bytes before each answer; every outcome is
    # a socket handle or NetworkDown, never another exception
    seed = [12345]

    def rnd(k):
        seed[0] = (seed[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return seed[0] % k

    def noise():
        b = bytearray()
        for _ in range(rnd(4)):
            b.extend(bytes(rnd(256) for _ in range(rnd(40))))
            b.extend(b"\r\n")
        return bytes(b)
    ok = down = 0
    for i in range(60):
        try:
            n, modem, st = _net(mdm=_MDM_UP, noise=noise, chunk=1 + rnd(7), m={"sync_ms": 150})
            ok += 1
        except NetworkDown:
            down += 1
    assert ok + down == 60 and ok > 0


def test_old_slm_without_ok_on_data_mode_entry():
    # SLM <= 2.x sends no OK when entering data mode (modem.dm_ok false): the datagram still goes
    def ans(c, m):
        if c.startswith("AT#XSENDTO="):
            m.dm = bytearray()
            return None
        return slm_a(c, m)
    n, modem, st = _net(ans, mdm=_MDM_UP, m={"dm_ok": False})
    n.send(b'x,"y"')
    assert modem.sent == [b'x,"y"'] and n.dg_up == 1
