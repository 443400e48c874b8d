"""Datagrams to one server through an nRF9160 running the Serial LTE Modem (SLM), over its AT
commands on a UART: the same interface as net/udp.py (send, recv(timeout_ms), close, counters
up/down/dg_up/dg_down), so every security channel runs unchanged above it.

Two dialects (docs/nrf9160.md, ../shared/specs/serial-modem-at.md):
- 'A' NCS SLM <= v3.1 (nRF9160): one selected socket. Send: `AT#XSENDTO="h",p` enters data mode,
  the datagram follows raw, the data-mode time limit (AT#XDATACTRL) sends it, then the terminator
  `+++` goes alone after a guard time, answered `#XDATAMODE: 0`. A datagram that contains the
  terminator (or ends with a prefix of it) cannot go through data mode intact: it is refused and
  counted (`unsendable`) like a lost datagram (DTLS and OSCORE re-protect a retransmission, so
  its next copy has other bytes). Receive: `AT#XPOLL=<ms>,<h>` then `AT#XRECVFROM=1,64`: a header
  line with the size, then exactly that many raw bytes (read by count, never by line).
- 'B' Serial Modem add-on (handle-based): hex mode both ways (`AT#XSENDTO=h,1,0,...,"<hex>"`,
  `AT#XRECVFROM=h,1,64,1`), binary-safe for any bytes; readiness by the `#XAPOLL` URC.

AT I/O: one 256-byte line buffer reused for the whole wake; lines end in CRLF or LF and may
arrive split anywhere, with URCs between a command and its answer, with echo or without; noise
lines and over-long lines are dropped and counted (`garbled`). Every wait has a deadline; a
command ends in its info lines, or NetworkDown (ERROR / +CME ERROR: n, logged with the command;
a silent modem). The wake then backs off; nothing crashes.
The UART: machine.UART on a board (pins, baud, RTS/CTS from the `modem` config); on the unix
port a loopback TCP socket to tools/modem_emu (LWM2M_UART=host:port).
One module, one class, few names: everything here is heap for the whole wake (9 KiB were
measured for a first version in four classes; the DTLS wakes have no room for that).
What it does not do: the link set-up (net/slm_link.py, loaded only when the modem needs it), TCP.
"""
import struct

from errors import NetworkDown
from log import log

_BUF = 256
_ST = ">BbBiiHb"     # 'mdm' in RTC memory: flags, handle, reg stat, granted TAU s, active s,
_UP = 1              # resets, DTLS handle. flags: configured + CFUN=1 by us,
_CRED = 2            # PSK in %CMNG,
_SECOPEN = 4         # modem DTLS socket connected (sec/modem_dtls.py)


def fields(b):
    """b'1,"0A0B",,7' -> [b'1', b'0A0B', b'', b'7'] (quotes dropped; commas in quotes kept)."""
    out = []
    cur = bytearray()
    q = False
    for x in b:
        if x == 34:
            q = not q
        elif x == 44 and not q:
            out.append(bytes(cur))
            cur = bytearray()
        else:
            cur.append(x)
    out.append(bytes(cur))
    return out


def _int(b, d=-1, base=10):
    try:
        return int(b, base)
    except (ValueError, TypeError):
        return d


def timer_s(bits, ext=True):
    """A 3GPP timer bit string ('00100110', str or bytes) -> seconds, -1 = deactivated or
    unknown (also for what is not a bit string: a garbled URC must not end the wake, issue #11)."""
    if not bits or len(bits) != 8:
        return -1
    t = (600, 3600, 36000, 2, 30, 60, 1152000, -1) if ext else (2, 60, 360, -1, -1, -1, -1, -1)
    try:
        if isinstance(bits, bytes):
            bits = bits.decode()
        u = t[int(bits[:3], 2)]
        return -1 if u < 0 else u * int(bits[3:], 2)
    except ValueError:
        return -1


