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

The AT layer (`At`): one 256-byte line buffer reused for the whole wake; lines are CRLF or LF
ended, may arrive split in any place, with URCs between a command and its answer, with echo or
without; garbage before a line and over-long lines are dropped and counted. Every wait has a
deadline; a command ends in its info lines, or ModemError (ERROR / +CME ERROR: n, logged with the
command), or ModemSilent. Both are NetworkDown (the wake backs off; nothing crashes).
What it does not do: the link set-up (net/slm_link.py, loaded only when the modem needs it), TCP.
"""
import struct

from errors import NetworkDown
from log import log

_BUF = 256


class ModemError(NetworkDown):
    def __init__(self, cmd, line):
        super().__init__("%s -> %s" % (cmd, line))
        self.cmd = cmd
        self.line = line


class ModemSilent(NetworkDown):
    pass


class At:
    """Line-level AT I/O over a uart (board/modem_uart.py)."""

    def __init__(self, uart, board, eol=b"\r\n"):
        self.u = uart
        self.b = board
        self.eol = eol
        self.buf = bytearray(_BUF)
        self.mv = memoryview(self.buf)
        self.s = self.e = 0
        self.urc = None          # callback(line bytes) for unsolicited lines
        self.garbled = 0
        self.errors = 0

    def _left(self, deadline):
        return self.b.ticks_diff(deadline, self.b.ticks_ms())

    def deadline(self, ms):
        return self.b.ticks_ms() + ms

    def _fill(self, deadline):
        if self.s:
            n = self.e - self.s
            self.buf[:n] = self.buf[self.s:self.e]
            self.s, self.e = 0, n
        if self.e >= _BUF:            # a line longer than the buffer: garbage, drop it
            self.garbled += 1
            self.s = self.e = 0
        left = self._left(deadline)
        if left <= 0:
            return False
        try:
            n = self.u.readinto(self.mv[self.e:], left)
        except OSError as e:
            raise NetworkDown("uart: %s" % e)
        self.e += n
        return n > 0

    def line(self, deadline):
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
                continue
            if not self._fill(deadline) and self._left(deadline) <= 0:
                return None

    def read_into(self, out, n, deadline):
        """Exactly n raw bytes into out (bytearray/memoryview), or ModemSilent."""
        got = 0
        while got < n:
            k = min(self.e - self.s, n - got)
            if k:
                out[got:got + k] = self.mv[self.s:self.s + k]
                self.s += k
                got += k
                continue
            if not self._fill(deadline) and self._left(deadline) <= 0:
                raise ModemSilent("modem: %d of %d data bytes" % (got, n))

    def write(self, b):
        try:
            self.u.write(b)
        except OSError as e:
            raise NetworkDown("uart: %s" % e)

    def cmd(self, c, ms=3000, want=None, keep=0):
        """Send AT command c (str); return its info lines (the part after 'PREFIX: ', bytes).
        keep: stop after the info line instead of waiting for OK (its data follows)."""
        self.write(c.encode())
        self.write(self.eol)
        if want is None:
            k = 2
            while k < len(c) and c[k] not in "=?":
                k += 1
            want = c[2:k]
        want = want.encode() + b":"
        return self.final(c, self.deadline(ms), want, keep)

    def final(self, c, dl, want, keep=0):
        out = []
        while True:
            ln = self.line(dl)
            if ln is None:
                raise ModemSilent("modem silent after %s" % c)
            if ln == b"OK":
                return out
            if ln == b"ERROR" or ln.startswith(b"+CME ERROR") or ln.startswith(b"+CMS ERROR"):
                self.errors += 1
                log("AT %s -> %s" % (c, ln.decode()), "W")
                raise ModemError(c, ln.decode())
            if want and ln.startswith(want):
                out.append(ln[len(want):].strip())
                if keep:
                    return out
            elif ln.startswith(b"AT") and c and ln.endswith(c[-8:].encode()):
                continue                                    # echo of our command
            elif self.urc:
                self.urc(ln)

    def wait(self, prefix, dl):
        """Read lines (URCs go to the callback) until one starting with prefix; its rest, or None."""
        while True:
            ln = self.line(dl)
            if ln is None:
                return None
            if ln.startswith(prefix):
                return ln[len(prefix):].strip()
            if self.urc:
                self.urc(ln)


def fields(b):
    """'1,"0A0B",,7' -> [b'1', b'0A0B', b'', b'7'] (quotes dropped; commas in quotes kept)."""
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


def _int(b, d=-1):
    try:
        return int(b)
    except (ValueError, TypeError):
        return d


def _hex(b):
    try:
        return int(b, 16)
    except ValueError:
        return 0


def timer_s(bits, ext=True):
    """A 3GPP timer bit string ('00100110') -> seconds, -1 = deactivated/unknown."""
    if not bits or len(bits) != 8:
        return -1
    u = int(bits[:3], 2)
    v = int(bits[3:], 2)
    t = (600, 3600, 36000, 2, 30, 60, 1152000, -1) if ext else (2, 60, 360, -1, -1, -1, -1, -1)
    return -1 if t[u] < 0 else t[u] * v


def timer_bits(sec, ext=True):
    """Seconds -> the bit string lte_lc sends: the unit giving the smallest value >= sec."""
    t = (600, 3600, 36000, 2, 30, 60, 1152000) if ext else (2, 60, 360)
    best = None
    for u in range(len(t)):
        v = (sec + t[u] - 1) // t[u]
        if v <= 31 and (best is None or v * t[u] < best[0]):
            best = (v * t[u], u, v)
    if best is None:
        best = (0, len(t) - 1, 31)
    return "{:03b}{:05b}".format(best[1], best[2])


# persisted in RTC memory, section 'mdm': what the host must know after its deep sleep
_ST = ">BbBiiHB"     # flags, handle, reg stat, granted TAU s, granted active s, resets, sec handle
_UP = 1              # the modem was configured and set to CFUN=1 by us
_CRED = 2            # PSK written to %CMNG (sec_tag)
_SECOPEN = 4         # the modem's DTLS socket is open and connected (modem_dtls)
POLLIN = 1


class SlmNet:
    """net interface over the modem's UDP socket (or its DTLS socket: secure=True)."""

    def __init__(self, host, port, board, store, m, sched=None, secure=None):
        from board.modem_uart import open_uart
        self.up = self.down = self.dg_up = self.dg_down = 0
        self.unsendable = 0
        self.host = host
        self.port = port
        self.board = board
        self.store = store
        self.m = m
        self.dialect = m.get("dialect", "A")
        self.term = m.get("terminator", "+++").encode()
        self.events = []           # what the link saw this wake (for the WAKE line)
        self.reset_seen = False
        self.cscon = -1
        self.apoll = 0
        self.secure = secure       # (sec_tag, cid, cache) for modem-offloaded DTLS
        st = store.get("mdm")
        try:
            self.flags, self.h, self.stat, self.tau, self.act, self.resets, self.sh = struct.unpack(_ST, st)
        except (TypeError, ValueError):
            self.flags, self.h, self.stat, self.tau, self.act, self.resets, self.sh = 0, -1, 0, -1, -1, 0, 255
        try:
            self.uart = open_uart(m)
        except OSError as e:
            raise NetworkDown("uart: %s" % e)
        eol = b"\r" if m.get("eol", "crlf" if self.dialect == "A" else "cr") == "cr" else b"\r\n"
        self.at = At(self.uart, board, eol)
        self.at.urc = self._urc
        try:
            self._open()
        except NetworkDown:
            self._save()
            self.uart.close()
            raise

    # -- unsolicited lines ---------------------------------------------------------------------
    def _urc(self, ln):
        if ln.startswith(b"+CEREG:"):
            f = fields(ln[7:].strip())
            self.stat = _int(f[0], 0)
            if len(f) >= 8 and f[6]:
                self.act = timer_s(f[6].decode(), False)
            if len(f) >= 8 and f[7]:
                self.tau = timer_s(f[7].decode())
        elif ln.startswith(b"#XAPOLL:"):
            f = fields(ln[8:].strip())
            if _int(f[0]) in (self.h, self.sh) and _int(f[-1], 0) & POLLIN:
                self.apoll = 1
        elif ln.startswith(b"+CSCON:"):
            self.cscon = _int(fields(ln[7:].strip())[0])
        elif ln == b"Ready" or ln == b"INIT ERROR":
            # the SLM booted again under us: every socket and session in the modem is gone
            self.reset_seen = True
            self.flags = 0
            self.h = -1
            self.sh = 255
        # other URCs (%XMODEMSLEEP, %RAI, +CEDRXP, #XDATAMODE outside data mode...) change nothing

    # -- link ----------------------------------------------------------------------------------
    def _open(self):
        at = self.at
        for i in range(3):                 # sync: the first AT may meet a half-read line
            try:
                at.cmd("AT", self.m.get("sync_ms", 700))
                break
            except ModemSilent:
                if i == 2:
                    raise ModemSilent("modem silent (no OK to AT)")
            except ModemError:
                pass
        cf = at.cmd("AT+CFUN?")
        cfun = _int(cf[0]) if cf else -1
        if self.flags & _UP and (cfun != 1 or self.reset_seen):
            self.resets += 1
            self.event("modem-reset")
            log("modem reset detected (CFUN %d): sockets and sessions lost" % cfun, "W")
            self.flags = 0
            self.h = -1
            self.sh = 255
        if cfun != 1 or not self.flags & _UP:
            import net.slm_link as L
            L.configure(self, cfun)
            del L
            import sys
            sys.modules.pop("net.slm_link", None)
        self._registered()
        if self.secure is None:
            self._socket()

    def event(self, e):
        self.events.append(e)

    def _registered(self):
        at = self.at
        r = at.cmd("AT+CEREG?")
        if r:
            f = fields(r[0])
            self._urc(b"+CEREG: " + b",".join(f[1:]))   # the read form has <n> first
        if self.stat in (1, 5):
            return
        dl = at.deadline(self.m.get("reg_timeout_ms", 8000))
        while self.stat not in (1, 5):
            if at.wait(b"\x00", dl) is None and at._left(dl) <= 0:
                self.event("no-registration")
                raise NetworkDown("modem not registered (CEREG stat %d): no coverage?" % self.stat)
        self.event("registered")

    def _socket(self):
        at = self.at
        A = self.dialect == "A"
        if self.h >= 0:
            if A:
                lines = at.cmd("AT#XSOCKETSELECT?")
                live = [_int(fields(x)[0]) for x in lines if b"," in x]
            else:
                live = [_int(fields(x)[0]) for x in at.cmd("AT#XSOCKET?")]
            if self.h in live:
                if A and len(live) > 1:
                    at.cmd("AT#XSOCKETSELECT=%d" % self.h)
                self.event("socket-kept")
                return
            self.event("socket-lost")
            self.h = -1
        r = at.cmd("AT#XSOCKET=1,2,0")
        self.h = _int(fields(r[0])[0]) if r else -1
        if self.h < 0:
            raise NetworkDown("modem: no socket handle")
        self.event("socket-opened")
        self._save()

    def _save(self):
        self.store.put("mdm", struct.pack(_ST, self.flags, self.h, self.stat, self.tau, self.act,
                                          self.resets & 0xFFFF, self.sh))

    # -- datagrams -----------------------------------------------------------------------------
    def send(self, data):
        if self.dialect == "A":
            ok = self._send_dm(data, 'AT#XSENDTO="%s",%d' % (self.host, self.port)
                               if self.secure is None else "AT#XSEND")
        else:
            ok = self._send_hex(data)
        if ok:
            self.up += len(data)
            self.dg_up += 1

    def _dm_safe(self, data):
        t = self.term
        if t in data:
            return False
        for k in range(1, len(t)):
            if data[-k:] == t[:k]:
                return False
        return True

    def _send_dm(self, data, c):
        at = self.at
        if not self._dm_safe(data):
            self.unsendable += 1
            log("datagram of %d B holds the data-mode terminator: not sent" % len(data), "W")
            return False
        at.cmd(c, 3000)                       # OK: data mode entered (SLM 3.1)
        at.write(data)
        # the data-mode time limit sends the datagram; the terminator then goes alone
        import time
        time.sleep_ms(self.m.get("dm_guard_ms", 150))
        at.write(self.term)
        r = at.wait(b"#XDATAMODE:", at.deadline(5000))
        if r is None:
            raise ModemSilent("modem: no #XDATAMODE after data mode")
        if _int(r) != 0 and _int(r) < 0:
            self._sock_failed("data mode: %s" % r.decode())
        return True

    def _send_hex(self, data):
        at = self.at
        import binascii
        if self.secure is None:
            at.write(b'AT#XSENDTO=%d,1,0,"%s",%d,"' % (self.h, self.host.encode(), self.port))
        else:
            at.write(b'AT#XSEND=%d,1,0,"' % self.sh)
        mv = memoryview(data)
        for i in range(0, len(data), 64):
            at.write(binascii.hexlify(mv[i:i + 64]))
        at.write(b'"')
        at.write(at.eol)
        try:
            at.final("AT#XSEND", at.deadline(5000), b"#XSEND")
        except ModemError as e:
            self._sock_failed(e.line)
        return True

    def _sock_failed(self, why):
        # the socket is gone in the modem (PDN lost, modem reset): open a new one next wake
        self.h = -1
        self.sh = 255
        self.flags &= ~_SECOPEN
        self._save()
        raise NetworkDown("modem socket: %s" % why)

    def recv(self, timeout_ms):
        at = self.at
        h = self.h if self.secure is None else self.sh
        A = self.dialect == "A"
        if A:
            try:
                r = at.cmd("AT#XPOLL=%d,%d" % (max(timeout_ms, 1), h), timeout_ms + 3000)
            except ModemError as e:
                self._sock_failed(e.line)
            if not any(_int(fields(x)[0]) == h and _hex(fields(x)[-1]) & POLLIN
                       for x in r if b"0x" in x):
                return None
            # RECV on a connected (DTLS) socket, RECVFROM on the plain one
            c = "AT#XRECVFROM=1,64" if self.secure is None else "AT#XRECV=1,64"
        else:
            if not self.apoll:
                if not getattr(self, "_armed", 0):
                    at.cmd("AT#XAPOLL=%d,1,1" % h)
                    self._armed = 1
                dl = at.deadline(timeout_ms)
                while not self.apoll:
                    if at.wait(b"\x00", dl) is None:
                        return None
            self.apoll = 0
            c = ("AT#XRECVFROM=%d,1,64,1" if self.secure is None else "AT#XRECV=%d,1,64,1") % h
        want = c[2:c.index("=")]
        try:
            hd = at.cmd(c, 5000, want, keep=1)
        except ModemError:
            return None                  # EAGAIN: nothing after all
        if not hd:
            return None                  # a zero-length datagram: just OK
        f = fields(hd[0])
        n = _int(f[0] if A else f[2], -1)
        if n < 0 or n > 2048:
            raise NetworkDown("modem: bad receive header %r" % hd[0])
        out = bytearray(n)
        dl = at.deadline(5000)
        if A:
            at.read_into(out, n, dl)
        else:
            import binascii
            tmp = bytearray(64)
            got = 0
            while got < n:
                k = min(32, n - got)
                at.read_into(tmp, 2 * k, dl)
                try:
                    out[got:got + k] = binascii.unhexlify(tmp[:2 * k])
                except ValueError:
                    raise NetworkDown("modem: bad hex data")
                got += k
        at.final(c, dl, None)
        self.down += n
        self.dg_down += 1
        return bytes(out)

    def local(self):
        return None

    def report(self):
        """What the WAKE line says about the modem: events, granted PSM timers, resets."""
        return {"ev": self.events, "tau": self.tau, "act": self.act, "resets": self.resets,
                "h": self.h, "err": self.at.errors, "garbled": self.at.garbled, "unsendable": self.unsendable}

    def close(self):
        """End of the wake's exchanges: tell the network no more data is expected (RAI), keep the
        socket open for the next wake (the modem stays in PSM while the host deep-sleeps)."""
        h = self.h if self.secure is None else self.sh
        try:
            if self.m.get("rai", True) and h >= 0 and h != 255:
                if self.dialect == "A":
                    if self.secure is not None or self.h >= 0:
                        self.at.cmd("AT#XSOCKETOPT=1,61,1", 2000)
                else:
                    self.at.cmd("AT#XSOCKETOPT=%d,1,61,1" % h, 2000)
                self.event("rai")
        except NetworkDown as e:
            log("RAI: %s" % e, "W")
        self._save()
        self.uart.close()
