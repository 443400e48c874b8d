"""DTLS 1.2 PSK security channel (the sec/base.Channel interface, duck-typed: no base class
code in the heap) over dtls/client.py.

What it does: offers the wake paths its persisted state allows ('cid', 'dtls-reuse', 'resume',
'full-handshake', cheapest first), runs what a path needs, moves CoAP messages as one DTLS record
each (a fresh sequence number per send, so a CoAP retransmission is a new record), persists
the session (for resumption) and the connection state (for 'cid' / 'dtls-reuse') and makes
sure a (key, epoch, sequence) nonce is never used twice, power cuts included.
What it does not do: CoAP retransmission (coap/exchange.py), choosing the path (wake/planner.py).

Persistence:
- RTC section 'sec': ver(1)=2 flags(1: 1 session, 2 connection) cookie_resume(1) cookie_full(1)
  [session: flags suite sid_len sid ms] [connection: record.Conn.dump()].
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
flash_conn (true), seq_rtc_block (16), seq_flash_block (256), cid_len_hint (4),
piggyback (false: after a resumption the first request goes in its own datagram, not with our
CCS+Finished), rebind_fallback (true: a fallback handshake from a fresh local port).
Secrets: psk_identity (str), psk_key (hex). The key is never logged or printed.
"""
from micropython import const

from coap import codec as C
from errors import ConfigError, SessionUnknown
from state import SeqReserve
from dtls import DtlsError
from dtls import record as R
from dtls.client import DtlsClient, ticks_ms, ticks_diff

_VER = const(2)


