"""DTLS 1.2 PSK handshake (client) for TLS_PSK_WITH_AES_128_CCM_8: messages, key schedule,
reassembly and the state machine. Imported by client.DtlsClient.handshake() only, and dropped
from sys.modules when the handshake ends (the 'cid' path never loads it); the harness server
(CPython) has its own (tools/harness/dtls_wire.py).

Flights (client view):
    full:  CH -> [HVR -> CH+cookie] -> SH [SKE] SHD -> CKE CCS Fin(e1) -> CCS Fin(e1)
    abbr.: CH(sid) -> [HVR -> CH+cookie] -> SH CCS Fin(e1) -> CCS Fin(e1) [+ app data]
Retransmission: doubling timer from rto_ms (RFC 6347 4.2.4, max 60 s), also when the server
repeats its previous flight; max_tries transmissions of a flight, then NoAnswer (or AuthFailed
when the server kept repeating its flight after our Finished: it could not verify it, i.e. a
wrong PSK). RFC 5746 SCSV, RFC 7627 extended master secret (offered, used when echoed), RFC 9146
connection_id (or legacy 53/254) with a zero-length client CID.

Handshake header (12 B, RFC 6347 4.2.2): msg_type(1) length(3) message_seq(2)
fragment_offset(3) fragment_length(3). Message types: 1 ClientHello, 2 ServerHello,
3 HelloVerifyRequest, 12 ServerKeyExchange, 14 ServerHelloDone, 16 ClientKeyExchange,
20 Finished. Key schedule: RFC 4279 premaster, RFC 5246 8.1 / RFC 7627 4 master secret,
RFC 5246 6.3 key block (no MAC keys), 7.4.9 verify_data.
"""
import hashlib
import struct
from micropython import const

from crypto.hmac import tls12_prf, ct_equal
from dtls import DtlsError, DtlsAuthFailed, DtlsSessionUnknown, DtlsNoAnswer
from dtls import record as R
from dtls import ticks_ms, ticks_diff

_W_SH = const(1)     # waiting for HelloVerifyRequest or ServerHello
_W_SHD = const(2)    # full: waiting for [ServerKeyExchange] ServerHelloDone
_W_CCS = const(3)    # waiting for the server's ChangeCipherSpec
_W_FIN = const(4)    # waiting for the server's Finished (epoch 1; client.py knows this value)
_DONE = const(5)


def master_secret(psk, cr, sr, session_hash=None):
    """RFC 4279 premaster (uint16 N, N zeros, uint16 N, psk), then RFC 5246 8.1 or, with
    session_hash, RFC 7627 4 (extended master secret): 48 bytes."""
    n = struct.pack(">H", len(psk))
    pms = n + bytes(len(psk)) + n + psk
    if session_hash is not None:
        return tls12_prf(pms, b"extended master secret", session_hash, 48)
    return tls12_prf(pms, b"master secret", cr + sr, 48)


def verify_data(ms, client, tr):
    """Finished.verify_data over the transcript tr (RFC 5246 7.4.9): 12 bytes."""
    return tls12_prf(ms, b"client finished" if client else b"server finished",
                     hashlib.sha256(tr).digest(), 12)


def msg(mt, mseq, body):
    """A whole handshake message (header + body), as it also enters the transcript."""
    n = len(body)
    return struct.pack(">BBHHBHBH", mt, n >> 16, n & 0xFFFF, mseq, 0, 0, n >> 16, n & 0xFFFF) + body


def parse_header(b, off):
    """(msg_type, length, message_seq, fragment_offset, fragment_length) at b[off:]."""
    if off + 12 > len(b):
        raise DtlsError("hs header")
    t, l1, l2, ms, o1, o2, f1, f2 = struct.unpack_from(">BBHHBHBH", b, off)
    return t, (l1 << 16) | l2, ms, (o1 << 16) | o2, (f1 << 16) | f2


