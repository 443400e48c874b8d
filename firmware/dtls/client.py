"""DTLS 1.2 PSK client association (RFC 6347), TLS_PSK_WITH_AES_128_CCM_8: the resident part.

What it does: records in and out, application data, alerts, the final flight of an abbreviated
handshake kept in `pending` so the first application record rides in the same datagram, and
its retransmission when the server repeats its flight. handshake() imports dtls/handshake.py
(full and abbreviated handshakes, cookies, retransmission timers, reassembly, RFC 5746 SCSV,
RFC 7627 EMS, RFC 9146 CID offer) and drops it from sys.modules when done: the 'cid' and
'dtls-reuse' paths never load it.
What it does not do: persistence (the `on_keys` hook and the `seq` counter: start(v), take(),
see sec/dtls_channel.py), renegotiation, certificates, tickets, close_notify before sleeping.

session: bytes flags(1) suite(2) sid_len(1) sid ms(48) (flags bit 0: extended master secret).
"""
from crypto import CryptoError
from dtls import DtlsError, DtlsSessionUnknown, ticks_ms, ticks_diff  # noqa: F401
from dtls import record as R


class DtlsClient:
    """One DTLS association with one server over `net` (send / recv(timeout_ms)).

    cid: None or the extension code point to offer (54 RFC 9146, 53, 254 legacy). ems: offer
    extended_master_secret. pad: CID record padding (0: none). resume_fallback: if the server
    answers a resumption with a new session, go on with that full handshake (True) or raise
    DtlsSessionUnknown (False)."""

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
        self.seq = None          # start(v) / take(): write sequence numbers (persisted)
        self.on_keys = None      # hook(conn): persist new keys before their first use
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
        self.split = False       # our final flight and the first record in separate datagrams

    def __repr__(self):   # never show keys
        return "<DtlsClient>"

    def handshake(self, resume=False):
        """Full handshake, or (resume) the abbreviated one with self.session, leaving our final
        flight in `pending`. The handshake code is freed afterwards."""
        import gc
        import log
        from dtls import handshake as H
        try:
            H.Hs(self, resume).run()
        finally:
            self.hs = None
            H = None
            log.unload("dtls.handshake")
            log.unload("crypto.hmac")
            gc.collect()

    def _rx(self, dg):
        """One datagram. Returns True if the server repeated a flight we answered (resend ours).
        Application data goes to rxq; a fatal alert or close_notify raises SessionUnknown."""
        off = 0
        retx = False
        while off < len(dg):
            try:
                ct, ep, seq, cid, b0, b1 = R.parse(dg, off, 0)
            except DtlsError:
                self.dropped += 1
                break
            frag = dg[b0:b1]
            r0 = off
            off = b1
            hs = self.hs
            if hs is not None and (ep == 0 or hs.state < 4):
                retx |= hs.rec(ct, ep, frag, dg[r0:b1])
                continue
            if ep:
                conn = hs.conn if hs is not None else self.conn
                if conn is None or ep != conn.epoch:
                    self.dropped += 1
                    continue
                try:
                    r = conn.open(ct, ep, seq, cid, frag)
                except (CryptoError, DtlsError):
                    self.bad_auth += 1
                    self.dropped += 1
                    continue
                if r is None:
                    self.replayed += 1
                    self.dropped += 1
                    continue
                ct, frag = r
                if hs is not None:
                    retx |= hs.rec(ct, None, frag, None)
                    continue
            if ct == 23 and ep:
                self.rxq.append(frag)
                self.last_flight = None   # the server got our Finished
            elif ct == 21 and len(frag) == 2:
                if frag[0] == 1 and frag[1]:
                    continue              # warning other than close_notify: ignore
                self.alert = (frag[0], frag[1])
                self.conn = None
                self.last_flight = None
                raise DtlsSessionUnknown("alert %d" % frag[1])
            elif ct == 22:
                retx |= bool(self.last_flight)   # the server repeats its flight: ours was lost
            else:
                self.dropped += 1
        return retx

    def _send(self, recs):
        """One datagram with records [(type, epoch, payload)]; epoch 1 takes a fresh seq."""
        out = bytearray()
        for ct, ep, p in recs:
            if ep:
                out.extend(self.conn.seal(ct, p, self.seq.take()))
            else:
                out.extend(R.hdr(ct, 0, self.e0seq, b"", len(p)))
                out.extend(p)
                self.e0seq += 1
        self.net.send(out)

    def send_app(self, data=None):
        """Protect `data` as one record with a fresh sequence number and send it, after the
        pending final flight of an abbreviated handshake if there is one (same datagram).
        data None: send only the pending flight (flush)."""
        recs = self.pending
        self.pending = None
        if data is not None:
            if self.conn is None:
                raise DtlsError("no connection")
            r = [(23, 1, data)]
            if recs:
                recs = self.last_flight = recs + r   # a lost final flight goes again with it
            else:
                if self.last_flight:
                    self.last_flight = [x for x in self.last_flight if x[0] != 23] + r
                recs = r
        if recs:
            if self.split and len(recs) > 1 and recs[-1][0] == 23:
                self._send(recs[:-1])     # split: our final flight, then the record alone
                recs = recs[-1:]          # (libcoap 4.3 never answers one with the Finished)
            self._send(recs)

    def recv_app(self, timeout_ms):
        """The next authentic application record (bytes) or None after timeout_ms. A repeated
        server flight makes us resend our last flight; a fatal alert raises SessionUnknown."""
        self.send_app()
        t0 = ticks_ms()
        while not self.rxq:
            left = timeout_ms - ticks_diff(ticks_ms(), t0)
            dg = self.net.recv(left) if left > 0 else None
            if dg is None:
                return None
            if self._rx(dg) and self.last_flight:
                r = self.last_flight
                if self.split and len(r) > 1 and r[-1][0] == 23:
                    self._send(r[:-1])
                    r = r[-1:]
                self._send(r)
        return self.rxq.pop(0)
