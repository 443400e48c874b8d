"""An nRF9160 Serial LTE Modem emulator (CPython) for the harness.

The host's UART is a loopback TCP connection (firmware/board/modem_uart.py SockUart): the host
connects at each wake and disconnects when it deep-sleeps; the modem (this object) lives on
across wakes, with its sockets, its DTLS sessions, its registration and its radio state, as a
real nRF9160 does in PSM while its host sleeps.

Speaks dialect A (NCS SLM <= 3.1: #XSOCKET op, #XSOCKETSELECT, #XSENDTO/#XSEND data mode ended by
`+++`, #XPOLL, #XRECVFROM/#XRECV raw) and dialect B (Serial Modem add-on: handles, hex mode,
#XAPOLL, #XCLOSE), plus +CFUN, +CEREG, +CSCON, +CPSMS, %RAI, +CEDRXS, %XSYSTEMMODE, %CMNG,
+CMEE, #XDATACTRL, #XSOCKETOPT (61 RAI), #XSSOCKET / #XSSOCKETOPT (12 session cache, 14 CID) /
#XCONNECT: modem-side DTLS with the firmware's own DTLS client code (it models the modem).
Every datagram goes out of a real UDP socket to `target` (the NAT simulator's inside address),
so the NAT and the byte meter see it as before. Radio state and energy: radio.py.

Fault knobs (set between wakes with `fault(...)`): reset (the modem reboots: sockets, sessions,
registration lost, `Ready` printed), coverage=False (registration lost, sockets closed when the
PDN goes), error={'AT#XSENDTO': n} (n ERROR answers to commands starting so), garble (noise lines
between answers), split (answers written in 1-3 byte pieces), slow_bps (UART speed), storm (URCs
before each answer), echo.

What it does not do: TCP, DNS (hosts must be IPv4 literals), IPv6, GNSS, #XSLEEP, real timing of
the air interface (energy is accounted, not waited for).
"""
import os
import random
import select
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from radio import Radio  # noqa: E402

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def split_args(s):
    """'1,"a,b",,3' -> ['1', 'a,b', '', '3'] with quoted-ness kept apart: [(text, quoted)]."""
    out, cur, q, was_q = [], [], False, False
    for ch in s:
        if ch == '"':
            q = not q
            was_q = True
        elif ch == "," and not q:
            out.append(("".join(cur), was_q))
            cur, was_q = [], False
        else:
            cur.append(ch)
    out.append(("".join(cur), was_q))
    return out


class _Seq:
    def __init__(self):
        self.v = 0

    def take(self):
        self.v += 1
        return self.v - 1

    def start(self, v):
        self.v = v