class DtlsChannel:
    kind = "dtls"

    def __init__(self, net, store, board, cfg, secrets):
        cfg = cfg or {}
        secrets = secrets or {}
        self.store = store
        ident = secrets.get("psk_identity") or ""
        try:
            psk = bytes.fromhex(secrets.get("psk_key") or "")
        except ValueError:
            raise ConfigError("secrets psk_key is not hex")
        self.has_psk = bool(psk) and bool(ident)
        cid = cfg.get("cid")
        if cid in (None, "none", False):
            cid = None
        else:
            cid = {"rfc9146": 54, "legacy53": 53, "legacy254": 254}.get(cid, cid)
            if cid not in (54, 53, 254):
                raise ConfigError("security.cid: null, rfc9146, legacy53 or legacy254")
        g = cfg.get
        c = self.client = DtlsClient(net, board.urandom, ident, psk, cid, g("ems", True),
                                     g("retransmit_ms", 1000), g("max_tries", 4), g("pad", 0),
                                     g("resume_fallback", "inline") != "raise")
        c.on_keys = self._on_keys
        # the first record after a resumption in a datagram of its own (default), or carried
        # with our CCS+Finished (piggyback: one datagram less; libcoap 4.3 never answers it)
        c.split = not g("piggyback", False)
        self.rebind = g("rebind_fallback", True)
        self.net = net
        self.tries = 0           # handshakes and connection uses tried this wake
        s = self.seq = c.seq = SeqReserve(store, "dw", g("seq_rtc_block", 16), g("seq_flash_block", 256))
        s._persist_flash = self._pf     # flash bound only while the keys it counts for are in flash
        self.fl = True
        self.flash_conn = g("flash_conn", True)
        self.cid_hint = g("cid_len_hint", 4)
        self.ck_resume = 255     # cookie length seen on the last resumption (255: unknown)
        self.ck_full = 255       # ... on the last full handshake
        self._restored = False
        self._coap_drop = 0
        self.dropped = 0
        self.last_error = None
        self.path_taken = None

    def _pf(self, b):
        if self.fl:
            SeqReserve._persist_flash(self.seq, b)
        else:
            self.seq.flash_bound = b

    # -- persistence -----------------------------------------------------------------------
    def save(self, conn=False):
        """The RTC section (with `conn` instead of the current connection if given)."""
        c = self.client
        if conn is False:
            conn = c.conn
        s = c.session
        return (bytes((_VER, (1 if s else 0) | (2 if conn else 0), self.ck_resume, self.ck_full))
                + (s or b"") + (conn.dump() if conn else b""))

    def restore(self, b):
        """Load what save() gave (RTC memory); without it, what flash kept. True if usable."""
        self._restored = True
        c = self.client
        st = self.store
        c.session = c.conn = None
        try:
            if b and len(b) >= 4 and b[0] == _VER:
                self.ck_resume, self.ck_full = b[2], b[3]
                p = 4
                if b[1] & 1:
                    n = p + 52 + b[p + 3]
                    if n > len(b):
                        raise IndexError
                    c.session = bytes(b[p:n])
                    p = n
                if b[1] & 2:
                    c.conn = R.load(b[p:])[0]
                    self.fl = bool(c.conn.peer_cid) and self.flash_conn
                    if not self.fl and st.get("qdw") is None:
                        c.conn = None     # no persisted counter for these keys: unusable
            else:
                # flash copies are checked as strictly as the checksummed RTC blob: a
                # truncated or damaged one means a full handshake, not a crash (issue #11, F6)
                s = st.flash_get("dtls_s")
                if s and len(s) > 3 and len(s) == 52 + s[3] and s[0] < 2 and s[3] <= 32 \
                        and s[1:3] == b"\xc0\xa8":
                    c.session = bytes(s)
                k = st.flash_get("dtls_c")
                if k:
                    c.conn, n = R.load(k, False)
                    if n != len(k):
                        raise IndexError
                    self.fl = True
        except (DtlsError, IndexError, ValueError, TypeError):
            c.session = c.conn = None
        if c.conn is not None and not self.seq.restore():
            c.conn = None
        return c.session is not None or c.conn is not None

    def _on_keys(self, conn):
        """New write keys, before their first record: put them where they must be and only
        then let the client restart the counter (SeqReserve.start commits RTC memory)."""
        st = self.store
        fl = bool(conn.peer_cid) and self.flash_conn
        if fl:
            st.flash_put("dtls_c", conn.dump(False))
        elif st.flash_get("dtls_c"):
            st.flash_put("dtls_c", b"")
        self.fl = fl
        st.put("sec", self.save(conn))

    def _drop(self, conn, sess):
        c = self.client
        st = self.store
        if conn and c.conn is not None:
            c.conn = None
            if st.flash_get("dtls_c"):
                st.flash_put("dtls_c", b"")
        if sess and c.session is not None:
            c.session = None
            st.flash_put("dtls_s", b"")
        st.put("sec", self.save())

    def forget(self):
        self._drop(1, 1)

    def forget_path(self, path):
        """The wake cycle calls this when `path` failed: drop what proved unusable."""
        self._drop(path in ("cid", "dtls-reuse"),
                   path == "resume" and isinstance(self.last_error, SessionUnknown))

    def settle(self):
        if self.client.conn is not None:
            self.client.send_app()
            self.seq.settle()

    # -- paths -----------------------------------------------------------------------------
    def paths(self):
        if not self._restored:
            self.restore(self.store.get("sec"))
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
        if not self._restored:
            self.restore(self.store.get("sec"))
        c = self.client
        self.last_error = None
        self.path_taken = None
        self.tries += 1
        if path in ("cid", "dtls-reuse"):
            if c.conn is None:
                raise SessionUnknown("no DTLS connection")
            self.path_taken = path
            return
        if path == "resume":
            if c.session is None:
                raise SessionUnknown("no DTLS session")
        elif path != "full-handshake" or not self.has_psk:
            raise ConfigError("DTLS: no path " + path)
        c.conn = None            # a handshake replaces the connection: free its keys now
        n = self.net
        if self.tries > 1 and self.rebind and n.dg_up and hasattr(n, "dst"):
            # a fallback handshake from a fresh local port, as a NAT rebind would give: a server
            # that holds a session for our old address may ignore a new ClientHello from it
            # (libcoap 4.3, docs/dtls.md). The byte counters go on.
            k = (n.up, n.down, n.dg_up, n.dg_down)
            n.close()
            n.__init__(n.dst[0], n.dst[1])
            n.up, n.down, n.dg_up, n.dg_down = k
        try:
            c.handshake(path == "resume")
        except Exception as e:
            self.last_error = e
            if c.conn is not None:
                self._drop(1, 0)    # keys the server never confirmed
            raise
        self.path_taken = c.path_taken
        if c.path_taken == "full-handshake":
            self.ck_full = max(c.cookie_len, 0)
            self.store.flash_put("dtls_s", c.session)
        else:
            self.ck_resume = max(c.cookie_len, 0)
        self.store.put("sec", self.save())

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
                d = c.recv_app(left) if left > 0 else None
                if d is None:
                    return None
                try:
                    return C.decode(d)
                except C.CoapError as e:
                    self._coap_drop += 1
                    self.last_error = e
        except SessionUnknown as e:
            self.last_error = e
            self._drop(1, 0)
            raise
        finally:
            self.dropped = c.dropped + self._coap_drop
            if c.dropped and self.last_error is None:
                self.last_error = "dtls: %d dropped, %d bad auth, %d replayed" % (
                    c.dropped, c.bad_auth, c.replayed)

    # -- cost ------------------------------------------------------------------------------
    def estimate(self, path):
        """(bytes_up, bytes_down, datagrams, round_trips) of the path with a 13-byte Update and
        a 5-byte ACK (UDP payload bytes, as the byte meter counts them)."""
        if not self._restored:
            self.restore(self.store.get("sec"))
        c = self.client
        L = len(c.conn.peer_cid) if c.conn is not None else (self.cid_hint if c.cid is not None else 0)
        rec = 30 + L if L else 29            # record overhead client -> server
        if path in ("cid", "dtls-reuse"):
            return (rec + 13, 34, 2, 1)
        ems = 4 if c.ems else 0
        cx = 5 if c.cid is not None else 0
        chx = (2 + ems + cx) if (ems or cx) else 0
        down = 95 + 7 + ems + ((5 + L) if cx else 0) + 14 + 53 + 29 + 5    # SH .. Fin, ACK
        up = 2 * rec + 24 + 13 + 14
        if path == "resume":
            ck = 0 if self.ck_resume == 255 else self.ck_resume
            ch = 101 + chx
            up += ch
            sp = 1 if c.split else 0     # the Update in a datagram of its own
            if ck:
                return (up + ch + ck, down + 28 + ck, 6 + sp, 3)
            return (up, down, 4 + sp, 2)
        ck = 16 if self.ck_full == 255 else self.ck_full
        ch = 69 + chx
        up += ch + 27 + len(c.identity)
        down += 25
        if ck:
            return (up + ch + ck, down + 28 + ck, 8, 4)
        return (up, down, 6, 3)
