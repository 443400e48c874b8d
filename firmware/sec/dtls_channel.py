"""DTLS 1.2 PSK security channel (sec/base.Channel) over dtls/client.py.

What it does: offers the wake paths its persisted state allows ('cid', 'dtls-reuse', 'resume',
'full-handshake', cheapest first), runs what a path needs, moves CoAP messages as one DTLS record
each (a fresh sequence number per send, so a CoAP retransmission is a new record), persists
the session (for resumption) and the connection state (for 'cid' / 'dtls-reuse') and makes
sure a (key, epoch, sequence) nonce is never used twice, power cuts included.
What it does not do: CoAP retransmission (coap/exchange.py), choosing the path (wake/planner.py).

Persistence:
- RTC section SECTION ('sec'): ver(1) flags(1) cookie_resume(1) cookie_full(1)
  [session: flags suite sid ms] [connection: keys IVs CIDs variant replay window].
- Write sequence numbers: state.SeqReserve 'dw' (RTC section 'qdw', flash 'seq_dw'): each
  number is below a bound persisted before it is used. New keys: their RTC section is put
  into the store before the counter restarts (one RTC commit writes both).
- Flash (rare writes, survives power cuts): 'dtls_s' the session, written after each full
  handshake; 'dtls_c' the connection keys, only when the server gave a CID (then the counter's
  flash bound is kept too), written before the counter restarts for those keys, erased when a
  connection without CID replaces it. Keys only in RTC memory die with it: no reuse possible.

Config (board security dict): mode 'psk' (or 'dtls'), cid: null | 'rfc9146' | 'legacy53' |
'legacy254', ems (true), retransmit_ms (1000), max_tries (4), pad (0), resume_fallback
('inline': go on with the full handshake the server starts | 'raise': SessionUnknown),
flash_conn (true), seq_rtc_block (16), seq_flash_block (256), cid_len_hint (4).
Secrets: psk_identity (str), psk_key (hex). The key is never logged or printed.
"""
import struct

from coap import codec as C
from errors import ConfigError, SessionUnknown
from sec.base import Channel
from state import SeqReserve
from dtls import DtlsError
from dtls import record as R
from dtls.client import DtlsClient, Session, ticks_ms, ticks_diff

SECTION = "sec"
_VER = 1
_FK_SESSION = "dtls_s"
_FK_CONN = "dtls_c"
_F_SESSION = 1
_F_CONN = 2
_CIDS = {"rfc9146": R.CID_RFC9146, "legacy53": R.CID_LEGACY53, "legacy254": R.CID_LEGACY254,
         54: R.CID_RFC9146, 53: R.CID_LEGACY53, 254: R.CID_LEGACY254}


class _WriteSeq(SeqReserve):
    """SeqReserve whose flash bound is kept only while the keys it counts for are in flash."""
    use_flash = True

    def _persist_flash(self, bound):
        if self.use_flash:
            super()._persist_flash(bound)
        else:
            self.flash_bound = bound


