"""DTLS 1.2 PSK client state machine (RFC 6347) for TLS_PSK_WITH_AES_128_CCM_8.

What it does: the full handshake (with or without a HelloVerifyRequest cookie exchange), the
abbreviated handshake (resumption by session ID, RFC 5246 7.3) whose final flight waits in
`pending` so the first application record rides in the same datagram, flights retransmitted on
doubling timers (RFC 6347 4.2.4) with a bounded try count, fragment reassembly, reordering and
duplicates, alerts, RFC 5746 SCSV, RFC 7627 extended master secret (negotiated, not required),
RFC 9146 Connection ID (or the legacy code points 53/254) with a zero-length client CID.
Application data in and out once a connection exists (a restored one included).
What it does not do: persistence (the caller's `on_keys` hook and `seq` object, see
sec/dtls_channel.py), renegotiation, certificates, session tickets, close_notify (a sleeping
device never sends it: the NAT binding simply expires).

Flights (client view):
    full:  CH -> [HVR -> CH+cookie] -> SH [SKE] SHD -> CKE CCS Fin(e1) -> CCS Fin(e1)
    abbr.: CH(sid) -> [HVR -> CH+cookie] -> SH CCS Fin(e1) -> CCS Fin(e1) [+ app data]
"""
from micropython import const

try:
    from time import ticks_ms, ticks_diff
except ImportError:   # CPython (tests, harness)
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

from crypto import CryptoError
from crypto.hmac import ct_equal
from dtls import DtlsError, DtlsAuthFailed, DtlsSessionUnknown, DtlsNoAnswer, err
from dtls import record as R
H = None   # dtls.handshake and dtls.keys, imported by the first handshake() (the 'cid' path
K = None   # never needs them)

probe = None   # optional callable run at memory high points (heap measurement in tools/interop)

_W_SH = const(1)     # waiting for HelloVerifyRequest or ServerHello
_W_SHD = const(2)    # full: waiting for [ServerKeyExchange] ServerHelloDone
_W_CCS = const(3)    # waiting for the server's ChangeCipherSpec
_W_FIN = const(4)    # waiting for the server's Finished (epoch 1)
_DONE = const(5)

_MAX_RTO = const(60000)


class Session:
    """What resumption needs (RFC 5246 7.3; RFC 7627 5.3 for the EMS flag)."""

    def __init__(self, sid, ms, suite=0xC0A8, ems=False):
        self.sid = bytes(sid)
        self.ms = bytes(ms)
        self.suite = suite
        self.ems = ems

    def dump(self):
        """flags(1) suite(2) sid_len(1) sid ms(48)."""
        return (bytes((1 if self.ems else 0, self.suite >> 8, self.suite & 0xFF, len(self.sid)))
                + self.sid + self.ms)

    @staticmethod
    def load(b):
        """Inverse of dump(); returns (Session, bytes consumed)."""
        if len(b) < 4 or len(b) < 4 + b[3] + 48:
            raise DtlsError("session truncated")
        n = b[3]
        return Session(b[4:4 + n], b[4 + n:52 + n], (b[1] << 8) | b[2], bool(b[0] & 1)), 52 + n


class Counter:
    """In-memory write sequence counter (the channel plugs in a persisted SeqReserve)."""

    def __init__(self):
        self.next = 0

    def start(self, v):
        self.next = v

    def take(self):
        v = self.next
        self.next = v + 1
        return v


class _Hs:
    """Per-handshake state, dropped when the handshake ends (frees the transcript)."""

    def __init__(self):
        self.state = _W_SH
        self.cr = b""
        self.sr = b""
        self.sid = b""
        self.cookie = b""
        self.hvr = 0
        self.mseq = 0
        self.ch = b""
        self.tr = bytearray()
        self.rx = H.Reassembler(0)   # H is loaded by then (DtlsClient.handshake)
        self.resume = None
        self.ms = None
        self.ems = False
        self.conn = None
        self.peer_cid = b""
        self.done = False
        self.early = []


