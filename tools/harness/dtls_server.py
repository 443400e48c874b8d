"""DTLS 1.2 PSK server role for the harness (CPython): the plugin the LwM2M server hands every
datagram whose first byte is a DTLS content type (20..25).

What it does: stateless HMAC cookies (RFC 6347 4.2.1), PSK lookup by identity (RFC 4279),
TLS_PSK_WITH_AES_128_CCM_8 only, SCSV/renegotiation_info echo (RFC 5746), extended master
secret (RFC 7627, echoed when offered), a session cache for resumption by session ID with
configurable eviction (max age, max entries) and an optional cookie exchange on resumption
(skipped by default: RFC 6347 4.2.1 lets the server skip it), Connection ID (RFC 9146 ext 54
and the legacy code points 53/254 with the draft AAD) with sessions found by CID and the peer
address updated only after an authentic record newer than any seen (RFC 9146 6), padded CID
records accepted, retransmission of its last flight when the client repeats its own (and on a
timer when an asyncio loop runs), `restart()` to forget everything (fallback tests).
Records, handshake codecs and the key schedule are the harness's own (harness/dtls_wire.py,
written from the RFCs; nothing from firmware/ is imported), so a firmware misreading of an RFC
fails here instead of passing against itself; checked against OpenSSL, libcoap and Mbed TLS
clients (host_tests/interop/test_dtls_interop.py, test_harness_peers.py).
What it does not do: certificates, tickets, renegotiation, close_notify handling beyond
dropping the association.

Constructor: DtlsPlugin(server, psk=None, cookie=True, cookie_on_resume=False, cookie_len=16,
    sid_len=32, cid=True, cid_len=4, session_max_age=86400, session_max_entries=1000,
    ems=True, alert_on_bad_finished=True, retransmit_s=1.0, max_tries=4, pad=0)
  psk: dict identity(str) -> key (bytes or hex str); default the test PSK
  (Client_identity -> 000102030405060708090a0b0c0d0e0f).
"""
import hashlib
import hmac as _hmac
import os

from harness import coap as C      # CoAP inside the records: the harness's own codec
from harness import dtls_wire as W
from harness.dtls_wire import (ext, parse_client_hello, server_hello, hello_verify_request,  # noqa: F401
                               parse_psk_identity, Hello, WireError as DtlsError)

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APP, CT_CID = W.CT_CCS, W.CT_ALERT, W.CT_HANDSHAKE, W.CT_APP, W.CT_CID
HT_CLIENT_HELLO, HT_SERVER_HELLO, HT_HELLO_VERIFY_REQUEST = 1, 2, 3
HT_SERVER_HELLO_DONE, HT_CLIENT_KEY_EXCHANGE, HT_FINISHED = 14, 16, 20
HS_HDR = W.HS_HDR
SUITE_PSK_AES128_CCM8, SCSV, EXT_EMS, EXT_RI = W.SUITE_PSK_AES128_CCM8, W.SCSV, W.EXT_EMS, W.EXT_RI
AL_HANDSHAKE_FAILURE, AL_DECRYPT_ERROR, AL_BAD_RECORD_MAC, AL_UNKNOWN_PSK_IDENTITY = 40, 51, 20, 115
CID_RFC9146, CID_LEGACY53, CID_LEGACY254 = W.CID_RFC9146, W.CID_LEGACY53, W.CID_LEGACY254
_CID_EXTS = (CID_RFC9146, CID_LEGACY53, CID_LEGACY254)
_W_CKE, _W_CCS, _W_FIN = 1, 2, 3


class DtlsPeer:
    """One DTLS association (the `peer` handed to server.deliver)."""

    def __init__(self, plugin, addr, identity, conn, sid, cid):
        self.plugin = plugin
        self.addr = addr
        self.identity = identity
        self.conn = conn
        self.sid = sid
        self.cid = cid                       # the server's CID (in the client's records)
        self.mode = "dtls-cid" if cid else "dtls"
        self.wseq = 1                        # the server Finished used 0 (full handshake)
        self.last_flight = None              # server's final flight (full handshake)
        self.rx_records = 0
        self.e0seq = 0

    def __repr__(self):
        return "<DtlsPeer %s %s:%d cid=%s>" % (self.identity, self.addr[0], self.addr[1], self.cid.hex())