class SlmNet:
    """net interface over the modem's UDP socket (or its DTLS socket: secure=(sec_tag, ...))."""

    def __init__(self, host, port, board, store, m, secure=None, uart=None):
        # secure with a 4th item: a PSK in the modem, but start on the UDP socket (several
        # mechanisms: wake/mechanisms.py switches between the two)
        self.up = self.down = self.dg_up = self.dg_down = 0
        self.unsendable = self.garbled = self.errors = 0
        self.err = None            # the last ERROR answer, with its command
        self.host = host
        self.port = port
        self.b = board
        self.store = store
        self.m = m
        self.A = m.get("dialect", "A") == "A"
        self.term = m.get("terminator", "+++").encode()
        self.events = []           # what the link saw this wake (for the WAKE line)
        self.apoll = 0
        self.armed = 0
        self.sec = secure          # DTLS in the modem provisioned: (sec_tag, identity, key)
        self.secure = None if secure and len(secure) > 3 else secure   # its socket in use
        self.buf = bytearray(_BUF)
        self.mv = memoryview(self.buf)
        self.s = self.e = 0
        self.eol = b"\r" if m.get("eol", "crlf" if self.A else "cr") == "cr" else b"\r\n"
        try:
            self.flags, h, self.stat, self.tau, self.act, self.resets, sh = struct.unpack(_ST, store.get("mdm"))
        except (TypeError, ValueError):
            self.flags, h, self.stat, self.tau, self.act, self.resets, sh = 0, -1, 0, -1, -1, 0, -1
        # self.h: this net's socket (UDP, or the modem's DTLS socket when secure); oh: the other
        self.h, self.oh = (h, sh) if self.secure is None else (sh, h)
        self.reset_seen = False
        try:
            import sys
            if uart is not None:           # a test double: write(b), readinto(mv, timeout_ms)
                self.u = uart
                self.sock = 0
            elif sys.platform in ("linux", "darwin"):
                import os
                import socket
                a = (os.getenv("LWM2M_UART") or m.get("emulator") or ":").rsplit(":", 1)
                u = self.u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                u.connect(socket.getaddrinfo(a[0], int(a[1]))[0][-1])
                self.sock = 1
            else:
                from board.modem_uart import open_uart
                self.u = open_uart(m)
                self.sock = 0
        except (OSError, ValueError, ImportError) as e:
            raise NetworkDown("uart: %s" % e)
        try:
            self._open()
        except NetworkDown:
            self._save()
            self.close(0)
            raise

    # -- the UART ----------------------------------------------------------------------------------
    def _w(self, b):
        try:
            if self.sock:
                self.u.settimeout(5)
            (getattr(self.u, "write", None) or self.u.sendall)(b)
        except OSError as e:
            raise NetworkDown("uart: %s" % e)

    def _fill(self, dl):
        if self.s:
            n = self.e - self.s
            self.buf[:n] = self.mv[self.s:self.e]
            self.s, self.e = 0, n
        if self.e >= _BUF:            # a line longer than the buffer: noise, drop it
            self.garbled += 1
            self.s = self.e = 0
        left = self.b.ticks_diff(dl, self.b.ticks_ms())
        if left <= 0:
            return False
        try:
            if self.sock:
                self.u.settimeout(left / 1000)
                d = self.u.recv(_BUF - self.e)
                if not d:
                    raise OSError(104)
                n = len(d)
                self.buf[self.e:self.e + n] = d
            else:
                n = self.u.readinto(self.mv[self.e:], left)
        except OSError as e:
            if e.args and e.args[0] in (11, 110, 116, "timed out"):
                return False
            raise NetworkDown("uart: %s" % e)
        self.e += n
        return n > 0

    def _line(self, dl):
        """The next non-empty line (bytes, without CR/LF), or None at the deadline."""
        while True:
            i = self.buf.find(b"\n", self.s, self.e)
            if i >= 0:
                j = i
                while j > self.s and self.buf[j - 1] == 13:
                    j -= 1
                ln = bytes(self.mv[self.s:j])
                self.s = i + 1
                if ln:
                    return ln
            elif not self._fill(dl) and self.b.ticks_diff(dl, self.b.ticks_ms()) <= 0:
                return None

    def _read(self, out, n, dl):
        """Exactly n raw bytes into out."""
        got = 0
        while got < n:
            k = min(self.e - self.s, n - got)
            if k:
                out[got:got + k] = self.mv[self.s:self.s + k]
                self.s += k
                got += k
            elif not self._fill(dl) and self.b.ticks_diff(dl, self.b.ticks_ms()) <= 0:
                raise NetworkDown("modem silent")

    def cmd(self, c, ms=3000, want=None, keep=0, soft=0):
        """Send AT command c (str); return its info lines (after 'PREFIX: ', bytes). keep: return
        at the info line (raw data follows). soft: an ERROR returns None instead of raising."""
        self._w(c.encode())
        self._w(self.eol)
        if want is None:
            k = 2
            while k < len(c) and c[k] not in "=?":
                k += 1
            want = c[2:k]
        return self._final(c, self.b.ticks_ms() + ms, want.encode() + b":" if want else None, keep, soft)

    def _final(self, c, dl, want, keep=0, soft=0):
        out = []
        while True:
            ln = self._line(dl)
            if ln is None:
                raise NetworkDown("modem silent after %s" % c)
            if ln == b"OK":
                return out
            if ln == b"ERROR" or ln.startswith(b"+CME ERROR") or ln.startswith(b"+CMS ERROR"):
                self.errors += 1
                log("AT %s -> %s" % (c, ln.decode()), "D" if soft else "W")
                self.err = "%s -> %s" % (c, ln.decode())
                if soft:
                    return None
                raise NetworkDown(self.err)
            if want and ln.startswith(want):
                out.append(ln[len(want):].strip())
                if keep:
                    return out
            elif not (ln.startswith(b"AT") and ln.endswith(c[-6:].encode())):   # not our echo
                self._urc(ln)

    def _wait(self, dl):
        """Read and handle unsolicited lines until the deadline or until one changes state."""
        ln = self._line(dl)
        if ln is not None:
            self._urc(ln)
        return ln

    def _urc(self, ln):
        if ln.startswith(b"+CEREG:"):
            f = fields(ln[7:].strip())
            self.stat = _int(f[0], 0)
            if len(f) >= 8:
                if f[6]:
                    self.act = timer_s(f[6], False)
                if f[7]:
                    self.tau = timer_s(f[7])
        elif ln.startswith(b"#XAPOLL:"):
            f = fields(ln[8:].strip())
            if _int(f[0]) == self.h and _int(f[-1], 0) & 1:
                self.apoll = 1
        elif ln == b"Ready" or ln == b"INIT ERROR":
            # the SLM booted again under us: every socket and session in the modem is gone
            self.reset_seen = True
            self.flags &= _CRED     # credentials are in the modem's NVM: they survive
            self.h = self.oh = -1
        elif not (ln[:1] in b"+%#" and b":" in ln):
            self.garbled += 1        # noise, not a notification
        # other URCs (+CSCON, %XMODEMSLEEP, %RAI, +CEDRXP, #XDATAMODE...) change nothing here

    # -- link --------------------------------------------------------------------------------------
    def _open(self, u=0):
        # u: only the UDP socket (several mechanisms switched to it: wake/mechanisms.py)
        if not u:
            for i in range(3):                 # sync: the first AT may meet a half-read line
                try:
                    if self.cmd("AT", self.m.get("sync_ms", 700), soft=1) is not None:
                        break
                except NetworkDown:
                    if i == 2:
                        raise NetworkDown("modem silent (no OK to AT)")
                    if self.A:                 # a data mode left open (a wake cut short): end it
                        self._w(self.term)
            cf = self.cmd("AT+CFUN?")
            cfun = _int(cf[0]) if cf else -1
            if self.flags & _UP and (cfun != 1 or self.reset_seen):
                self.resets += 1
                self.events.append("modem-reset")
                log("modem reset detected (CFUN %d): sockets and sessions lost" % cfun, "W")
                self.flags &= _CRED     # credentials are in the modem's NVM: they survive
                self.h = self.oh = -1
            if cfun != 1 or not self.flags & _UP:
                from log import unload
                import net.slm_link as L
                L.configure(self, cfun)
                del L
                unload("net.slm_link")           # drop the set-up code
            r = self.cmd("AT+CEREG?")
            for x in r:     # the read form has <n> first; a URC met on the way has <stat> first
                i = x.find(b",") + 1
                self._urc(b"+CEREG: " + (x[i:] if 0 < i < len(x) and 48 <= x[i] <= 57 else x))
            dl = self.b.ticks_ms() + self.m.get("reg_timeout_ms", 8000)
            while self.stat not in (1, 5):
                if self._wait(dl) is None:
                    self.events.append("no-registration")
                    self.h = self.oh = -1      # the PDN went with the registration
                    raise NetworkDown("modem not registered (CEREG %d): no coverage" % self.stat)
            if "configured" in self.events:
                log("PSM granted: TAU %d s, active %d s" % (self.tau, self.act))
            if self.secure is not None:
                return
        if self.h >= 0:
            if self.A:
                live = [_int(fields(x)[0]) for x in self.cmd("AT#XSOCKETSELECT?") if b"," in x]
            else:
                live = [_int(fields(x)[0]) for x in self.cmd("AT#XSOCKET?")]
            if self.h in live:
                if self.A and len(live) > 1:
                    self.cmd("AT#XSOCKETSELECT=%d" % self.h)
                self.events.append("socket-kept")
                return
            self.events.append("socket-lost")
        r = self.cmd("AT#XSOCKET=1,2,0")
        self.h = _int(fields(r[0])[0]) if r else -1
        if self.h < 0:
            raise NetworkDown("modem: no socket")
        self.events.append("socket-opened")
        self._save()

    def _save(self):
        h, sh = (self.h, self.oh) if self.secure is None else (self.oh, self.h)
        self.store.put("mdm", struct.pack(_ST, self.flags, h, self.stat, self.tau, self.act, self.resets & 0xFFFF, sh))

    def _failed(self, why):
        # the socket is gone in the modem (PDN lost, modem reset): a new one next wake
        self.h = -1
        self.flags &= ~_SECOPEN
        self._save()
        raise NetworkDown("modem socket: %s (%s)" % (why, self.err))

    # -- datagrams ---------------------------------------------------------------------------------
    def send(self, data):
        h = self.h
        if self.A:
            t = self.term
            if t in data or any(data[-k:] == t[:k] for k in range(1, len(t))):
                self.unsendable += 1
                log("datagram of %d B holds the data-mode terminator: not sent" % len(data), "W")
                return
            c = 'AT#XSENDTO="%s",%d' % (self.host, self.port) if self.secure is None else "AT#XSEND"
            import time
            g = self.m.get("dm_guard_ms", 150)
            if self.m.get("dm_ok", True):          # SLM 3.1 answers OK on entering data mode
                if self.cmd(c, soft=1) is None:
                    self._failed("send refused")
            else:                                  # older SLM: no OK; give it the guard time
                self._w(c.encode() + self.eol)
                time.sleep_ms(g) if hasattr(time, "sleep_ms") else time.sleep(g / 1000)
            self._w(data)
            # the data-mode time limit sends the datagram; the terminator then goes alone
            time.sleep_ms(g) if hasattr(time, "sleep_ms") else time.sleep(g / 1000)
            self._w(t)
            dl = self.b.ticks_ms() + 5000
            while True:
                ln = self._line(dl)
                if ln is None:
                    raise NetworkDown("modem: no #XDATAMODE after data mode")
                if ln.startswith(b"#XDATAMODE:"):
                    if _int(ln[11:].strip(), 0) < 0:
                        self._failed("data mode failed")
                    break
                self._urc(ln)
        else:
            import binascii
            if self.secure is None:
                self._w(b'AT#XSENDTO=%d,1,0,"%s",%d,"' % (h, self.host.encode(), self.port))
            else:
                self._w(b'AT#XSEND=%d,1,0,"' % h)
            mv = memoryview(data)
            for i in range(0, len(data), 64):
                self._w(binascii.hexlify(mv[i:i + 64]))
            self._w(b'"' + self.eol)
            if self._final("AT#XSEND", self.b.ticks_ms() + 5000, b"#XSEND", soft=1) is None:
                self._failed("send refused")
        self.up += len(data)
        self.dg_up += 1

    def recv(self, timeout_ms):
        h = self.h
        A = self.A
        if A:
            r = self.cmd("AT#XPOLL=%d,%d" % (max(timeout_ms, 1), h), timeout_ms + 3000, soft=1)
            if r is None:
                self._failed("poll refused")
            if not any(_int(fields(x)[0]) == h and _int(fields(x)[-1], 0, 16) & 1 for x in r):
                return None
            c = "AT#XRECVFROM=1,64" if self.secure is None else "AT#XRECV=1,64"
        else:
            if not self.armed:
                self.cmd("AT#XAPOLL=%d,1,1" % h)
                self.armed = 1
            dl = self.b.ticks_ms() + timeout_ms
            while not self.apoll:
                if self._wait(dl) is None:
                    return None
            self.apoll = 0
            c = ("AT#XRECVFROM=%d,1,64,1" if self.secure is None else "AT#XRECV=%d,1,64,1") % h
        hd = self.cmd(c, 5000, c[2:c.find("=")], keep=1, soft=1)
        if not hd:
            return None                  # EAGAIN (ERROR) or a zero-length datagram (just OK)
        f = fields(hd[0])
        n = _int(f[0] if A else f[2])
        if n < 0 or n > 2048:
            raise NetworkDown("modem: bad receive header %r" % hd[0])
        out = bytearray(n)
        dl = self.b.ticks_ms() + 5000
        if A:
            self._read(out, n, dl)
        else:
            import binascii
            tmp = bytearray(64)
            got = 0
            while got < n:
                k = min(32, n - got)
                self._read(tmp, 2 * k, dl)
                try:
                    out[got:got + k] = binascii.unhexlify(tmp[:2 * k])
                except ValueError:
                    raise NetworkDown("modem: bad hex data")
                got += k
        self._final(c, dl, None)
        self.down += n
        self.dg_down += 1
        return bytes(out)

    def local(self):
        return None

    def open(self, store, board, scfg, secrets):
        """The channel for DTLS run by the modem (wake/cycle.py asks any net for it), or None
        when this is the modem's plain UDP socket."""
        if self.sec is None:
            return None
        from sec.modem_dtls import ModemDtlsChannel
        return ModemDtlsChannel(self, store, board, scfg, secrets)

    def report(self):
        """What the WAKE line says about the modem: events, granted PSM timers, resets."""
        return {"ev": self.events, "tau": self.tau, "act": self.act, "resets": self.resets, "h": self.h,
                "err": self.errors, "garbled": self.garbled, "unsendable": self.unsendable}

    def close(self, rai=1):
        """End of the wake's exchanges: tell the network no more data is expected (RAI), keep the
        socket open for the next wake (the modem stays in PSM while the host deep-sleeps)."""
        h = self.h
        if rai and self.m.get("rai", True) and h >= 0:
            try:
                self.cmd("AT#XSOCKETOPT=1,61,1" if self.A else "AT#XSOCKETOPT=%d,1,61,1" % h, 2000, soft=1)
                self.events.append("rai")
            except NetworkDown as e:
                log("RAI: %s" % e, "W")
            self._save()
        try:
            self.u.close()
        except (OSError, AttributeError):
            pass
