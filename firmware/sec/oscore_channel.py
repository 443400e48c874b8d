"""OSCORE security channel (RFC 8613): protects each CoAP message of the wake with one context."""
#
# What it does: keeps the client's OSCORE context usable across deep sleep and power cuts
# (App. B.1.1), re-derives a fresh one with the App. B.2 exchange when it is lost, protects
# requests (own Sender Sequence Number) and responses to server requests (request nonce),
# verifies what comes back, and caches the protected bytes of each message by MID so a CoAP
# retransmission resends the same bytes (never re-protected: same PIV, same ciphertext).
# What it does not do: CoAP retransmission, MIDs, tokens (coap/exchange.py does), nor pick the
# path (wake/planner.py does, from paths()).
#
# Paths: 'oscore'    a context and its SSN are persisted and usable: no set-up at all.
#        'oscore-b2' only the master secret is provisioned (or the context proved lost):
#                    connect() runs B.2 steps 1-3, the next request is request #2.
#
# Config (cfg = the board config's security dict):
#   kid_context_cbor_wrap  False   True: kid context on the wire as a CBOR bstr (Californium)
#   rederive               True    False: a static provisioned context (no B.2): the SSN
#                                  starts at 0 on first use and is persisted from then on
#   b2_timeout_ms, b2_tries        request #1 retransmission (default 2000 ms, 4 tries)
#   seq_rtc_block, seq_flash_block SeqReserve blocks K (RTC) and F (flash), default 16 / 256
# Secrets: secrets["oscore"] = {"master_secret": hex, "master_salt": hex, "sender_id": hex,
#   "recipient_id": hex, "id_context": hex (optional)}. Keys are never logged.
#
# Echo (App. B.1.2, RFC 9175): a server that lost its replay window answers a request with a
# *protected* 4.01 carrying an Echo option. recv() returns that 4.01 like any response (its
# Echo option visible to the caller) and remembers the value (`echo`); the caller repeats the
# request as a new exchange (new MID) and send() adds the Echo option to that next request by
# itself (once). So the rule for the CoAP/LwM2M layer is RFC 9175's: "4.01 with Echo: repeat
# the request once". Nothing else is needed.
#
# Session loss: an *unprotected* 4.01/4.02/4.00 answering one of our OSCORE requests means the
# server has no (usable) context for us (RFC 8613 8.2): recv() raises ContextUnknown (a
# SessionUnknown); the planner calls forget() and the next wake takes 'oscore-b2'.
#
# Persisted: SSN bounds (state.SeqReserve 'osc': RTC section 'qosc' + flash 'seq_osc');
# the ID Context in flash ('osc_idc', written once per B.2; b"\x00" once forgotten) and, with
# the replay window for server requests, in the bytes returned by save() (the wake cycle keeps
# them in the RTC section 'sec' and hands them back to restore()):
#   ver(1)=1 | window top+1 (5) | window bitmap (4) | idc_len (1, 0xFF = none) | idc
from binascii import unhexlify

from micropython import const

from coap import codec as C
from errors import AuthFailed, ConfigError, NoAnswer
from oscore import OscoreError, ContextUnknown
from oscore.context import Context, ReplayWindow
from oscore.protect import (protect_request, protect_response, unprotect_request,
                            unprotect_response, option_of)
from sec.base import Channel
from state import SeqReserve

_KEEP = const(4)          # remembered requests/responses per direction (per wake)
_FLASH_IDC = "osc_idc"


def _hex(o, k, need):
    v = o.get(k)
    if v is None:
        if need:
            raise ConfigError("secrets: oscore." + k + " missing")
        return None
    try:
        return unhexlify(v)
    except Exception:
        raise ConfigError("secrets: oscore." + k + " is not hex")


def _push(lst, item):
    lst.append(item)
    if len(lst) > _KEEP:
        lst.pop(0)