class _Hs:
    def __init__(self, addr):
        self.addr = addr
        self.state = _W_CKE
        self.cr = self.sr = self.sid = b""
        self.ch_random = b""
        self.tr = bytearray()
        self.mseq = 0          # server message_seq
        self.rx_next = 0       # next client message_seq
        self.ems = False
        self.resume = None     # session dict when abbreviated
        self.ms = None
        self.identity = None
        self.conn = None
        self.variant = CID_RFC9146
        self.client_cid = b""
        self.server_cid = b""
        self.e0seq = 0
        self.flight = None     # last flight sent (list of (ctype, epoch, payload))
        self.wseq = 0
        self.timer = None
        self.tries = 0


class DtlsPlugin:
    name = "dtls"

    def __init__(self, server, psk=None, cookie=True, cookie_on_resume=False, cookie_len=16,
                 sid_len=32, cid=True, cid_len=4, session_max_age=86400, session_max_entries=1000,
                 ems=True, alert_on_bad_finished=True, retransmit_s=1.0, max_tries=4, pad=0):
        self.server = server
        if psk is None:
            psk = {"Client_identity": "000102030405060708090a0b0c0d0e0f"}
        self.psk = {k: (bytes.fromhex(v) if isinstance(v, str) else bytes(v)) for k, v in psk.items()}
        self.cookie = cookie
        self.cookie_on_resume = cookie_on_resume
        self.cookie_len = cookie_len
        self.sid_len = sid_len
        self.cid = cid
        self.cid_len = cid_len
        self.session_max_age = session_max_age
        self.session_max_entries = session_max_entries
        self.ems = ems
        self.alert_on_bad_finished = alert_on_bad_finished
        self.retransmit_s = retransmit_s
        self.max_tries = max_tries
        self.pad = pad
        self.stats = {"handshakes": 0, "resumptions": 0, "hvr": 0, "bad_auth": 0, "replayed": 0,
                      "unknown_cid": 0, "rebind": 0, "alerts_sent": 0, "delivered": 0}
        self.restart()

    def restart(self):
        """Forget every session, association and handshake (a server restart)."""
        for hs in list(getattr(self, "hs", {}).values()):
            self._cancel(hs)
        self.secret = os.urandom(32)
        self.hs = {}          # addr -> _Hs
        self.hs_cid = {}      # server CID -> _Hs (the client's Finished may carry it)
        self.by_addr = {}     # addr -> DtlsPeer (records without CID)
        self.by_cid = {}      # server CID -> DtlsPeer
        self.sessions = {}    # sid -> {"ms", "ems", "identity", "t", "peer"}

    # -- plumbing --------------------------------------------------------------------------
    def claims(self, data):
        return len(data) >= 13 and 20 <= data[0] <= 25

    def _log(self, kind, **f):
        self.server.log("dtls-" + kind, **f)

    def _now(self):
        return self.server.clock.now()

    def _send(self, addr, recs, hs=None, peer=None):
        out = bytearray()
        for ct, ep, payload in recs:
            if ep == 0:
                st = hs if hs is not None else peer
                out += W.header(ct, 0, st.e0seq, len(payload)) + payload
                st.e0seq += 1
            else:
                conn = hs.conn if hs is not None else peer.conn
                if hs is not None:
                    seq = hs.wseq
                    hs.wseq += 1
                else:
                    seq = peer.wseq
                    peer.wseq += 1
                out += conn.seal(ct, payload, seq)
        self.server.sendto(bytes(out), addr)

    def _alert(self, addr, desc, hs=None):
        self.stats["alerts_sent"] += 1
        self.server.sendto(W.header(CT_ALERT, 0, hs.e0seq if hs else 0, 2) + bytes((2, desc)), addr)

    # retransmission timer (only when an asyncio loop runs; RFC 6347 4.2.4)
    def _arm(self, hs):
        self._cancel(hs)
        if not self.retransmit_s or hs.tries >= self.max_tries:
            return
        try:
            import asyncio
            loop = asyncio.get_running_loop()
        except (RuntimeError, ImportError):
            return
        hs.timer = loop.call_later(self.retransmit_s * (1 << hs.tries), self._fire, hs)

    def _cancel(self, hs):
        if hs.timer is not None:
            hs.timer.cancel()
            hs.timer = None

    def _fire(self, hs):
        hs.timer = None
        if self.hs.get(hs.addr) is hs and hs.flight:
            hs.tries += 1
            self._send(hs.addr, hs.flight, hs)
            self._arm(hs)

    # -- input -----------------------------------------------------------------------------
    def datagram_received(self, data, addr):
        try:
            for rec in W.records(data, self.cid_len):
                if rec.ct == CT_CID:
                    self._rx_cid(addr, rec)
                elif rec.epoch == 0:
                    self._rx_plain(addr, rec.ct, rec.seq, rec.body)
                else:
                    hs = self.hs.get(addr)
                    if hs is not None and hs.state == _W_FIN and not hs.server_cid:
                        self._rx_hs_e1(hs, rec)
                    else:
                        peer = self.by_addr.get(addr)
                        if peer is None:
                            self._log("drop", why="epoch %d record from unknown address" % rec.epoch, src=addr)
                            continue
                        self._rx_peer(peer, addr, rec)
        except DtlsError as e:             # RFC 6347 4.1.2.7: drop the rest of the datagram
            self._log("drop", why=str(e), src=addr)

    def _rx_cid(self, addr, rec):
        hs = self.hs_cid.get(rec.cid)
        if hs is not None and hs.state == _W_FIN:
            self._rx_hs_e1(hs, rec)
            return
        peer = self.by_cid.get(rec.cid)
        if peer is None:
            self.stats["unknown_cid"] += 1
            self._log("drop", why="unknown cid " + rec.cid.hex(), src=addr)
            return
        self._rx_peer(peer, addr, rec)

    def _rx_peer(self, peer, addr, rec):
        conn = peer.conn
        newer = rec.seq > conn.top
        r = None
        if rec.epoch == conn.epoch:
            try:
                r = conn.open(rec)     # checks the replay window, moves it once authentic
            except DtlsError as e:
                self.stats["bad_auth"] += 1
                self._log("drop", why="record failed authentication: %s" % e, src=addr)
                return
        if r is None:
            self.stats["replayed"] += 1
            self._log("drop", why="replayed or old record seq %d" % rec.seq, src=addr)
            return
        ct = rec.ct
        rt, pt = r
        peer.rx_records += 1
        if newer and addr != peer.addr and ct == CT_CID:
            # RFC 9146 6: authentic and newer than anything received: follow the new address
            self.stats["rebind"] += 1
            self._log("rebind", ident=peer.identity, old="%s:%d" % peer.addr, new="%s:%d" % addr)
            if self.by_addr.get(peer.addr) is peer:
                del self.by_addr[peer.addr]
            peer.addr = addr
            self.by_addr[addr] = peer
        if rt == CT_APP:
            try:
                m = C.decode(pt)
            except C.CoapError as e:
                self._log("drop", why="malformed CoAP in DTLS: %s" % e, src=addr)
                return
            self.stats["delivered"] += 1
            self.server.deliver(peer, m)
        elif rt == CT_ALERT:
            self._log("alert", level=pt[0] if pt else -1, desc=pt[1] if len(pt) > 1 else -1, src=addr)
            if len(pt) == 2 and (pt[0] == 2 or pt[1] == 0):
                self._forget_peer(peer)
        elif rt == CT_HANDSHAKE and peer.last_flight:
            # the client repeats its Finished: our CCS + Finished were lost
            self._send(peer.addr, peer.last_flight, peer=peer)

    def _forget_peer(self, peer):
        if self.by_addr.get(peer.addr) is peer:
            del self.by_addr[peer.addr]
        if peer.cid and self.by_cid.get(peer.cid) is peer:
            del self.by_cid[peer.cid]

    def _rx_plain(self, addr, ct, seq, frag):
        hs = self.hs.get(addr)
        if ct == CT_ALERT:
            self._log("alert", level=frag[0] if frag else -1, desc=frag[1] if len(frag) > 1 else -1, src=addr)
            if hs is not None:
                self._cancel(hs)
                del self.hs[addr]
            return
        if ct == CT_CCS:
            if hs is not None and hs.state == _W_CCS and frag == b"\x01":
                hs.state = _W_FIN
            return
        if ct != CT_HANDSHAKE:
            return
        off = 0
        while off < len(frag):
            try:
                mt, ln, ms, fo, fl = W.hs_header(frag, off)
            except DtlsError as e:
                self._log("drop", why=str(e), src=addr)
                return
            body = frag[off + HS_HDR:off + HS_HDR + fl]
            off += HS_HDR + fl
            if fo != 0 or fl != ln or len(body) != ln:
                self._log("drop", why="fragmented handshake message (not supported here)", src=addr)
                return
            if mt == HT_CLIENT_HELLO:
                self._client_hello(addr, seq, ms, body)
            elif hs is not None and mt == HT_CLIENT_KEY_EXCHANGE and hs.state == _W_CKE and ms == hs.rx_next:
                self._cke(hs, ms, body)
            elif hs is not None and ms < hs.rx_next and hs.flight:
                self._send(addr, hs.flight, hs)        # client repeated a message: resend
                return
            else:
                peer = self.by_addr.get(addr)
                if peer is not None and peer.last_flight and mt == HT_CLIENT_KEY_EXCHANGE:
                    self._send(addr, peer.last_flight, peer=peer)
                    return
                self._log("drop", why="unexpected handshake message %d" % mt, src=addr)

    def _cookie(self, addr, ch):
        m = ("%s:%d" % addr).encode() + ch.random + ch.sid + bytes(x & 0xFF for x in ch.suites)
        return _hmac.new(self.secret, m, hashlib.sha256).digest()[:self.cookie_len]

    def _session(self, sid):
        s = self.sessions.get(sid) if sid else None
        if s is not None and self._now() - s["t"] > self.session_max_age:
            del self.sessions[sid]
            return None
        return s

    def _store_session(self, sid, ms, ems, identity, peer):
        now = self._now()
        for k in [k for k, v in self.sessions.items() if now - v["t"] > self.session_max_age]:
            del self.sessions[k]
        self.sessions[sid] = {"ms": ms, "ems": ems, "identity": identity, "t": now, "peer": peer}
        while len(self.sessions) > self.session_max_entries:
            old = min(self.sessions, key=lambda k: self.sessions[k]["t"])
            del self.sessions[old]

    def _client_hello(self, addr, rseq, ms, body):
        try:
            ch = parse_client_hello(body)
        except DtlsError as e:
            self._log("drop", why=str(e), src=addr)
            return
        hs = self.hs.get(addr)
        if hs is not None and hs.ch_random == ch.random:
            if hs.flight:
                self._send(addr, hs.flight, hs)   # our flight was lost: resend
            return
        if SUITE_PSK_AES128_CCM8 not in ch.suites or 0 not in ch.comps:
            self._alert(addr, AL_HANDSHAKE_FAILURE)
            self._log("fail", why="no common cipher suite", src=addr)
            return
        sess = self._session(ch.sid)
        offered_ems = EXT_EMS in ch.exts
        if sess is not None and sess["ems"] != (offered_ems and self.ems):
            sess = None          # RFC 7627 5.3: no abbreviated handshake across EMS states
        need_cookie = self.cookie and (sess is None or self.cookie_on_resume)
        if need_cookie and not _hmac.compare_digest(ch.cookie, self._cookie(addr, ch)):
            # stateless: HVR with the ClientHello's record sequence number (RFC 6347 4.2.1)
            self.stats["hvr"] += 1
            hvr = W.hs_msg(HT_HELLO_VERIFY_REQUEST, ms, hello_verify_request(self._cookie(addr, ch)))
            self.server.sendto(W.header(CT_HANDSHAKE, 0, rseq, len(hvr)) + hvr, addr)
            return
        old = self.hs.pop(addr, None)
        if old is not None:
            self._cancel(old)
            self.hs_cid.pop(old.server_cid, None)
        hs = _Hs(addr)
        hs.ch_random = ch.random
        hs.cr = ch.random
        hs.sr = os.urandom(32)
        hs.mseq = ms
        hs.rx_next = ms + 1
        hs.e0seq = rseq
        hs.tr = bytearray(W.hs_msg(HT_CLIENT_HELLO, ms, body))
        exts = b""
        if SCSV in ch.suites or EXT_RI in ch.exts:
            exts += ext(EXT_RI, b"\x00")
        if offered_ems and self.ems:
            exts += ext(EXT_EMS, b"")
            hs.ems = True
        if self.cid:
            for t in _CID_EXTS:
                v = ch.exts.get(t)
                if v is not None and len(v) >= 1 and v[0] + 1 == len(v):
                    hs.variant = t
                    hs.client_cid = bytes(v[1:])
                    while True:
                        hs.server_cid = os.urandom(self.cid_len) if self.cid_len else b""
                        if not hs.server_cid or (hs.server_cid not in self.by_cid and hs.server_cid not in self.hs_cid):
                            break
                    exts += ext(t, bytes((len(hs.server_cid),)) + hs.server_cid)
                    break
        self.hs[addr] = hs
        if hs.server_cid:
            self.hs_cid[hs.server_cid] = hs
        if sess is not None:
            hs.resume = sess
            hs.sid = ch.sid
            hs.identity = sess["identity"]
            hs.ms = sess["ms"]
            sh = W.hs_msg(HT_SERVER_HELLO, hs.mseq, server_hello(hs.sr, hs.sid, SUITE_PSK_AES128_CCM8, exts))
            hs.tr.extend(sh)
            self._keys(hs)
            fin = W.hs_msg(HT_FINISHED, hs.mseq + 1, W.verify_data(hs.ms, False, hs.tr))
            hs.tr.extend(fin)
            hs.state = _W_CCS
            hs.flight = [(CT_HANDSHAKE, 0, sh), (CT_CCS, 0, b"\x01"), (CT_HANDSHAKE, 1, fin)]
        else:
            hs.sid = os.urandom(self.sid_len)
            sh = W.hs_msg(HT_SERVER_HELLO, hs.mseq, server_hello(hs.sr, hs.sid, SUITE_PSK_AES128_CCM8, exts))
            shd = W.hs_msg(HT_SERVER_HELLO_DONE, hs.mseq + 1, b"")
            hs.tr.extend(sh)
            hs.tr.extend(shd)
            hs.state = _W_CKE
            hs.flight = [(CT_HANDSHAKE, 0, sh), (CT_HANDSHAKE, 0, shd)]
        self._send(addr, hs.flight, hs)
        self._arm(hs)

    def _keys(self, hs):
        ck, sk, civ, siv = W.key_block(hs.ms, hs.cr, hs.sr)
        hs.conn = W.Protection(1, sk, siv, ck, civ, hs.client_cid, hs.server_cid, hs.variant, self.pad)

    def _cke(self, hs, ms, body):
        try:
            ident = parse_psk_identity(body)
        except DtlsError as e:
            self._log("drop", why=str(e), src=hs.addr)
            return
        try:
            identity = ident.decode()
        except UnicodeError:
            identity = None
        psk = self.psk.get(identity)
        if psk is None:
            self._log("fail", why="unknown PSK identity", src=hs.addr)
            self._alert(hs.addr, AL_UNKNOWN_PSK_IDENTITY, hs)
            self._cancel(hs)
            self.hs.pop(hs.addr, None)
            return
        hs.identity = identity
        hs.tr.extend(W.hs_msg(HT_CLIENT_KEY_EXCHANGE, ms, body))
        hs.rx_next = ms + 1
        pms = W.psk_premaster(psk)
        hs.ms = W.master_secret(pms, hs.cr, hs.sr, W.transcript_hash(hs.tr) if hs.ems else None)
        self._keys(hs)
        hs.state = _W_CCS
        self._cancel(hs)

    def _rx_hs_e1(self, hs, rec):
        """The client's Finished (epoch 1), maybe a CID record."""
        try:
            rt, pt = hs.conn.open(rec) or (None, None)
        except DtlsError as e:
            self.stats["bad_auth"] += 1
            self._log("fail", why="client Finished failed authentication (wrong PSK?): %s" % e, src=hs.addr)
            if self.alert_on_bad_finished:
                self._alert(hs.addr, AL_BAD_RECORD_MAC, hs)
            self._end_hs(hs)
            return
        if rt != CT_HANDSHAKE or len(pt) < HS_HDR:
            self._log("drop", why="expected Finished", src=hs.addr)
            return
        mt, ln, ms, fo, fl = W.hs_header(pt, 0)
        want = W.verify_data(hs.ms, True, hs.tr)
        if mt != HT_FINISHED or not _hmac.compare_digest(bytes(pt[HS_HDR:]), want):
            self._log("fail", why="client Finished does not verify", src=hs.addr)
            self._alert(hs.addr, AL_DECRYPT_ERROR, hs)
            self._end_hs(hs)
            return
        hs.tr.extend(pt)
        peer = DtlsPeer(self, hs.addr, hs.identity, hs.conn, hs.sid, hs.server_cid)
        if hs.resume is None:
            fin = W.hs_msg(HT_FINISHED, hs.mseq + 2, W.verify_data(hs.ms, False, hs.tr))
            hs.flight = [(CT_CCS, 0, b"\x01"), (CT_HANDSHAKE, 1, fin)]
            self._send(hs.addr, hs.flight, hs)
            peer.last_flight = hs.flight
            self.stats["handshakes"] += 1
            self._log("handshake", ident=hs.identity, src="%s:%d" % hs.addr, cid=hs.server_cid.hex(),
                      ems=hs.ems, variant=hs.variant if hs.server_cid else 0)
        else:
            self.stats["resumptions"] += 1
            self._log("resumed", ident=hs.identity, src="%s:%d" % hs.addr, cid=hs.server_cid.hex())
        peer.wseq = hs.wseq
        peer.e0seq = hs.e0seq
        old = self._session(hs.sid)
        if old is not None and old.get("peer") is not None:
            self._forget_peer(old["peer"])
        prev = self.by_addr.get(hs.addr)
        if prev is not None:
            self._forget_peer(prev)
        self._store_session(hs.sid, hs.ms, hs.ems, hs.identity, peer)
        self.by_addr[hs.addr] = peer
        if peer.cid:
            self.by_cid[peer.cid] = peer
        self._end_hs(hs)

    def _end_hs(self, hs):
        self._cancel(hs)
        if self.hs.get(hs.addr) is hs:
            del self.hs[hs.addr]
        if self.hs_cid.get(hs.server_cid) is hs:
            del self.hs_cid[hs.server_cid]

    # -- output ----------------------------------------------------------------------------
    def send_message(self, peer, msg):
        """Protect one CoAP message as one record for the peer and send it to peer.addr."""
        self._send(peer.addr, [(CT_APP, 1, C.encode(msg))], peer=peer)
