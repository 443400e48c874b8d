"""OSCORE security channel (RFC 8613): protects each CoAP message of the wake with one context."""
#
# What it does: keeps the client's OSCORE context usable across deep sleep and power cuts
# (App. B.1.1), re-derives a fresh one with the App. B.2 exchange when it is lost, protects
# requests (own Sender Sequence Number) and responses to server requests (request nonce),
# verifies what comes back, and caches the protected bytes of each message by MID so a CoAP
# retransmission resends the same bytes (never re-protected: same PIV, same ciphertext).
# What it does not do: CoAP retransmission, MIDs, tokens (coap/exchange.py does), nor pick the
# path (wake/planner.py does, from paths()).
# The sec.base.Channel interface, duck-typed (no base class: its code would cost heap). The
# channel is also its own OSCORE context (the attributes oscore.protect/unprotect use: sid,
# rid, idc, key, top, bits): no separate context object. Attribute names are chosen among
# names the firmware interns anyway where that reads well (heap: see oscore/__init__.py).
#
# Paths: 'oscore'    a context and its SSN are persisted and usable: no set-up at all.
#        'oscore-b2' only the master secret is provisioned (or the context proved lost):
#                    connect() runs B.2 steps 1-3, the next request is request #2.
# connect() derives the keys with oscore/kdf.py (HKDF, B.2) and drops that module again:
# during the exchanges only crypto/__init__.py, oscore/__init__.py and this module are loaded.
#
# Config (cfg = the board config's security dict):
#   kid_context_cbor_wrap  False   True: kid context on the wire as a CBOR bstr (Californium)
#   rederive               True    False: a static provisioned context (no B.2): the SSN
#                                  starts at 0 on first use and is persisted from then on
#   b2_timeout_ms, b2_tries        request #1 retransmission (default 2000 ms, 4 tries)
#   seq_rtc_block, seq_flash_block SeqReserve blocks K (RTC) and F (flash), default 16 / 256
# Secrets: secrets["oscore"] = {"master_secret": hex, "master_salt": hex, "sender_id": hex,
#   "recipient_id": hex, "id_context": hex (optional)}. Keys are never logged; the master
#   secret is parsed only inside the derivation.
#
# Echo (App. B.1.2, RFC 9175): a server that lost its replay window answers a request with a
# *protected* 4.01 carrying an Echo option. recv() returns that 4.01 like any response (its
# Echo option visible to the caller) and remembers the value (`echo`); the caller repeats the
# request as a new exchange (new MID) and send() adds the Echo option to that next request by
# itself (once).
#
# Session loss: an *unprotected* 4.01/4.02/4.00 answering one of our OSCORE requests means the
# server has no (usable) context for us (RFC 8613 8.2): recv() raises errors.SessionUnknown;
# the wake cycle calls forget_path('oscore') and the next path is 'oscore-b2'.
# A malformed, unverifiable or replayed message is a ProtocolError inside: dropped, counted.
#
# Persisted: SSN bounds (state.SeqReserve 'osc': RTC section 'qosc' + flash 'seq_osc'); the
# ID Context in flash ('osc' = 01 | idc, written once per B.2 *before* the SSN restarts;
# 00 once forgotten): the flash copy says which context the SSN bounds belong to. save()
# returns (for the RTC section 'sec') the replay window for server requests, bound to its
# ID Context:  ver(1)=1 | window top+1 (5) | window bitmap (4) | idc_len (1, 0xFF = none) | idc
# Observe (RFC 8613 8.3, 4.1.3.5.2): every response with an Observe option (a notification,
# also at a later wake) is protected with its own Partial IV (an SSN, never the request's
# nonce again) and bound to the Observe request's (kid, PIV), kept in the RTC section 'osq':
# n x [tlen | token | klen | kid | plen | piv] (the last _OBS_KEEP observations).
from micropython import const

from coap import codec as C
from errors import ConfigError, ProtocolError, SessionUnknown
from oscore import option_of, protect, unprotect
from state import SeqReserve

_KEEP = const(4)          # remembered requests/responses per direction (per wake)
_CON = const(0)
_ACK = const(2)
_BAD_REQUEST = const(128)     # 4.00 .. 4.02 (coap.codec BAD_REQUEST, UNAUTHORIZED, BAD_OPTION)
_BAD_OPTION = const(130)
_ECHO = const(252)
_UNAUTHORIZED = const(129)
_OBSERVE = const(6)
_OBS_KEEP = const(8)      # observations whose request id is kept (RTC section 'osq')