def client_hello(random, sid, cookie, suites, exts):
    """ClientHello body: version random(32) session_id<0..32> cookie<0..255> suites<2..>
    compression=[null] [extensions] (left out when exts is empty)."""
    out = (b"\xfe\xfd" + random + bytes((len(sid),)) + sid + bytes((len(cookie),)) + cookie
           + struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", s) for s in suites) + b"\x01\x00")
    return out + struct.pack(">H", len(exts)) + exts if exts else out


def parse_exts(b, p, end):
    """An optional extension block at b[p:end] -> {type: bytes}."""
    out = {}
    if p == end:
        return out
    if p + 2 > end or p + 2 + ((b[p] << 8) | b[p + 1]) != end:
        raise DtlsError("extensions")
    p += 2
    while p < end:
        if p + 4 > end:
            raise DtlsError("extensions")
        t, n = struct.unpack_from(">HH", b, p)
        p += 4 + n
        if p > end:
            raise DtlsError("extensions")
        out[t] = bytes(b[p - n:p])
    return out


def parse_server_hello(b):
    """-> (version, random, session_id, suite, compression, {extension: bytes})."""
    try:
        n = b[34]
        if n > 32 or len(b) < 38 + n:
            raise IndexError
        p = 35 + n
        return (bytes(b[0:2]), bytes(b[2:34]), bytes(b[35:p]), (b[p] << 8) | b[p + 1], b[p + 2],
                parse_exts(b, p + 3, len(b)))
    except IndexError:
        raise DtlsError("server hello")


class Hs:
    """One handshake of client c (a DtlsClient; c.hs points here while it runs), with the
    reassembly of handshake fragments (RFC 6347 4.2.3): add() takes a record body, next()
    hands out whole messages in message_seq order; messages before next_seq count as the
    server's retransmissions, at most 4 ahead are buffered, each capped at 1024 bytes.
    Hs() without a client is a bare reassembler (tests)."""

    def __init__(self, c=None, resume=False):
        self.next_seq = 0
        self.parts = {}       # mseq -> [mtype, length, bytearray, covered ranges]
        if c is None:
            return
        if resume and c.session is None:
            raise DtlsError("no session")
        self.c = c
        self.resume = c.session if resume else None
        self.state = _W_SH
        self.cr = c.urandom(32)
        self.sr = self.sid = self.cookie = self.ch = self.peer_cid = b""
        self.hvr = self.mseq = 0
        self.tr = bytearray()
        self.ms = self.conn = None
        self.ems = self.done = False
        self.early = []

    def run(self):
        c = self.c
        c.conn = None        # a handshake replaces the connection (and frees its keys)
        c.pending = c.last_flight = None
        c.cookie_len = -1
        c.hs = self
        while self.state == _W_SH:
            if self.hvr > 2:
                raise DtlsError("cookie loop")
            e = b"\x00\x17\x00\x00" if c.ems else b""           # extended_master_secret
            if c.cid is not None:
                e += struct.pack(">HHB", c.cid, 1, 0)              # zero-length client CID
            s = self.resume
            self.ch = msg(1, self.mseq, client_hello(self.cr, s[4:4 + s[3]] if s else b"", self.cookie,
                                                     (0xC0A8, 0xFF), e))
            self.flight([(22, 0, self.ch)])
        if self.resume is None:
            cke = msg(16, self.mseq + 1, struct.pack(">H", len(c.identity)) + c.identity)
            self.tr.extend(cke)
            self.ms = master_secret(c._psk, self.cr, self.sr,
                                    hashlib.sha256(self.tr).digest() if self.ems else None)
            self.keys()
            fin = msg(20, self.mseq + 2, verify_data(self.ms, True, self.tr))
            self.tr.extend(fin)
            self.state = _W_CCS
            self.flight([(22, 0, cke), (20, 0, b"\x01"), (22, 1, fin)])
            c.session = bytes((1 if self.ems else 0, 0xC0, 0xA8, len(self.sid))) + self.sid + self.ms
            c.path_taken = "full-handshake"
            c.last_flight = None      # the server sends the last flight of a full handshake
        else:
            fin = msg(20, self.mseq + 1, verify_data(self.ms, True, self.tr))
            self.keys()
            c.pending = c.last_flight = [(20, 0, b"\x01"), (22, 1, fin)]
            c.path_taken = "resume"
        if hasattr(c.seq, "store"):
            c.seq.store.drop("hs")    # the server took our Finished (or resumed): count again
        from log import trace     # the handshake code, its state and the new keys are all
        if trace:                  # alive here
            trace("handshake")

    def keys(self):
        """The connection from the key block (RFC 5246 6.3: client/server write keys, IVs) on
        the first call; on the second, our new write keys: persist them (hook), then restart
        the sequence at 0."""
        c = self.c
        if self.conn is None:
            kb = tls12_prf(self.ms, b"key expansion", self.sr + self.cr, 40)
            self.conn = R.Conn(1, kb[0:16], kb[32:36], kb[16:32], kb[36:40], self.peer_cid, b"",
                               54 if c.cid is None else c.cid, c.pad)
            if self.resume is not None:
                return
        if c.on_keys:
            c.on_keys(self.conn)
        c.conn = self.conn
        c.seq.start(0)

    def flight(self, recs):
        """Send a flight and wait for the server's next one (self.done)."""
        c = self.c
        self.done = False
        tries = retx = 0
        rto = c.rto_ms
        while True:
            c._send(recs)
            tries += 1
            t0 = ticks_ms()
            again = False
            while not again:
                left = rto - ticks_diff(ticks_ms(), t0)
                dg = c.net.recv(left) if left > 0 else None
                if dg is None:
                    break
                if c._rx(dg):
                    retx += 1
                    again = True
                if self.done:
                    return
            if tries >= c.max_tries:
                if recs[-1][1] == 1:
                    # the server answered our hellos, then repeated its flight or went silent
                    # through every try of our Finished: a wrong PSK, or loss (30 % loss does
                    # this too). Evidence only when it happens 3 wakes in a row: counted in
                    # the RTC section 'hs' (reset by a handshake that completes; issue #11)
                    n = 1
                    if hasattr(c.seq, "store"):
                        n = min((c.seq.store.get("hs") or b"\x00")[0] + 1, 255)
                        c.seq.store.put("hs", bytes((n,)))
                    raise (DtlsAuthFailed if n > 2 else DtlsNoAnswer)(
                        "our Finished ignored (%d wakes in a row)" % n)
                raise DtlsNoAnswer("no answer after %d tries" % tries)
            if not again:
                rto = min(rto * 2, 60000)

    def rec(self, ct, ep, frag, raw):
        """A record at epoch 0, or at epoch 1 before the server's CCS (then kept: reordering),
        or (ep None) an authentic epoch-1 record's content. Returns True if the server
        repeated a flight we already answered."""
        c = self.c
        if ep:
            if self.conn is not None and len(self.early) < 2:
                self.early.append(bytes(raw))
            else:
                c.dropped += 1
            return False
        if ct == 21:
            if len(frag) != 2:
                c.dropped += 1
            elif frag[0] == 2 or not frag[1]:      # fatal or close_notify (warnings ignored)
                a = c.alert = (frag[0], frag[1])
                # bad_record_mac, decrypt_error, unknown_psk_identity: the keys differ
                e = (DtlsAuthFailed if a[1] in (20, 51, 115) else DtlsSessionUnknown if self.resume
                     else DtlsError)("alert %d" % a[1])
                e.alert = a
                raise e
            return False
        if ct == 20 and ep == 0:
            if self.state == _W_CCS and frag == b"\x01":
                self.state = _W_FIN
                e = self.early
                self.early = []
                for d in e:
                    c._rx(d)
            return False
        if ct != 22:
            if ct != 23:
                c.dropped += 1
            return False
        try:
            if self.state >= _W_CCS and ep == 0:
                # the server repeats SH..SHD of a full handshake: it lost our final flight
                return self.add(frag, False) > 0 and self.resume is None
            old = self.add(frag)
        except DtlsError:
            if ep is None:
                raise
            c.dropped += 1
            return False
        while True:
            m = self.next()
            if m is None:
                break
            self.on(m[0], m[1], m[2])
            if self.done and self.state == _W_SH:
                break   # HelloVerifyRequest: the rest of the datagram is stale
        return old > 0 and not self.done

    def add(self, frag, accept=True):
        """Feed one handshake record body; returns how many fragments belonged to messages
        already processed. accept=False only counts them."""
        old = 0
        off = 0
        n = len(frag)
        while off < n:
            mt, ln, ms, fo, fl = parse_header(frag, off)
            off += 12
            if off + fl > n or fo + fl > ln or ln > 1024:
                raise DtlsError("hs fragment")
            if ms < self.next_seq:
                old += 1
            elif accept and ms < self.next_seq + 4:
                p = self.parts.get(ms)
                if p is None:
                    p = self.parts[ms] = [mt, ln, bytearray(ln), []]
                if p[0] == mt and p[1] == ln:
                    p[2][fo:fo + fl] = frag[off:off + fl]
                    p[3].append((fo, fo + fl))
            off += fl
        return old

    def next(self):
        """The next complete in-order message as (mtype, mseq, body) or None."""
        p = self.parts.get(self.next_seq)
        if p is None:
            return None
        end = 0
        for a, b in sorted(p[3]):
            if a > end:
                return None
            if b > end:
                end = b
        if end < p[1]:
            return None
        ms = self.next_seq
        del self.parts[ms]
        self.next_seq = ms + 1
        return p[0], ms, bytes(p[2])

    def on(self, mt, ms, body):
        """One whole in-order handshake message from the server."""
        c = self.c
        st = self.state
        if st == _W_SH and mt == 3:                       # HelloVerifyRequest
            if len(body) < 3 or body[2] + 3 != len(body):
                raise DtlsError("hello verify request")
            self.cookie = bytes(body[3:])
            c.cookie_len = len(self.cookie)
            self.hvr += 1
            self.mseq += 1
            self.next_seq = ms + 1
            self.done = True
            return
        if st == _W_SH and mt == 2:                       # ServerHello
            v, self.sr, sid, suite, comp, ex = parse_server_hello(body)
            ri = ex.get(0xFF01)
            ems = 23 in ex
            x = ex.get(c.cid) if c.cid is not None else None
            if (v != b"\xfe\xfd" or suite != 0xC0A8 or comp or (ri is not None and ri != b"\x00")
                    or (ems and not c.ems) or (x is not None and (len(x) < 1 or x[0] + 1 != len(x) or len(x) > 42))):
                raise DtlsError("server hello: version, suite, compression or extension")
            if x is not None:
                self.peer_cid = x[1:]
            self.sid = sid
            self.ems = ems
            self.tr = bytearray(self.ch)
            self.tr.extend(msg(mt, ms, body))
            s = self.resume
            if s is not None and sid and sid == s[4:4 + s[3]]:
                if ems != bool(s[0] & 1):
                    raise DtlsError("EMS differs from the session (RFC 7627 5.3)")
                self.ms = s[4 + s[3]:52 + s[3]]
                self.keys()
                self.state = _W_CCS
                return
            if s is not None:
                if not c.resume_fallback:
                    raise DtlsSessionUnknown("server did not resume the session")
                self.resume = None            # the server started a full handshake: go on
            self.state = _W_SHD
            return
        if st == _W_SHD and mt == 12:                     # ServerKeyExchange: PSK hint, unused
            if len(body) < 2 or ((body[0] << 8) | body[1]) + 2 != len(body):
                raise DtlsError("psk identity hint")
            self.tr.extend(msg(mt, ms, body))
            return
        if st == _W_SHD and mt == 14 and not body:        # ServerHelloDone
            self.tr.extend(msg(mt, ms, body))
            self.done = True
            return
        if st == _W_FIN and mt == 20:                     # Finished
            if not ct_equal(verify_data(self.ms, False, self.tr), body):
                raise DtlsAuthFailed("server Finished does not verify")
            self.tr.extend(msg(mt, ms, body))    # the abbreviated handshake's client Finished
            self.state = _DONE
            self.done = True
            return
        raise DtlsError("unexpected handshake message %d" % mt)