class DtlsChannel(Channel):
    kind = "dtls"
    est_coap_up = 13     # estimate(): a 13-byte Update (POST /rd/5a3f, 1-byte token)
    est_coap_down = 5    # and its 5-byte ACK 2.04

    def __init__(self, net, store, board, cfg, secrets):
        super().__init__(net, store, board, cfg, secrets)
        cfg = cfg or {}
        secrets = secrets or {}
        ident = secrets.get("psk_identity") or ""
        key = secrets.get("psk_key")
        psk = None
        if key:
            try:
                psk = bytes.fromhex(key)
            except ValueError:
                raise ConfigError("secrets psk_key is not hex")
        self.has_psk = bool(psk) and bool(ident)
        cid = cfg.get("cid")
        if cid in (None, "none", False, 0):
            cid = None
        elif cid in _CIDS:
            cid = _CIDS[cid]
        else:
            raise ConfigError("security.cid %r: null, rfc9146, legacy53 or legacy254" % (cid,))
        self.client = DtlsClient(net, board.urandom, ident, psk or b"", cid,
                                 cfg.get("ems", True), cfg.get("retransmit_ms", 1000),
                                 cfg.get("max_tries", 4), cfg.get("pad", 0),
                                 cfg.get("resume_fallback", "inline") != "raise")
        self.client.on_keys = self._on_keys
        self.seq = _WriteSeq(store, "dw", cfg.get("seq_rtc_block", 16), cfg.get("seq_flash_block", 256))
        self.client.seq = self.seq
        self.flash_conn = cfg.get("flash_conn", True)
        self.cid_hint = cfg.get("cid_len_hint", 4)
        self.ck_resume = 255     # cookie length seen on the last resumption (255: unknown)
        self.ck_full = 255       # ... on the last full handshake
        self._restored = False
        self._coap_drop = 0
        self.path_taken = None

    def __repr__(self):
        return "<DtlsChannel>"

    # -- persistence -----------------------------------------------------------------------
    def _blob(self, conn):
        c = self.client
        f = (_F_SESSION if c.session else 0) | (_F_CONN if conn else 0)
        out = bytes((_VER, f, self.ck_resume, self.ck_full))
        if c.session:
            out += c.session.dump()
        if conn:
            out += conn.dump()
        return out

    def save(self):
        return self._blob(self.client.conn)

    def restore(self, b):
        """Load what save() gave (RTC memory); without it, what flash kept. True if usable."""
        self._restored = True
        c = self.client
        c.session = None
        c.conn = None
        try:
            if b and len(b) >= 4 and b[0] == _VER:
                self.ck_resume, self.ck_full = b[2], b[3]
                p = 4
                if b[1] & _F_SESSION:
                    c.session, n = Session.load(b[p:])
                    p += n
                if b[1] & _F_CONN:
                    c.conn = R.Conn.load(b[p:])[0]
                    self.seq.use_flash = bool(c.conn.peer_cid) and self.flash_conn
                    if not self.seq.use_flash and self.store.get("qdw") is None:
                        c.conn = None     # no persisted counter for these keys: unusable
            else:
                s = self.store.flash_get(_FK_SESSION)
                if s:
                    c.session = Session.load(s)[0]
                k = self.store.flash_get(_FK_CONN)
                if k:
                    c.conn = R.Conn.load(k, False)[0]
                    self.seq.use_flash = True
        except DtlsError:
            c.session = None
            c.conn = None
        if c.conn is not None and not self.seq.restore():
            c.conn = None
        return c.session is not None or c.conn is not None

    def _ensure(self):
        if not self._restored:
            self.restore(self.store.get(SECTION))

    def _on_keys(self, conn):
        """New write keys, before their first record: put them where they must be and only
        then let the client restart the counter (SeqReserve.start commits RTC memory)."""
        fl = bool(conn.peer_cid) and self.flash_conn
        if fl:
            self.store.flash_put(_FK_CONN, conn.dump(False))
        elif self.store.flash_get(_FK_CONN):
            self.store.flash_put(_FK_CONN, b"")
        self.seq.use_flash = fl
        self.store.put(SECTION, self._blob(conn))

    def _drop_conn(self):
        if self.client.conn is not None:
            self.client.conn = None
            if self.store.flash_get(_FK_CONN):
                self.store.flash_put(_FK_CONN, b"")
            self.store.put(SECTION, self._blob(None))

    def forget(self):
        self._drop_conn()
        if self.client.session is not None:
            self.client.session = None
            self.store.flash_put(_FK_SESSION, b"")
        self.store.put(SECTION, self._blob(None))

    def forget_path(self, path):
        """The wake cycle calls this when `path` failed: drop what proved unusable."""
        if path in ("cid", "dtls-reuse"):
            self._drop_conn()
        elif path == "resume" and isinstance(self.last_error, SessionUnknown):
            self.client.session = None
            self.store.flash_put(_FK_SESSION, b"")
            self.store.put(SECTION, self._blob(self.client.conn))

    def settle(self):
        if self.client.conn is not None:
            self.client.flush()
            self.seq.settle()

    # -- paths -----------------------------------------------------------------------------
    def paths(self):
        self._ensure()
        c = self.client
        out = []
        if c.conn is not None:
            out.append("cid" if c.conn.peer_cid else "dtls-reuse")
        if c.session is not None:
            out.append("resume")
        if self.has_psk:
            out.append("full-handshake")
        return out

    def connect(self, path):
        self._ensure()
        c = self.client
        self.last_error = None
        self.path_taken = None
        if path in ("cid", "dtls-reuse"):
            if c.conn is None:
                raise SessionUnknown("no DTLS connection state to reuse")
            self.path_taken = path
            return
        if path == "resume":
            if c.session is None:
                raise SessionUnknown("no DTLS session to resume")
        elif path == "full-handshake":
            if not self.has_psk:
                raise ConfigError("no PSK identity/key in the secrets")
        else:
            raise ConfigError("DTLS channel has no path " + path)
        old = c.conn
        try:
            c.handshake(path == "resume")
        except Exception as e:
            self.last_error = e
            if c.conn is not old:
                self._drop_conn()    # keys the server never confirmed
            raise
        self.path_taken = c.path_taken
        if c.path_taken == "full-handshake":
            self.ck_full = c.cookie_len if c.cookie_len >= 0 else 0
            self.store.flash_put(_FK_SESSION, c.session.dump())
        else:
            self.ck_resume = c.cookie_len if c.cookie_len >= 0 else 0
        self.store.put(SECTION, self._blob(c.conn))

    # -- messages --------------------------------------------------------------------------
    def send(self, msg):
        if self.client.conn is None:
            raise SessionUnknown("no DTLS connection")
        self.client.send_app(C.encode(msg))

    def recv(self, timeout_ms):
        c = self.client
        t0 = ticks_ms()
        try:
            while True:
                left = timeout_ms - ticks_diff(ticks_ms(), t0)
                if left <= 0:
                    return None
                d = c.recv_app(left)
                if d is None:
                    return None
                try:
                    return C.decode(d)
                except C.CoapError as e:
                    self._coap_drop += 1
                    self.last_error = "coap: %s" % e
        except SessionUnknown as e:
            self.last_error = e
            self._drop_conn()
            raise
        finally:
            self.dropped = c.dropped + self._coap_drop
            if c.dropped and self.last_error is None:
                self.last_error = "dtls: %d records dropped (%d failed authentication, %d replayed)" % (
                    c.dropped, c.bad_auth, c.replayed)

    # -- cost ------------------------------------------------------------------------------
    def estimate(self, path):
        """(bytes_up, bytes_down, datagrams, round_trips) of the path with a 13-byte Update
        and a 5-byte ACK (UDP payload bytes, as measured by the byte meter)."""
        self._ensure()
        c = self.client
        cu, cd = self.est_coap_up, self.est_coap_down
        L = len(c.conn.peer_cid) if c.conn is not None else (self.cid_hint if c.cid is not None else 0)
        rec_up = 13 + L + 8 + 1 + 8 if L else 29      # record overhead client -> server
        if path in ("cid", "dtls-reuse"):
            return (rec_up + cu, 29 + cd, 2, 1)
        ems = 4 if c.ems else 0
        cid_ext = 5 if c.cid is not None else 0
        ch_ext = (2 + ems + cid_ext) if (ems or cid_ext) else 0
        sh_ext = 2 + 5 + ems + ((5 + L) if c.cid is not None else 0)   # RI + EMS + CID echoed
        fin_up = rec_up + 24
        if path == "resume":
            ck = 0 if self.ck_resume == 255 else self.ck_resume
            ch = 25 + 2 + 32 + 1 + 32 + 1 + 6 + 2 + ch_ext
            up = ch + 14 + fin_up + rec_up + cu
            down = 25 + 2 + 32 + 1 + 32 + 3 + sh_ext + 14 + 53 + 29 + cd
            if ck:
                return (up + ch + ck, down + 28 + ck, 6, 3)
            return (up, down, 4, 2)
        ck = 16 if self.ck_full == 255 else self.ck_full
        ch = 25 + 2 + 32 + 1 + 1 + 6 + 2 + ch_ext
        up = ch + 27 + len(c.identity) + 14 + fin_up + rec_up + cu
        down = 25 + 2 + 32 + 1 + 32 + 3 + sh_ext + 25 + 14 + 53 + 29 + cd
        if ck:
            return (up + ch + ck, down + 28 + ck, 8, 4)
        return (up, down, 6, 3)