class Sock:
    def __init__(self, h, kind, role=0):
        self.h = h
        self.kind = kind          # 'udp' | 'dtls'
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.rx = []              # (data, addr)
        self.peer = None
        self.sec_tag = -1
        self.cid = 0
        self.cache = 0
        self.peer_verify = 2
        self.dtls = None          # firmware DtlsClient once connected
        self.apoll = 0
        self.apoll_sent = False
        self.rai = 0

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class ModemEmu:
    def __init__(self, clock, target, dialect="A", profile="lte-m", seed=1, grant=None, log=None,
                 psk=None, reg_delay_real_s=0.05, **radio_over):
        self.clock = clock
        self.target = target
        self.dialect = dialect
        self.radio = Radio(clock, profile, **radio_over)
        self.rng = random.Random(seed)
        self.grant = grant or {}          # {'tau_s': .., 'active_s': ..} the network grants
        self.events = []
        self.logf = log
        self.psks = {}                    # sec_tag -> {3: key hex, 4: identity}
        self.reg_delay = reg_delay_real_s
        self.faults = {"coverage": True, "error": {}, "garble": 0, "split": False, "slow_bps": 0,
                       "storm": 0, "echo": False}
        self.lock = threading.RLock()
        self.conn = None
        self.stop = False
        self.marks = []
        self.stats = {"cmds": 0, "errors": 0, "dg_up": 0, "dg_down": 0, "dropped_psm": 0, "resets": 0,
                      "handshakes": 0}
        self._boot()

    # -- life cycle ------------------------------------------------------------------------------
    def _boot(self):
        self.cfun = 0
        self.stat = 0
        self.cereg_n = 0
        self.cscon_n = 0
        self.cmee = 0
        self.rai_on = 0
        self.sysmode = (1, 0)
        self.psm_req = None
        self.socks = {}
        self.sel = None
        self.datactrl_ms = 50
        self.dm = None                    # data mode: (sock, addr)
        self.pending_urc = []

    def log(self, kind, **f):
        e = dict(t=self.clock.now(), kind=kind, **f)
        self.events.append(e)
        if self.logf:
            self.logf(e)

    def start(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(2)
        self.addr = self.lsock.getsockname()
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()
        return self.addr

    def close(self):
        self.stop = True
        try:
            self.th.join(2)
        except Exception:
            pass
        for s in list(self.socks.values()):
            s.close()
        self.lsock.close()

    def fault(self, **kw):
        """Set fault knobs before a wake. reset=True reboots the modem now."""
        with self.lock:
            if kw.pop("reset", False):
                self.reset()
            for k, v in kw.items():
                self.faults[k] = v
            if not self.faults["coverage"] and self.stat in (1, 5):
                self._lose_registration()
            elif self.faults["coverage"] and self.cfun == 1 and self.stat not in (1, 5):
                self._register()          # coverage is back: the modem registers on its own
                if self.cereg_n and self.stat == 1:
                    self._out(b"\r\n+CEREG: " + self._cereg_body() + b"\r\n", urc=True)

    def reset(self):
        for s in self.socks.values():
            s.close()
        self.radio.power_off()
        self.stats["resets"] += 1
        self.log("modem-reset")
        self._boot()
        self._out(b"Ready\r\n", urc=True)

    def _lose_registration(self):
        self.stat = 2
        self.log("registration-lost", sockets=len(self.socks))
        for s in self.socks.values():      # PDN deactivated: sockets without KEEPOPEN are gone
            s.close()
        self.socks = {}
        self.sel = None
        self.radio.power_off()
        if self.cereg_n:
            self._out(b"\r\n+CEREG: 2\r\n", urc=True)

    def mark(self, label):
        """Start of a wake (energy accounting per wake: this wake and the sleep after it)."""
        with self.lock:
            tot = self.radio.total()
            self.marks.append((label, tot, dict(self.radio.counts)))

    def segments(self):
        """[(label, {cat: mJ}, total mJ, counts)] between consecutive marks."""
        out = []
        for (l0, e0, c0), (_l1, e1, c1) in zip(self.marks, self.marks[1:]):
            d = dict((k, e1[k] - e0[k]) for k in e0)
            out.append((l0, d, sum(d.values()), dict((k, c1[k] - c0[k]) for k in c0)))
        return out

    # -- I/O -------------------------------------------------------------------------------------
    def _out(self, b, urc=False):
        c = self.conn
        if c is None:
            return                         # nobody listens: a URC while the host sleeps is lost
        if self.dm is not None and urc:
            self.pending_urc.append(b)     # buffered until data mode ends
            return
        f = self.faults
        try:
            if f["split"] or f["slow_bps"]:
                i = 0
                while i < len(b):
                    k = self.rng.randint(1, 3) if f["split"] else 16
                    c.sendall(b[i:i + k])
                    i += k
                    if f["slow_bps"]:
                        time.sleep(k * 10.0 / f["slow_bps"])
                    elif f["split"]:
                        time.sleep(0.0005)
            else:
                c.sendall(b)
        except OSError:
            self.conn = None

    def _resp(self, body):
        """An answer: URC storm / noise first if asked, then the info lines and the final result."""
        f = self.faults
        for _ in range(f["storm"]):
            self._out(self.rng.choice([b"\r\n+CSCON: 1\r\n", b"\r\n%XMODEMSLEEP: 2,100400\r\n",
                                       b'\r\n%RAI: "0012BEEF","26295",1,0\r\n',
                                       b'\r\n+CEDRXP: 4,"0101","0101","1011"\r\n']))
        if f["garble"] and self.rng.random() < f["garble"]:
            self._out(b"\r\n\xff\xfe#X@\x00~garbage\r\n" + bytes(self.rng.randrange(33, 127) for _ in range(7)) + b"\r\n")
        self._out(body)

    # -- main loop -------------------------------------------------------------------------------
    def _loop(self):
        buf = bytearray()
        while not self.stop:
            with self.lock:
                rd = [self.lsock] + ([self.conn] if self.conn else []) + \
                     [s.s for s in self.socks.values() if s.s.fileno() >= 0 and not (s.dtls is None and s.kind == "dtls")]
            try:
                r, _, _ = select.select(rd, [], [], 0.05 if self.dm is None else self.datactrl_ms / 1000.0)
            except (OSError, ValueError):
                continue
            with self.lock:
                if not r and self.dm is not None and self.dm[2]:
                    self._dm_flush()                  # the data-mode time limit sends the buffer
                for x in r:
                    if x is self.lsock:
                        c, _ = self.lsock.accept()
                        if self.conn:
                            self.conn.close()
                        self.conn = c
                        buf = bytearray()
                        self.dm = None
                        continue
                    if x is self.conn:
                        try:
                            d = x.recv(4096)
                        except OSError:
                            d = b""
                        if not d:
                            self.conn.close()
                            self.conn = None
                            self.dm = None
                            continue
                        buf.extend(d)
                        buf = self._input(buf)
                        continue
                    for s in list(self.socks.values()):
                        if s.s is x:
                            self._udp_in(s)

    def _udp_in(self, s):
        try:
            d, a = s.s.recvfrom(65535)
        except OSError:
            return
        if not self.radio.reachable():
            self.stats["dropped_psm"] += 1
            self.log("downlink-dropped", h=s.h, n=len(d), why="modem in PSM")
            return
        self.radio.downlink(len(d))
        if s.kind == "dtls":
            try:
                s.dtls._rx(d)
            except Exception as e:   # an alert: the modem's session is gone
                self.log("dtls-closed", h=s.h, why=str(e))
                s.dtls = None
                return
            while s.dtls.rxq:
                s.rx.append((s.dtls.rxq.pop(0), a))
        else:
            s.rx.append((d, a))
        self.stats["dg_down"] += 1
        self._apoll(s)

    def _apoll(self, s):
        # the POLLIN URC fires once; #XRECV/#XRECVFROM (or a new #XAPOLL) re-arms it
        if s.apoll and not s.apoll_sent and s.rx:
            s.apoll_sent = True
            self._out(b"\r\n#XAPOLL: %d,1\r\n" % s.h, urc=True)

    def _input(self, buf):
        if self.faults.get("silent"):      # a hung modem: reads everything, answers nothing
            return bytearray()
        while True:
            if self.dm is not None:
                term = b"+++"
                i = buf.find(term)
                if i < 0:
                    self.dm[2].extend(buf)
                    return bytearray()
                self.dm[2].extend(buf[:i])
                rest = buf[i + 3:]
                self._dm_exit()
                buf = rest
                continue
            # a command line ends at CR or LF (CR, LF, CRLF all accepted)
            i = -1
            for j, ch in enumerate(buf):
                if ch in (13, 10):
                    i = j
                    break
            if i < 0:
                return buf if len(buf) < 8192 else bytearray()
            line = bytes(buf[:i])
            k = i + 1
            if buf[i] == 13 and k < len(buf) and buf[k] == 10:
                k += 1
            buf = buf[k:]
            j = line.find(b"AT")            # garbage before the AT prefix is ignored
            if j < 0:
                continue
            line = line[j:]
            if self.faults["echo"]:
                self._out(line + b"\r\n")
            try:
                self._cmd(line.decode("latin-1"))
            except Exception as e:         # a command the emulator cannot parse: ERROR
                self.log("cmd-error", cmd=line[:60].decode("latin-1"), error=repr(e))
                self._resp(ERROR)

    # -- data mode -------------------------------------------------------------------------------
    def _dm_flush(self):
        s, addr, data = self.dm
        if data:
            self._tx(s, bytes(data), addr)
            self.dm = (s, addr, bytearray())

    def _dm_exit(self):
        s, addr, data = self.dm
        st = 0
        if data:
            st = 0 if self._tx(s, bytes(data), addr) else -1
        self.dm = None
        self._out(b"\r\n#XDATAMODE: %d\r\n" % st)
        for u in self.pending_urc:
            self._out(u)
        self.pending_urc = []

    def _tx(self, s, data, addr):
        if self.stat not in (1, 5) or s.s.fileno() < 0:
            return False
        self.radio.uplink(len(data))
        self.stats["dg_up"] += 1
        if s.kind == "dtls":
            if s.dtls is None:
                return False
            s.dtls.send_app(data)
        else:
            s.s.sendto(data, addr)
        return True

    # -- commands --------------------------------------------------------------------------------
    def _err(self, cme=None):
        self.stats["errors"] += 1
        if cme is not None and self.cmee:
            self._resp(b"\r\n+CME ERROR: %d\r\n" % cme)
        else:
            self._resp(ERROR)

    def _ok(self, *lines):
        self._resp(b"".join(b"\r\n" + ln + b"\r\n" for ln in lines) + OK)

    def _addr(self, host, port):
        return (self.target[0] if host in ("", "localhost") else host, int(port))

    def _cmd(self, c):
        self.stats["cmds"] += 1
        for pre, n in list(self.faults["error"].items()):
            if c.startswith(pre) and n > 0:
                self.faults["error"][pre] = n - 1
                self.log("fault-error", cmd=c[:40])
                return self._err()
        if c in ("AT", "ATE0", "ATE1"):
            if c != "AT":
                self.faults["echo"] = c == "ATE1"
            return self._ok()
        name, _, arg = c.partition("=")
        q = name.endswith("?")
        if q:
            name = name[:-1]
        args = split_args(arg) if arg else []
        a = [x[0] for x in args]
        B = self.dialect == "B"
        h = getattr(self, "c_" + name[2:].replace("+", "P_").replace("#", "H_").replace("%", "C_"), None)
        if h is None:
            return self._err()
        return h(q, a, args, B)

    def c_P_CFUN(self, q, a, args, B):
        if q:
            return self._ok(b"+CFUN: %d" % self.cfun)
        fun = int(a[0])
        if fun not in (0, 1, 4, 20, 21, 44):
            return self._err(cme=50)
        self.cfun = fun
        if fun == 1:
            self._register()
        else:
            if self.stat:
                self.stat = 0
                for s in self.socks.values():
                    s.close()
                self.socks = {}
            self.radio.power_off()
        self._ok()

    def _register(self):
        if not self.faults["coverage"]:
            self.stat = 2
            if self.cereg_n:
                self._out(b"\r\n+CEREG: 2,\"FFFE\",\"FFFFFFFF\",%d,0,0,,\r\n" % self.radio.p["act"], urc=True)
            return
        req_tau, req_act = self.psm_req or (None, None)
        g_tau = self.grant.get("tau_s") or (req_tau if req_tau else 3 * 3600)
        g_act = self.grant.get("active_s") if self.grant.get("active_s") is not None else (req_act if req_act is not None else 6)
        self.radio.tau_s = g_tau if self.radio.psm else 0
        self.radio.active_s = g_act
        self.g_bits = (_bits(g_act, False), _bits(g_tau, True))
        self.stat = 1
        self.radio.register()
        self.log("registered", tau_s=g_tau, active_s=g_act, rat=self.radio.rat)
        if self.reg_delay:
            time.sleep(self.reg_delay)

    def _cereg_body(self):
        if self.stat in (1, 5):
            return b'%d,"0A0B","01020304",%d,,,"%s","%s"' % (self.stat, self.radio.p["act"],
                                                             self.g_bits[0].encode(), self.g_bits[1].encode())
        return b"%d" % self.stat

    def c_P_CEREG(self, q, a, args, B):
        if q:
            return self._ok(b"+CEREG: %d," % self.cereg_n + self._cereg_body())
        self.cereg_n = int(a[0])
        self._ok()

    def c_P_CSCON(self, q, a, args, B):
        if q:
            return self._ok(b"+CSCON: %d,%d" % (self.cscon_n, int(self.radio.rrc)))
        self.cscon_n = int(a[0])
        self._ok()

    def c_P_CMEE(self, q, a, args, B):
        self.cmee = int(a[0]) if a else 0
        self._ok()

    def c_C_XSYSTEMMODE(self, q, a, args, B):
        if q:
            return self._ok(b"%%XSYSTEMMODE: %d,%d,0,0" % self.sysmode)
        if self.cfun == 1:
            return self._err(cme=518)
        self.sysmode = (int(a[0]), int(a[1]))
        self._ok()

    def c_P_CPSMS(self, q, a, args, B):
        if q:
            return self._ok(b"+CPSMS: %d" % int(self.radio.psm))
        if not a or a[0] in ("", "0"):
            self.radio.psm = False
            self.psm_req = None
            return self._ok()
        self.radio.psm = True
        tau = _secs(a[3], True) if len(a) > 3 and a[3] else None
        act = _secs(a[4], False) if len(a) > 4 and a[4] else None
        self.psm_req = (tau, act)
        self.log("psm-requested", tau_s=tau, active_s=act)
        self._ok()

    def c_C_RAI(self, q, a, args, B):
        self.rai_on = int(a[0]) if a else 0
        self._ok()

    def c_P_CEDRXS(self, q, a, args, B):
        self.radio.edrx = a[2] if len(a) > 2 and a[0] in ("1", "2") else None
        self._ok()

    def c_H_XDATACTRL(self, q, a, args, B):
        if q:
            return self._ok(b"#XDATACTRL: %d,50" % self.datactrl_ms)
        self.datactrl_ms = max(50, int(a[0]))
        self._ok()

    def c_C_CMNG(self, q, a, args, B):
        op = int(a[0])
        if op == 1:
            return self._ok(*[b"%%CMNG: %d,%d" % (t, ty) for t, d in self.psks.items() for ty in d])
        tag, typ = int(a[1]), int(a[2])
        if self.cfun in (1, 2, 21):
            return self._err(cme=518)
        if op == 0:
            self.psks.setdefault(tag, {})[typ] = a[3]
            return self._ok()
        if op == 3:
            if typ not in self.psks.get(tag, {}):
                return self._err(cme=513)
            del self.psks[tag][typ]
            return self._ok()
        self._err()

    # sockets -----------------------------------------------------------------------------------
    def _new(self, kind):
        for h in range(8):
            if h not in self.socks:
                s = Sock(h, kind)
                self.socks[h] = s
                self.sel = h
                return s
        return None

    def c_H_XSOCKET(self, q, a, args, B):
        if q:
            if B:
                return self._ok(*[b"#XSOCKET: %d,1,0,2,0" % h for h in self.socks if self.socks[h].kind == "udp"])
            s = self.socks.get(self.sel)
            return self._ok(*([b"#XSOCKET: %d,1,0,2,0" % s.h] if s else []))
        if not B and a[0] == "0":
            s = self.socks.pop(self.sel, None)
            if s is None:
                return self._err()
            s.close()
            self.log("socket-close", h=s.h, sock=s.kind)
            self.sel = max(self.socks) if self.socks else None
            return self._ok(b'#XSOCKET: 0,"closed"')
        if self.stat not in (1, 5) and self.cfun != 1:
            pass      # a socket can be created before registration (it is not used yet)
        s = self._new("udp")
        if s is None:
            return self._err()
        self.log("socket-open", h=s.h)
        self._ok(b"#XSOCKET: %d,2,17" % s.h)

    def c_H_XSSOCKET(self, q, a, args, B):
        if q:
            return self._ok(*[b"#XSSOCKET: %d,1,0,2,%d,0" % (h, s.sec_tag) for h, s in self.socks.items() if s.kind == "dtls"])
        if not B and a[0] == "0":
            return self.c_H_XSOCKET(q, a, args, B)
        if int(a[1]) != 2:
            return self._err()
        s = self._new("dtls")
        if s is None:
            return self._err()
        s.sec_tag = int(a[3])
        s.peer_verify = int(a[4]) if len(a) > 4 and a[4] else 2
        self.log("ssocket-open", h=s.h, sec_tag=s.sec_tag)
        self._ok(b"#XSSOCKET: %d,2,273" % s.h)

    def c_H_XCLOSE(self, q, a, args, B):
        hs = [int(a[0])] if a and a[0] else list(self.socks)
        lines = []
        for h in hs:
            s = self.socks.pop(h, None)
            if s:
                s.close()
                self.log("socket-close", h=s.h, sock=s.kind)
            lines.append(b"#XCLOSE: %d,%d" % (h, 0 if s else -9))
        self._ok(*lines)

    def c_H_XSOCKETSELECT(self, q, a, args, B):
        if q:
            lines = [b"#XSOCKETSELECT: %d,1,0,%d,%d,%d,0" % (h, 2, s.sec_tag, i + 1)
                     for i, (h, s) in enumerate(sorted(self.socks.items()))]
            return self._ok(*(lines + ([b"#XSOCKETSELECT: %d" % self.sel] if self.sel is not None else [])))
        h = int(a[0])
        if h not in self.socks:
            return self._err()
        self.sel = h
        self._ok(b"#XSOCKETSELECT: %d" % h)

    def _sock(self, a, B):
        if B:
            return self.socks.get(int(a[0])), a[1:]
        return self.socks.get(self.sel), a

    def c_H_XSOCKETOPT(self, q, a, args, B):
        s, a = self._sock(a, B)
        if s is None:
            return self._err()
        op, name = int(a[0]), int(a[1])
        if op == 1 and name == 61:
            v = int(a[2])
            s.rai = v
            if v in (1, 2, 3) and self.rai_on:
                self.radio.release_hint()
                self.log("rai", h=s.h, value=v)
            return self._ok()
        if op == 0:
            return self._ok(b"#XSOCKETOPT: %s0" % (b"%d," % s.h if B else b""))
        self._ok()

    def c_H_XSSOCKETOPT(self, q, a, args, B):
        s, a = self._sock(a, B)
        if s is None or s.kind != "dtls":
            return self._err()
        op, name = int(a[0]), int(a[1])
        if op == 1 and name == 14:
            s.cid = int(a[2])
        elif op == 1 and name == 12:
            s.cache = int(a[2])
        elif op == 0 and name == 15:
            st = 3 if s.dtls is not None and s.dtls.conn is not None and getattr(s.dtls.conn, "cid_out", None) else 0
            return self._ok(b"#XSSOCKETOPT: %s%d" % (b"%d," % s.h if B else b"", st))
        self._ok()

    def c_H_XCONNECT(self, q, a, args, B):
        s, a = self._sock(a, B)
        if s is None or self.stat not in (1, 5):
            return self._err()
        s.peer = self._addr(a[0], a[1])
        if s.kind == "dtls":
            if not self._handshake(s):
                return self._err()
        self._ok(b"#XCONNECT: %s1" % (b"%d," % s.h if B else b""))

    def _handshake(self, s):
        """The modem's own DTLS client (the firmware's code run under CPython, as the modem's
        firmware would): PSK from %CMNG at the socket's sec_tag, CID as #XSSOCKETOPT 14 asked."""
        cred = self.psks.get(s.sec_tag, {})
        if 3 not in cred or 4 not in cred:
            self.log("dtls-no-credentials", sec_tag=s.sec_tag)
            return False
        from dtls.client import DtlsClient
        from dtls import DtlsError
        emu = self

        class Net:
            def send(self, d):
                emu.radio.uplink(len(d))
                s.s.sendto(bytes(d), s.peer)

            def recv(self, ms):
                s.s.settimeout(max(ms, 1) / 1000.0)
                try:
                    d, _ = s.s.recvfrom(65535)
                except (socket.timeout, BlockingIOError):
                    return None
                finally:
                    s.s.settimeout(None)
                emu.radio.downlink(len(d))
                return d

        c = DtlsClient(Net(), os.urandom, cred[4], bytes.fromhex(cred[3]), cid=54 if s.cid else None,
                       rto_ms=400, max_tries=4)
        c.seq = _Seq()
        self.stats["handshakes"] += 1
        try:
            c.handshake(resume=False)
            c.send_app()
        except (DtlsError, OSError, Exception) as e:
            self.log("dtls-handshake-failed", h=s.h, error=repr(e))
            return False
        s.dtls = c
        self.log("dtls-handshake", h=s.h, cid=bool(s.cid))
        return True

    def c_H_XSENDTO(self, q, a, args, B):
        if B:
            s = self.socks.get(int(a[0]))
            mode, host, port = int(a[1]), a[3], a[4]
            data = a[5] if len(a) > 5 else None
        else:
            s = self.socks.get(self.sel)
            mode, host, port = 0, a[0], a[1]
            data = a[2] if len(a) > 2 and a[2] else None
        if s is None:
            return self._err()
        addr = self._addr(host, port)
        return self._send(s, addr, mode, data, B, "#XSENDTO")

    def c_H_XSEND(self, q, a, args, B):
        if B:
            s = self.socks.get(int(a[0]))
            mode = int(a[1])
            data = a[3] if len(a) > 3 else None
        else:
            s = self.socks.get(self.sel)
            mode, data = 0, (a[0] if a and a[0] else None)
        if s is None or s.peer is None:
            return self._err()
        return self._send(s, s.peer, mode, data, B, "#XSEND")

    def _send(self, s, addr, mode, data, B, name):
        if mode == 2 or data is None:      # data mode
            self.dm = (s, addr, bytearray())
            return self._ok()
        raw = bytes.fromhex(data) if mode == 1 else data.encode("latin-1")
        if not self._tx(s, raw, addr):
            return self._err()
        if B:
            return self._ok(b"%s: %d,0,%d" % (name.encode(), s.h, len(raw)))
        self._ok(b"%s: %d" % (name.encode(), len(raw)))

    def c_H_XPOLL(self, q, a, args, B):
        if B:
            return self._err()
        ms = int(a[0])
        hs = [int(x) for x in a[1:]] or list(self.socks)
        dl = time.monotonic() + max(ms, 0) / 1000.0
        # answer at once if data waits; else wait (without the lock) for a datagram
        while True:
            ready = [h for h in hs if h in self.socks and self.socks[h].rx]
            if ready or time.monotonic() >= dl:
                break
            self.lock.release()
            try:
                socks = [self.socks[h].s for h in hs if h in self.socks and self.socks[h].s.fileno() >= 0]
                r, _, _ = select.select(socks, [], [], max(0, min(0.05, dl - time.monotonic())))
            finally:
                self.lock.acquire()
            for x in r:
                for s in list(self.socks.values()):
                    if s.s is x:
                        self._udp_in(s)
        self._ok(*[b'#XPOLL: %d,"0x0001"' % h for h in ready])

    def c_H_XAPOLL(self, q, a, args, B):
        hs = [int(a[0])] if a and a[0] else list(self.socks)
        op = int(a[1]) if B else int(a[0])
        for h in hs:
            s = self.socks.get(h)
            if s:
                s.apoll = op
                s.apoll_sent = False
        self._ok()
        for h in hs:
            s = self.socks.get(h)
            if s:
                self._apoll(s)

    def _recv(self, a, B, name):
        if B:
            s = self.socks.get(int(a[0]))
            mode = int(a[1])
        else:
            s = self.socks.get(self.sel)
            mode = 0
        if s is None:
            return self._err()
        if not s.rx:
            return self._err()          # EAGAIN: only ERROR
        d, addr = s.rx.pop(0)
        body = d.hex().encode() if mode == 1 else d
        if name == "#XRECVFROM":
            hd = (b'#XRECVFROM: %d,%d,%d,"%s",%d' % (s.h, mode, len(d), addr[0].encode(), addr[1]) if B
                  else b'#XRECVFROM: %d,"%s",%d' % (len(d), addr[0].encode(), addr[1]))
        else:
            hd = b"#XRECV: %d,%d,%d" % (s.h, mode, len(d)) if B else b"#XRECV: %d" % len(d)
        self._resp(b"\r\n" + hd + b"\r\n" + body + OK)
        s.apoll_sent = False
        self._apoll(s)

    def c_H_XRECVFROM(self, q, a, args, B):
        return self._recv(a, B, "#XRECVFROM")

    def c_H_XRECV(self, q, a, args, B):
        return self._recv(a, B, "#XRECV")


def _secs(bits, ext):
    u, v = int(bits[:3], 2), int(bits[3:], 2)
    t = (600, 3600, 36000, 2, 30, 60, 1152000, 0) if ext else (2, 60, 360, 0, 0, 0, 0, 0)
    return t[u] * v


def _bits(sec, ext):
    t = (600, 3600, 36000, 2, 30, 60, 1152000) if ext else (2, 60, 360)
    best = None
    for u in range(len(t)):
        v = -(-sec // t[u])
        if v <= 31 and (best is None or v * t[u] < best[0]):
            best = (v * t[u], u, v)
    return "{:03b}{:05b}".format(best[1], best[2])