class OscoreChannel(Channel):
    kind = "oscore"

    def __init__(self, net, store, board, cfg, secrets):
        super().__init__(net, store, board, cfg or {}, secrets)
        o = (secrets or {}).get("oscore")
        if not isinstance(o, dict):
            raise ConfigError("secrets: no 'oscore' section")
        self._ms = _hex(o, "master_secret", True)
        self._salt = _hex(o, "master_salt", False) or b""
        self.sid = _hex(o, "sender_id", True)
        self.rid = _hex(o, "recipient_id", True)
        self.idc0 = _hex(o, "id_context", False)
        cfg = self.cfg
        self.wrap = bool(cfg.get("kid_context_cbor_wrap", False))
        self.rederive = bool(cfg.get("rederive", True))
        self.seq = SeqReserve(store, "osc", int(cfg.get("seq_rtc_block", 16)),
                              int(cfg.get("seq_flash_block", 256)))
        self.idc = None           # ID Context of the current context
        self.usable = False       # restore() found a context and its SSN
        self.ctx = None           # built by connect()
        self.window = ReplayWindow()
        self.echo = None          # Echo value to send with the next request (B.1.2)
        self.kid_ctx = None       # B.2: send this kid context until a response verifies
        self.mid_fn = None        # optional MID source for B.2 request #1 (exchange.next_mid)
        self._out = []            # [(token, req_id)] our requests
        self._in = []             # [(token, req_id)] server requests being answered
        self._cache = []          # [(mtype, mid, bytes)] protected bytes by MID
        self.b2_runs = 0
        self.restore(None)        # flash alone may hold a usable context (after a power cut)

    # -- persistence ----------------------------------------------------------------------
    def restore(self, b):
        idc = None
        found = False
        if b and len(b) >= 11 and b[0] == 1:
            try:
                self.window.from_bytes(b[1:10])
            except ValueError:
                pass
            n = b[10]
            idc = None if n == 0xFF else bytes(b[11:11 + n])
            found = True
        f = self.store.flash_get(_FLASH_IDC)
        if f is not None and len(f) >= 1:
            if f[0] == 0:
                self.usable = False          # forgotten: needs B.2
                return False
            if not found:
                idc = bytes(f[1:])
                found = True
        if not found and not self.rederive:
            idc = self.idc0
            found = True
        self.idc = idc
        self.usable = found and self.seq.restore()
        return self.usable

    def save(self):
        w = self.ctx.replay if self.ctx else self.window
        i = self.idc
        return (b"\x01" + w.to_bytes() + bytes((0xFF if i is None else len(i),)) +
                (i or b""))

    def forget(self):
        self.usable = False
        self.ctx = None
        self.kid_ctx = None
        self.echo = None
        self.store.flash_put(_FLASH_IDC, b"\x00")

    def forget_path(self, path):
        # the wake cycle calls this when a path failed: only 'oscore' has state to drop
        if path == "oscore":
            self.forget()

    def settle(self):
        self.seq.settle()

    # -- paths ----------------------------------------------------------------------------
    def paths(self):
        if self.usable:
            return ["oscore", "oscore-b2"] if self.rederive else ["oscore"]
        return ["oscore-b2"] if self.rederive else ["oscore"]

    def estimate(self, path):
        # wire-budget.md 2.4: Update POST /rd/xxxx with a 1-byte token and 1-byte PIV:
        # 4 + 1 + option (1 + 1 + 1 + kid) + 0xFF + inner (1 + 8) + tag 8; 2.04 = 16
        k = len(self.sid)
        up = 26 + k
        down = 16
        if path == "oscore":
            return (up, down, 2, 1)
        w = 1 if self.wrap else 0
        # request #1 (27 + kid + wrap), response #1 (26 + wrap), request #2 + 17 + wrap
        return (up + 27 + k + w + 17 + w, down + 26 + w, 4, 2)

    def _derive(self, idc):
        return Context(self._ms, self._salt, self.sid, self.rid, idc)

    def connect(self, path):
        if path == "oscore":
            if not self.usable:
                if self.rederive:
                    raise ContextUnknown("no persisted OSCORE context: use oscore-b2")
                self.idc = self.idc0
                self.seq.start(0)            # static context, first use
                self.usable = True
            w = self.window
            self.ctx = self._derive(self.idc)
            self.ctx.replay = w
            return
        if path != "oscore-b2":
            raise ConfigError("OSCORE channel has no path " + str(path))
        self._b2()

    # -- App. B.2, client side, steps 1 and 3 ----------------------------------------------
    def _b2(self):
        b = self.board
        r1 = bytes(b.urandom(8))
        c1 = self._derive(r1)
        mid = self.mid_fn() if self.mid_fn else (b.urandom(1)[0] << 8) | b.urandom(1)[0]
        tok = bytes(b.urandom(1))
        prot, req_id = protect_request(c1, C.Message(C.CON, C.POST, mid, tok), 0, r1,
                                       self.wrap)
        c1 = None
        data = C.encode(prot)
        timeout = int(self.cfg.get("b2_timeout_ms", 2000))
        tries = int(self.cfg.get("b2_tries", 4))
        self.b2_runs += 1
        for _ in range(tries):
            self.net.send(data)
            t0 = b.ticks_ms()
            while True:
                left = timeout - b.ticks_diff(b.ticks_ms(), t0)
                if left <= 0:
                    break
                d = self.net.recv(left)
                if d is None:
                    break
                r2 = self._b2_response(d, tok, r1, req_id)
                if r2 is not None:
                    r3 = bytes(b.urandom(8))
                    self.idc = r2 + r3
                    self.ctx = self._derive(self.idc)
                    self.window = self.ctx.replay
                    self.seq.start(0)
                    self.kid_ctx = self.idc
                    self.store.flash_put(_FLASH_IDC, b"\x01" + self.idc)
                    self.usable = True
                    return
            timeout *= 2
        raise NoAnswer("OSCORE B.2: no response #1")

    def _b2_response(self, d, tok, r1, req_id):
        """Response #1: 4.01 protected with ID Context R2||R1, kid context R2. -> R2 or None."""
        try:
            m = C.decode(d)
            if m.token != tok or not m.is_response():
                return None
            if m.mtype == C.CON:
                self.net.send(C.encode(C.Message(C.ACK, C.EMPTY, m.mid)))
            opt = option_of(m, self.wrap)
            if opt is None:
                if m.code in (C.UNAUTHORIZED, C.BAD_REQUEST, C.BAD_OPTION):
                    raise AuthFailed("OSCORE B.2 request #1 refused (%s): wrong keys or ids"
                                     % C.code_str(m.code))
                return None
            r2 = opt[1]
            if not r2:
                return None
            unprotect_response(self._derive(r2 + r1), m, req_id, opt)
            return r2
        except (OscoreError, ValueError) as e:
            self.dropped += 1
            self.last_error = str(e)
            return None

    # -- messages -------------------------------------------------------------------------
    def send(self, msg):
        for t, mid, data in self._cache:
            if t == msg.mtype and mid == msg.mid and msg.code:
                self.net.send(data)          # CoAP retransmission: the same bytes
                return
        if msg.code == C.EMPTY:
            self.net.send(C.encode(msg))     # ACK / RST / ping: not protected
            return
        if self.ctx is None:
            raise ContextUnknown("OSCORE channel not connected")
        if msg.is_request():
            if self.echo is not None and msg.get(C.ECHO) is None:
                msg.add(C.ECHO, self.echo)
                self.echo = None
            prot, req_id = protect_request(self.ctx, msg, self.seq.take(), self.kid_ctx,
                                           self.wrap)
            _push(self._out, (msg.token, req_id))
        else:
            req_id = None
            for t, r in self._in:
                if t == msg.token:
                    req_id = r
            if req_id is None:
                raise OscoreError("response to no verified server request")
            prot = protect_response(self.ctx, msg, req_id)
        data = C.encode(prot)
        _push(self._cache, (msg.mtype, msg.mid, data))
        self.net.send(data)

    def recv(self, timeout_ms):
        b = self.board
        t0 = b.ticks_ms()
        while True:
            left = timeout_ms - b.ticks_diff(b.ticks_ms(), t0)
            if left <= 0:
                return None
            d = self.net.recv(left)
            if d is None:
                return None
            try:
                m = self._open(d)
            except OscoreError as e:
                self.dropped += 1
                self.last_error = str(e)
                continue
            except C.CoapError as e:
                self.dropped += 1
                self.last_error = str(e)
                continue
            if m is not None:
                return m

    def _open(self, d):
        m = C.decode(d)
        if m.code == C.EMPTY:
            return m
        if self.ctx is None:
            raise OscoreError("OSCORE channel not connected")
        opt = option_of(m, self.wrap)
        if m.is_response():
            req_id = None
            for t, r in self._out:
                if t == m.token:
                    req_id = r
            if req_id is None:
                raise OscoreError("response to no request of ours")
            if opt is None:
                if m.code in (C.UNAUTHORIZED, C.BAD_OPTION, C.BAD_REQUEST):
                    raise ContextUnknown("server answered %s unprotected: context lost"
                                         % C.code_str(m.code))
                raise OscoreError("unprotected response")
            inner, _piv = unprotect_response(self.ctx, m, req_id, opt)
            self.kid_ctx = None              # the server has our context (B.2 step 5)
            if inner.code == C.UNAUTHORIZED:
                e = inner.get(C.ECHO)
                if e is not None:
                    self.echo = e            # B.1.2: repeat the request with this Echo
            return inner
        if opt is None:
            raise OscoreError("unprotected request")
        if m.mtype == C.CON:
            for t, mid, data in self._cache:
                if t == C.ACK and mid == m.mid:
                    self.net.send(data)      # duplicate server request: same answer again
                    return None
        kid = opt[2]
        if kid != self.rid:
            raise OscoreError("request kid is not the server's")
        if opt[1] is not None and opt[1] != self.idc:
            raise OscoreError("request kid context is not ours")
        inner, req_id, _seq = unprotect_request(self.ctx, m, opt)
        _push(self._in, (m.token, req_id))
        return inner