class OscoreChannel:
    kind = "oscore"

    def __init__(self, net, store, board, cfg, secrets):
        self.net = net
        self.store = store
        self.board = board
        self.cfg = cfg = cfg or {}
        self.dropped = 0
        self.last_error = None
        self.path_taken = None
        self.secrets = o = (secrets or {}).get("oscore")   # its master secret: in connect()
        try:
            self.sid = bytes.fromhex(o["sender_id"])
            self.rid = bytes.fromhex(o["recipient_id"])
            i = o.get("id_context")
            self.idc = bytes.fromhex(i) if i else None    # a static context's; B.2's later
        except Exception:
            raise ConfigError("secrets: oscore sender_id/recipient_id/id_context")
        self.wrap = bool(cfg.get("kid_context_cbor_wrap", False))
        self.rederive = bool(cfg.get("rederive", True))
        self.seq = SeqReserve(store, "osc", int(cfg.get("seq_rtc_block", 16)),
                              int(cfg.get("seq_flash_block", 256)))
        self.ok = False           # restore() found a context and its SSN
        self.key = None           # (sender CCM, recipient CCM, Common IV): connect()
        self.top = -1             # replay window for server requests (see oscore)
        self.bits = 0
        self.echo = None          # Echo value to send with the next request (B.1.2)
        self.kid_ctx = None       # B.2: send this kid context until a response verifies
        self.q = []               # [(token, req_id, ours)] our requests and the server's
        self.out = []             # [(mtype, mid, bytes)] protected bytes sent, by MID
        self.restore(None)        # flash alone may hold a usable context (after a power cut)

    # -- persistence ----------------------------------------------------------------------
    def restore(self, b):
        self.ok = False
        if self.rederive:
            f = self.store.flash_get("osc")
            if not f or f[0] == 0:
                return False                 # never derived, or forgotten: needs B.2
            self.idc = bytes(f[1:])
        if b and len(b) >= 11 and b[0] == 1 and \
                (None if b[10] == 0xFF else bytes(b[11:11 + b[10]])) == self.idc:
            self.top = int.from_bytes(b[1:6], "big") - 1
            self.bits = int.from_bytes(b[6:10], "big")
        self.ok = self.seq.restore()
        return self.ok

    def save(self):
        i = self.idc
        return (b"\x01" + (self.top + 1).to_bytes(5, "big") + self.bits.to_bytes(4, "big") +
                bytes((0xFF if i is None else len(i),)) + (i or b""))

    def forget(self, path="oscore"):
        # also forget_path(path), which the wake cycle calls when a path failed: only
        # 'oscore' has state to drop
        if path == "oscore":
            self.ok = False
            self.key = None
            self.kid_ctx = None
            self.echo = None
            self.store.flash_put("osc", b"\x00")
            self.store.drop("osq")           # its observations' request ids go with it

    forget_path = forget

    def settle(self):
        self.seq.settle()

    # -- paths ----------------------------------------------------------------------------
    def paths(self):
        if not self.rederive:
            return ["oscore"]
        return ["oscore", "oscore-b2"] if self.ok else ["oscore-b2"]

    def estimate(self, path):
        # wire-budget.md 2.4: Update POST /rd/xxxx with a 1-byte token and 1-byte PIV:
        # 4 + 1 + option (1 + 1 + 1 + kid) + 0xFF + inner (1 + 8) + tag 8; 2.04 = 16
        k = len(self.sid)
        if path == "oscore":
            return (26 + k, 16, 2, 1)
        w = 1 if self.wrap else 0
        # request #1 (27 + kid + wrap), response #1 (26 + wrap), request #2 + 17 + wrap
        return (70 + 2 * k + 2 * w, 42 + w, 4, 2)

    def connect(self, path):
        if path not in ("oscore", "oscore-b2"):
            raise ConfigError("OSCORE channel has no path " + str(path))
        self.path_taken = path           # (the contract: sec/base.py)
        if path == "oscore" and not self.ok:
            if self.rederive:
                raise SessionUnknown("no OSCORE context: oscore-b2")
            self.seq.start(0)                # static context, first use
            self.ok = True
        from oscore import kdf
        try:
            if path == "oscore":
                kdf.load(self, self.secrets, self.idc)
            else:
                kdf.b2(self)
        finally:
            from log import unload
            unload("oscore.kdf")      # its code and HKDF cost no heap during the exchanges

    # -- messages -------------------------------------------------------------------------
    def send(self, msg):
        c = self.out
        for t, mid, data in c:
            if t == msg.mtype and mid == msg.mid and msg.code:
                self.net.send(data)          # CoAP retransmission: the same bytes
                return
        if msg.code == 0:
            self.net.send(C.encode(msg))     # ACK / RST / ping: not protected
            return
        if self.key is None:
            raise SessionUnknown("OSCORE not connected")
        q = self.q
        if msg.is_request():
            if self.echo is not None and msg.get(_ECHO) is None:
                msg.add(_ECHO, self.echo)
                self.echo = None
            prot, r = protect(self, msg, self.seq.take(), None, self.kid_ctx, self.wrap)
            q.append((msg.token, r, True))
            if len(q) > 2 * _KEEP:
                q.pop(0)
        else:
            r = None
            for t, i, ours in q:
                if t == msg.token and not ours:
                    r = i
            obs = msg.get(_OBSERVE) is not None
            if obs:
                r = self._obs(msg.token, r)
            if r is None:
                raise ProtocolError("response to no server request")
            prot = protect(self, msg, self.seq.take() if obs else None, r)[0]
        data = C.encode(prot)
        c.append((msg.mtype, msg.mid, data))
        if len(c) > _KEEP:
            c.pop(0)
        self.net.send(data)

    def _obs(self, tok, r):
        # The Observe request id for token tok: remembered when r is given (the registration
        # response), looked up otherwise (a notification at a later wake). None if unknown.
        s = self.store.get("osq") or b""
        es = []
        i = 0
        while i < len(s):
            n = s[i]
            t = bytes(s[i + 1:i + 1 + n])
            i += 1 + n
            k = bytes(s[i + 1:i + 1 + s[i]])
            i += 1 + s[i]
            v = bytes(s[i + 1:i + 1 + s[i]])
            i += 1 + s[i]
            if t == tok:
                if r is None:
                    return (k, v)
                continue
            es.append((t, k, v))
        if r is None:
            return None
        es.append((bytes(tok), bytes(r[0]), bytes(r[1])))
        b = bytearray()
        for t, k, v in es[-_OBS_KEEP:]:
            for x in (t, k, v):
                b.append(len(x))
                b.extend(x)
        self.store.put("osq", bytes(b))
        return r

    def recv(self, timeout_ms):
        """The next message that verified, None on timeout; drops (and counts) the rest."""
        from log import recv         # (the shared deadline loop; local: no module global)
        b = self.board
        t0 = b.ticks_ms()
        while True:
            d = recv(self.net, b, t0, timeout_ms)
            if d is None:
                return None
            try:
                m = C.decode(d)
                if m.code == 0:
                    return m
                if self.key is None:
                    raise ProtocolError("not connected")
                opt = option_of(m, self.wrap)
                q = self.q
                if m.is_response():                      # a response to one of ours
                    r = None
                    for t, i, ours in q:
                        if t == m.token and ours:
                            r = i
                    if r is None:
                        raise ProtocolError("response to no request")
                    if opt is None:
                        if _BAD_REQUEST <= m.code <= _BAD_OPTION:   # 4.00, 4.01, 4.02 unprotected
                            raise SessionUnknown("unprotected %s: server lost our context"
                                                 % C.code_str(m.code))
                        raise ProtocolError("unprotected")
                    m = unprotect(self, m, opt, r)[0]
                    self.kid_ctx = None              # the server has our context (B.2)
                    if m.code == _UNAUTHORIZED and m.get(_ECHO) is not None:
                        self.echo = m.get(_ECHO)     # B.1.2: repeat the request with it
                    return m
                if opt is None:
                    raise ProtocolError("unprotected")
                dup = False
                if m.mtype == _CON:
                    for t, mid, data in self.out:
                        if t == _ACK and mid == m.mid:
                            self.net.send(data)      # duplicate server request: same answer
                            dup = True
                if not dup:
                    if opt[2] != self.rid or (opt[1] is not None and opt[1] != self.idc):
                        raise ProtocolError("malformed")
                    m, r, _p = unprotect(self, m, opt)
                    q.append((m.token, r, False))
                    if len(q) > 2 * _KEEP:
                        q.pop(0)
                    return m
            except (ProtocolError, ValueError) as e:     # C.CoapError is a ValueError
                self.dropped += 1
                self.last_error = str(e)