class DtlsClient:
    """One DTLS association with one server over `net` (send / recv(timeout_ms)).

    cid: None, or the extension code point to offer (record.CID_RFC9146 = 54, CID_LEGACY53,
    CID_LEGACY254). ems: offer extended_master_secret. pad: CID record padding (0: none).
    resume_fallback: if the server answers a resumption with a new session, go on with the
    full handshake (True) or raise DtlsSessionUnknown (False)."""

    def __init__(self, net, urandom, identity, psk, cid=None, ems=True, rto_ms=1000,
                 max_tries=4, pad=0, resume_fallback=True):
        self.net = net
        self.urandom = urandom
        self.identity = identity.encode() if isinstance(identity, str) else bytes(identity)
        self._psk = bytes(psk)
        self.cid = cid
        self.ems = ems
        self.rto_ms = rto_ms
        self.max_tries = max_tries
        self.pad = pad
        self.resume_fallback = resume_fallback
        self.session = None
        self.conn = None
        self.seq = Counter()
        self.on_keys = None      # hook(conn): persist new keys before their first use
        self.tap = None          # hook(datagram): every datagram sent (tests, meters)
        self.e0seq = 0
        self.hs = None
        self.pending = None      # abbreviated handshake: our final flight, not yet sent
        self.last_flight = None  # resent when the server repeats its final flight
        self.rxq = []
        self.dropped = 0         # records dropped: malformed, replayed, failed to authenticate
        self.bad_auth = 0
        self.replayed = 0
        self.path_taken = None   # 'resume' | 'full-handshake' after handshake()
        self.cookie_len = -1     # cookie length of the last handshake (-1: no HVR)
        self.alert = None

    def __repr__(self):   # never show keys
        return "<DtlsClient %s>" % ("connected" if self.conn else "idle")

    # -- handshake -------------------------------------------------------------------------
    def handshake(self, resume=False):
        """Run a handshake. resume=True tries the abbreviated handshake with self.session and
        leaves the final flight in `pending` (sent with the next send_app or flush)."""
        global H, K
        if H is None:
            from dtls import handshake, keys
            H = handshake
            K = keys
        self.conn = None      # a handshake replaces the connection (and frees its keys)
        hs = self.hs = _Hs()
        hs.resume = self.session if resume else None
        if resume and self.session is None:
            raise DtlsError("no session to resume")
        hs.cr = self.urandom(32)
        self.pending = None
        self.last_flight = None
        self.cookie_len = -1
        try:
            while hs.state == _W_SH:
                if hs.hvr > 2:
                    raise DtlsError("cookie exchange loops")
                hs.ch = H.msg(H.HT_CLIENT_HELLO, hs.mseq, self._ch_body(hs))
                self._flight([(R.CT_HANDSHAKE, 0, hs.ch)])
            if probe:
                probe()
            if hs.resume is None:
                self._full_final(hs)
            else:
                self._abbr_final(hs)
        finally:
            if probe:
                probe()
            self.hs = None

    def _ch_body(self, hs):
        exts = b""
        if self.ems:
            exts += H.ext(H.EXT_EMS, b"")
        if self.cid is not None:
            exts += H.ext(self.cid, b"\x00")   # cid<0..255>: zero-length client CID
        return H.client_hello(hs.cr, hs.resume.sid if hs.resume else b"", hs.cookie,
                              (H.SUITE_PSK_AES128_CCM8, H.SCSV), exts)

    def _full_final(self, hs):
        cke = H.msg(H.HT_CLIENT_KEY_EXCHANGE, hs.mseq + 1, H.client_key_exchange(self.identity))
        hs.tr.extend(cke)
        pms = K.premaster(self._psk)
        hs.ms = K.master_secret(pms, hs.cr, hs.sr, K.sha256(hs.tr) if hs.ems else None)
        self._new_conn(hs)
        fin = H.msg(H.HT_FINISHED, hs.mseq + 2, K.verify_data(hs.ms, True, K.sha256(hs.tr)))
        hs.tr.extend(fin)
        hs.state = _W_CCS
        self._use_keys(hs.conn)
        self._flight([(R.CT_HANDSHAKE, 0, cke), (R.CT_CCS, 0, b"\x01"), (R.CT_HANDSHAKE, 1, fin)])
        self.session = Session(hs.sid, hs.ms, 0xC0A8, hs.ems)
        self.path_taken = "full-handshake"
        self.last_flight = None   # the server sends the last flight of a full handshake

    def _abbr_final(self, hs):
        # SH CCS Fin arrived and verified (in _on_msg); our CCS + Finished wait in `pending`
        fin = H.msg(H.HT_FINISHED, hs.mseq + 1, K.verify_data(hs.ms, True, K.sha256(hs.tr)))
        self._use_keys(hs.conn)
        self.pending = [(R.CT_CCS, 0, b"\x01"), (R.CT_HANDSHAKE, 1, fin)]
        self.last_flight = self.pending
        self.path_taken = "resume"

    def _new_conn(self, hs):
        ck, sk, civ, siv = K.key_block(hs.ms, hs.cr, hs.sr)
        variant = self.cid if self.cid is not None else R.CID_RFC9146
        hs.conn = R.Conn(1, ck, civ, sk, siv, hs.peer_cid, b"", variant, self.pad)

    def _use_keys(self, conn):
        """New write keys: persist them (hook) and restart the write sequence at 0, both
        before the first record is sealed with them."""
        if self.on_keys:
            self.on_keys(conn)
        self.conn = conn
        self.seq.start(0)

    def _flight(self, recs):
        """Send a flight and wait for the server's next flight (hs.done), retransmitting on a
        doubling timer and whenever the server repeats its previous flight (RFC 6347 4.2.4)."""
        hs = self.hs
        hs.done = False
        tries = 0
        rto = self.rto_ms
        retx = 0
        while True:
            self._send(recs)
            tries += 1
            t0 = ticks_ms()
            again = False
            while not again:
                left = rto - ticks_diff(ticks_ms(), t0)
                if left <= 0:
                    break
                dg = self.net.recv(left)
                if dg is None:
                    break
                if self._rx(dg):
                    retx += 1
                    again = True
                if hs.done:
                    return
            if tries >= self.max_tries:
                if retx and recs[-1][1] == 1:
                    # the server is alive and keeps repeating its flight: it could not
                    # authenticate our Finished, i.e. it derived other keys (wrong PSK)
                    raise DtlsAuthFailed("server never accepted our Finished (wrong PSK?)")
                raise DtlsNoAnswer("no answer after %d tries" % tries)
            if not again:
                rto = min(rto * 2, _MAX_RTO)

    def _on_msg(self, hs, mt, ms, body):
        """One whole in-order handshake message from the server."""
        st = hs.state
        if st == _W_SH and mt == H.HT_HELLO_VERIFY_REQUEST:
            hs.cookie = H.parse_hello_verify_request(body)
            self.cookie_len = len(hs.cookie)
            hs.hvr += 1
            hs.mseq += 1
            hs.rx.next_seq = ms + 1
            hs.done = True
            return
        if st == _W_SH and mt == H.HT_SERVER_HELLO:
            sh = H.parse_server_hello(body)
            if sh.version != b"\xfe\xfd" or sh.suites != H.SUITE_PSK_AES128_CCM8 or sh.comps != b"\x00":
                raise DtlsError("server hello: version/suite/compression not offered")
            ri = H.ext_get(sh.exts, H.EXT_RI)
            if ri is not None and ri != b"\x00":
                raise DtlsError("renegotiation_info not empty")
            ems = H.ext_get(sh.exts, H.EXT_EMS) is not None
            if ems and not self.ems:
                raise DtlsError("unsolicited extended_master_secret")
            hs.peer_cid = b""
            if self.cid is not None:
                c = H.ext_get(sh.exts, self.cid)
                if c is not None:
                    if len(c) < 1 or c[0] + 1 != len(c):
                        raise DtlsError("connection_id extension malformed")
                    hs.peer_cid = bytes(c[1:])
            hs.sr = sh.random
            hs.sid = sh.sid
            hs.ems = ems
            hs.tr = bytearray(hs.ch)
            hs.tr.extend(H.msg(mt, ms, body))
            s = hs.resume
            if s is not None and sh.sid == s.sid and sh.sid:
                if ems != s.ems:
                    raise DtlsError("EMS differs from the resumed session (RFC 7627 5.3)")
                hs.ms = s.ms
                self._new_conn(hs)
                hs.state = _W_CCS
                return
            if s is not None:
                if not self.resume_fallback:
                    raise DtlsSessionUnknown("server did not resume the session")
                hs.resume = None          # the server started a full handshake: go on
            hs.state = _W_SHD
            return
        if st == _W_SHD and mt == H.HT_SERVER_KEY_EXCHANGE:
            H.parse_psk_identity(body)    # PSK identity hint: not used
            hs.tr.extend(H.msg(mt, ms, body))
            return
        if st == _W_SHD and mt == H.HT_SERVER_HELLO_DONE:
            if body:
                raise DtlsError("server hello done not empty")
            hs.tr.extend(H.msg(mt, ms, body))
            hs.done = True
            return
        if st == _W_FIN and mt == H.HT_FINISHED:
            want = K.verify_data(hs.ms, False, K.sha256(hs.tr))
            if not ct_equal(want, body):
                raise DtlsAuthFailed("server Finished does not verify")
            hs.tr.extend(H.msg(mt, ms, body))
            hs.state = _DONE
            hs.done = True
            return
        raise DtlsError("unexpected handshake message %d" % mt)

    # -- records in ------------------------------------------------------------------------
    def _rx(self, dg):
        """Process one datagram. Returns True if the server repeated a flight we already
        answered (a cue to retransmit ours). Application data goes to self.rxq."""
        off = 0
        n = len(dg)
        retx = False
        while off < n:
            try:
                ct, ep, seq, cid, b0, b1 = R.parse(dg, off, 0)
            except DtlsError:
                self.dropped += 1
                break
            off = b1
            frag = dg[b0:b1]
            if ep == 0:
                retx |= self._rx_plain(ct, frag)
            elif ep == 1:
                retx |= self._rx_e1(ct, ep, seq, cid, frag, dg[b0 - R.HDR - len(cid):b1])
            else:
                self.dropped += 1
        return retx

    def _rx_plain(self, ct, frag):
        hs = self.hs
        if ct == R.CT_ALERT:
            self._alert(frag, False)
            return False
        if hs is None:
            # after the handshake: a repeated ServerHello flight means our final flight of an
            # abbreviated handshake was lost
            if ct == R.CT_HANDSHAKE and self.last_flight:
                return True
            return False
        if ct == R.CT_HANDSHAKE:
            try:
                if hs.state >= _W_CCS:
                    # full handshake: the server repeats SH..SHD, so it lost our final flight
                    return hs.rx.add(frag, False) > 0 and hs.resume is None
                old = hs.rx.add(frag)
            except DtlsError:
                self.dropped += 1    # malformed fragment: discard the record
                return False
            while True:
                m = hs.rx.next()
                if m is None:
                    break
                self._on_msg(hs, m[0], m[1], m[2])
                if hs.done and hs.state == _W_SH:
                    break   # HVR: the rest of the datagram is stale
            return old > 0 and not hs.done
        if ct == R.CT_CCS:
            if hs.state == _W_CCS and frag == b"\x01":
                hs.state = _W_FIN
                early = hs.early
                hs.early = []
                for e in early:
                    self._rx(e)
            return False
        self.dropped += 1
        return False

    def _rx_e1(self, ct, ep, seq, cid, frag, raw):
        hs = self.hs
        if hs is not None and hs.state < _W_FIN:
            if hs.conn is not None and len(hs.early) < 2:
                hs.early.append(bytes(raw))   # epoch 1 before the CCS (reordered): keep
            else:
                self.dropped += 1
            return False
        conn = hs.conn if hs is not None else self.conn
        if conn is None:
            self.dropped += 1
            return False
        if not conn.window.check(seq):
            self.replayed += 1
            self.dropped += 1
            return False
        try:
            rt, pt = conn.open(ct, ep, seq, cid, frag)
        except (CryptoError, DtlsError):
            self.bad_auth += 1
            self.dropped += 1
            return False
        conn.window.update(seq)
        if rt == R.CT_APP:
            if hs is None:
                self.rxq.append(pt)
                self.last_flight = None   # the server got our Finished
            return False
        if rt == R.CT_ALERT:
            self._alert(pt, True)
            return False
        if rt == R.CT_HANDSHAKE:
            if hs is not None:
                hs.rx.add(pt)
                m = hs.rx.next()
                if m is not None:
                    self._on_msg(hs, m[0], m[1], m[2])
                return False
            return bool(self.last_flight)   # server repeated its Finished
        self.dropped += 1
        return False

    def _alert(self, b, authentic):
        if len(b) != 2:
            self.dropped += 1
            return
        level, desc = b[0], b[1]
        if level == 1 and desc != 0:      # warning other than close_notify: ignore
            return
        self.alert = (level, desc)
        hs = self.hs
        if hs is not None:
            if desc in (20, 51, 115):  # bad_record_mac, decrypt_error, unknown_psk_identity
                raise err(DtlsAuthFailed, "alert %d during handshake" % desc, self.alert)
            if hs.resume is not None:
                raise err(DtlsSessionUnknown, "alert %d on resumption" % desc, self.alert)
            raise err(DtlsError, "alert %d during handshake" % desc, self.alert)
        self.conn = None
        self.last_flight = None
        raise err(DtlsSessionUnknown, "%s alert %d" % ("authentic" if authentic else "plaintext", desc),
                  self.alert)

    # -- records out -----------------------------------------------------------------------
    def _send(self, recs):
        out = bytearray()
        for ct, ep, payload in recs:
            if ep == 0:
                out.extend(R.header(ct, 0, self.e0seq, b"", len(payload)))
                out.extend(payload)
                self.e0seq += 1
            else:
                out.extend(self.conn.seal(ct, payload, self.seq.take()))
        if probe:
            probe()
        if self.tap:
            self.tap(out)
        self.net.send(out)

    # -- application data ------------------------------------------------------------------
    def send_app(self, data):
        """Protect `data` as one record with a fresh sequence number and send it, together
        with the pending final flight of an abbreviated handshake if there is one."""
        if self.conn is None:
            raise DtlsError("no connection")
        recs = [(R.CT_APP, 1, data)]
        if self.pending:
            recs = self.pending + recs
            self.last_flight = recs   # a lost final flight is resent with this record
            self.pending = None
        elif self.last_flight:
            self.last_flight = [r for r in self.last_flight if r[0] != R.CT_APP] + recs
        self._send(recs)

    def flush(self):
        """Send the pending final flight alone (nothing to piggyback)."""
        if self.pending:
            p = self.pending
            self.pending = None
            self._send(p)

    def close_notify(self):
        """Send a close_notify alert. Not for sleeping devices (it wakes the radio for nothing:
        the server keeps the session until it evicts it); interop tools use it to free
        single-connection peers such as `openssl s_server`."""
        if self.conn is not None:
            self.flush()
            self._send([(R.CT_ALERT, 1, b"\x01\x00")])

    def recv_app(self, timeout_ms):
        """The next authentic application record (bytes) or None after timeout_ms. A repeated
        server flight makes us resend our last flight; a fatal alert raises
        DtlsSessionUnknown; records that fail to authenticate are dropped and counted."""
        self.flush()
        if self.rxq:
            return self.rxq.pop(0)
        t0 = ticks_ms()
        while True:
            left = timeout_ms - ticks_diff(ticks_ms(), t0)
            if left <= 0:
                return None
            dg = self.net.recv(left)
            if dg is None:
                return None
            if self._rx(dg) and self.last_flight:
                self._send(self.last_flight)
            if self.rxq:
                return self.rxq.pop(0)
