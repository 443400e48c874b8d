"""OSCORE (RFC 8613) message protection and key derivation for the harness server (CPython),
written from the RFC text, apart from the firmware (firmware/oscore/): the harness must not
read what the device sends with the device's own code.

What it does:
- 3.2.1 derivation: HKDF-SHA-256 (RFC 5869, hashlib/hmac) with salt = Master Salt, IKM =
  Master Secret, info = CBOR [id, id_context / nil, alg_aead = 10, "Key" / "IV", L] (cbor2):
  Sender Key, Recipient Key (16 bytes), Common IV (13 bytes);
- 5.2 nonce: Common IV XOR (len(ID_PIV) | ID_PIV left-padded to 7 | PIV left-padded to 5);
- 5.4 AAD: Enc_structure ["Encrypt0", h'', external_aad = bstr .cbor [1, [10], request_kid,
  request_piv, options = h'']] (cbor2);
- 6.1 the OSCORE option: flags 000hknnn | Partial IV | s | kid context | kid, empty when every
  flag is 0; App. B.2's kid context optionally as a CBOR bstr ('wrap', Californium's reading);
- 4.1 option classes: Uri-Host, Uri-Port, Proxy-Uri, Proxy-Scheme outer only (class U),
  Observe both outer and inner (4.1.3.5: a notification's inner Observe is empty, its outer one
  carries the value), everything else inner (class E); 4.2 outer codes (POST / FETCH for
  requests with Observe, 2.04 / 2.05 for responses with Observe);
- 8.1-8.4 protect / unprotect with AES-CCM-16-64-128 (COSE alg 10: 16-byte key, 13-byte
  nonce, 8-byte tag; the `cryptography` package's AESCCM); a response uses the request's nonce
  unless it carries its own Partial IV (then the nonce is built from the responder's Sender
  ID); 7.4 the 32-entry replay window for requests, checked before and updated after
  verification.
Errors: OscoreError whose str() is "verify" (tag), "replay" or "malformed".
What it does not do: contexts per client, App. B.1/B.2 policy, caching (oscore_server.py).
"""
import hashlib
import hmac

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from harness import coap as C

ALG_AES_CCM_16_64_128 = 10
KEY_LEN, NONCE_LEN, TAG_LEN = 16, 13, 8
CLASS_U = (C.URI_HOST, C.URI_PORT, C.PROXY_URI, 39)      # 39: Proxy-Scheme
MAX_SSN = (1 << 40) - 1


class OscoreError(ValueError):
    """str(e): 'verify', 'replay' or 'malformed'."""


# -- 3.2 security context ---------------------------------------------------------------------
def hkdf_sha256(salt, ikm, info, n):
    """RFC 5869 extract-and-expand with SHA-256 (an empty salt = HashLen zeros, 2.2)."""
    prk = hmac.new(bytes(salt) or bytes(32), bytes(ikm), hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + bytes(info) + bytes((i,)), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def info(ident, id_context, kind, n):
    """3.2.1 info: CBOR array [id, id_context or nil, alg_aead, type, L]."""
    return cbor2.dumps([bytes(ident), None if id_context is None else bytes(id_context),
                        ALG_AES_CCM_16_64_128, kind, n])


def derive(master_secret, master_salt, sender_id, recipient_id, id_context=None):
    """-> (Sender Key, Recipient Key, Common IV)."""
    if len(sender_id) > NONCE_LEN - 6 or len(recipient_id) > NONCE_LEN - 6:
        raise OscoreError("malformed")          # 3.3: IDs at most nonce length - 6 bytes
    salt = master_salt or b""
    return (hkdf_sha256(salt, master_secret, info(sender_id, id_context, "Key", KEY_LEN), KEY_LEN),
            hkdf_sha256(salt, master_secret, info(recipient_id, id_context, "Key", KEY_LEN), KEY_LEN),
            hkdf_sha256(salt, master_secret, info(b"", id_context, "IV", NONCE_LEN), NONCE_LEN))


class ReplayWindow:
    """7.4 / RFC 6347 4.1.2.6 sliding window of 32 over request Partial IVs. lost: the window is
    gone (App. B.1.2) and every request is refused as a replay until restart_at() sets the
    lower edge."""

    SIZE = 32

    def __init__(self):
        self.top = -1
        self.bits = 0
        self.lost = False

    def fresh(self, seq):
        if self.lost:
            return False
        d = self.top - seq
        return d < 0 or (d < self.SIZE and not (self.bits >> d) & 1)

    def mark(self, seq):
        d = self.top - seq
        if d < 0:
            self.bits = ((self.bits << -d) | 1) & 0xFFFFFFFF if -d < self.SIZE else 1
            self.top = seq
        elif d < self.SIZE:
            self.bits |= 1 << d

    def restart_at(self, seq):
        self.top, self.bits, self.lost = seq, 1, False


class Context:
    """A security context, server's view: sid = our Sender ID, rid = the client's (its kid),
    idc = ID Context or None; the CCM objects, Common IV and the replay window."""

    def __init__(self, master_secret, master_salt, sid, rid, idc=None):
        self.sid, self.rid = bytes(sid), bytes(rid)
        self.idc = None if idc is None else bytes(idc)
        sk, rk, self.common_iv = derive(master_secret, master_salt, self.sid, self.rid, self.idc)
        self.sender = AESCCM(sk, tag_length=TAG_LEN)
        self.recipient = AESCCM(rk, tag_length=TAG_LEN)
        self.window = ReplayWindow()


# -- 5 COSE object ----------------------------------------------------------------------------
def nonce(common_iv, id_piv, piv):
    """5.2: the 13-byte AEAD nonce."""
    if len(id_piv) > NONCE_LEN - 6 or len(piv) > 5:
        raise OscoreError("malformed")
    x = bytes((len(id_piv),)) + bytes(id_piv).rjust(NONCE_LEN - 6, b"\0") + bytes(piv).rjust(5, b"\0")
    return bytes(a ^ b for a, b in zip(common_iv, x))


def aad(request_kid, request_piv):
    """5.4: the Enc_structure that is the AEAD's additional data (no Class I options)."""
    external = cbor2.dumps([1, [ALG_AES_CCM_16_64_128], bytes(request_kid), bytes(request_piv), b""])
    return cbor2.dumps(["Encrypt0", b"", external])


def piv_of(ssn):
    """5: the Partial IV of a Sender Sequence Number, leading zero bytes removed (0 -> 00)."""
    if not 0 <= ssn <= MAX_SSN:
        raise OscoreError("malformed")
    return ssn.to_bytes(5, "big").lstrip(b"\0") or b"\0"


# -- 6.1 the option ---------------------------------------------------------------------------
def _bstr_head(n):
    return bytes((0x40 | n,)) if n < 24 else bytes((0x58, n))


def encode_option(piv=None, kid_context=None, kid=None, wrap=False):
    """6.1 option value; kid_context as a CBOR bstr when wrap."""
    flags = 0
    out = b""
    if piv is not None:
        flags |= len(piv)
        out += bytes(piv)
    if kid_context is not None:
        flags |= 0x10
        kc = _bstr_head(len(kid_context)) + bytes(kid_context) if wrap else bytes(kid_context)
        out += bytes((len(kc),)) + kc
    if kid is not None:
        flags |= 0x08
        out += bytes(kid)
    return bytes((flags,)) + out if flags else b""


def option_of(m, wrap=False):
    """(piv, kid_context, kid) of message m, each None when absent; None when m has no OSCORE
    option; OscoreError('malformed') when it is malformed or repeated."""
    vals = m.get_all(C.OSCORE)
    if not vals:
        return None
    if len(vals) > 1:
        raise OscoreError("malformed")
    v = bytes(vals[0])
    if not v:
        return None, None, None
    f = v[0]
    n = f & 7
    if f & 0xE0 or n > 5 or 1 + n > len(v):
        raise OscoreError("malformed")
    piv = v[1:1 + n] if n else None
    p = 1 + n
    kc = None
    if f & 0x10:
        if p >= len(v) or p + 1 + v[p] > len(v):
            raise OscoreError("malformed")
        kc = v[p + 1:p + 1 + v[p]]
        p += 1 + v[p]
        if wrap:
            kc = _unwrap_bstr(kc)
    kid = None
    if f & 0x08:
        kid = v[p:]
    elif p != len(v):
        raise OscoreError("malformed")
    return piv, kc, kid


def _unwrap_bstr(b):
    # a definite-length CBOR byte string (major type 2) that fills b exactly
    if not b or b[0] >> 5 != 2:
        raise OscoreError("malformed")
    ai = b[0] & 31
    if ai < 24:
        n, h = ai, 1
    elif ai == 24 and len(b) >= 2:
        n, h = b[1], 2
    else:
        raise OscoreError("malformed")
    if h + n != len(b):
        raise OscoreError("malformed")
    return b[h:]


# -- 8 protect / unprotect --------------------------------------------------------------------
def _plaintext(code, opts, payload):
    # 5.3: Code | Class E options (option encoding with deltas from 0) | [0xFF payload]
    m = C.Message(C.CON, code, 0, b"")
    m.opts = list(opts)
    m.payload = payload
    return bytes((code,)) + C.encode(m)[4:]


def protect(ctx, msg, ssn=None, req_id=None, kid_ctx=None, wrap=False):
    """8.1 (request, req_id None: Partial IV from ssn, kid = our Sender ID) or 8.3 (response to
    req_id = (request kid, request PIV): the request's nonce, or our own Partial IV when ssn is
    given). kid_ctx: an ID Context sent as 'kid context'. msg: any message object (harness or
    firmware codec). -> (protected harness Message, req_id)."""
    msg = C.from_any(msg)
    resp = req_id is not None
    piv = None if ssn is None else piv_of(ssn)
    if not resp:
        if piv is None:
            raise OscoreError("malformed")
        req_id = (ctx.sid, piv)
    nv = nonce(ctx.common_iv, ctx.sid, piv) if piv is not None else nonce(ctx.common_iv, *req_id)
    outer, inner = [], []
    observe = False
    for num, val in msg.opts:
        if num == C.OSCORE:
            raise OscoreError("malformed")
        if num in CLASS_U:
            outer.append((num, val))
        elif num == C.OBSERVE:
            observe = True
            outer.append((num, val))
            inner.append((num, b"" if resp else val))
        else:
            inner.append((num, val))
    pt = _plaintext(msg.code, inner, msg.payload)
    out = C.Message(msg.mtype, 0, msg.mid, msg.token)
    if resp:
        out.code = C.CONTENT if observe else C.CHANGED
    else:
        out.code = C.FETCH if observe else C.POST
    out.opts = outer
    out.add(C.OSCORE, encode_option(piv, kid_ctx, None if resp else ctx.sid, wrap))
    out.payload = ctx.sender.encrypt(nv, pt, aad(*req_id))
    return out, req_id


def unprotect(ctx, msg, opt=None, req_id=None, replay=True):
    """8.2 (request, req_id None; with replay, checked against and entered into ctx.window) or
    8.4 (the response to req_id). -> (inner harness Message, req_id, the message's own Partial
    IV or None)."""
    msg = C.from_any(msg)
    if opt is None:
        opt = option_of(msg)
    if opt is None:
        raise OscoreError("malformed")
    piv, _kc, kid = opt
    request = req_id is None
    if request:
        if piv is None or kid is None:
            raise OscoreError("malformed")
        seq = int.from_bytes(piv, "big")
        if replay and not ctx.window.fresh(seq):
            raise OscoreError("replay")
        req_id = (bytes(kid), bytes(piv))
        nv = nonce(ctx.common_iv, kid, piv)
    else:
        nv = nonce(ctx.common_iv, ctx.rid, piv) if piv is not None else nonce(ctx.common_iv, *req_id)
    if len(msg.payload) < 1 + TAG_LEN:
        raise OscoreError("malformed")
    try:
        pt = ctx.recipient.decrypt(nv, bytes(msg.payload), aad(*req_id))
    except InvalidTag:
        raise OscoreError("verify")
    try:
        inner = C.decode(bytes((0x40, pt[0], 0, 0)) + pt[1:])
    except C.CoapError:
        raise OscoreError("malformed")
    inner.mtype, inner.mid, inner.token = msg.mtype, msg.mid, bytes(msg.token)
    if inner.get(C.OSCORE) is not None or not (inner.is_request() if request else inner.is_response()):
        raise OscoreError("malformed")
    for num, val in msg.opts:            # 8.2 / 8.4: outer class E options are discarded
        if num in CLASS_U:
            inner.add(num, val)
    outer_obs = msg.get(C.OBSERVE)
    if not request and outer_obs is not None and inner.get(C.OBSERVE) is not None:
        inner.remove(C.OBSERVE)          # a notification: the outer value orders it (4.1.3.5.2)
        inner.add(C.OBSERVE, outer_obs)
    if request and replay:
        ctx.window.mark(seq)
    return inner, req_id, None if piv is None else bytes(piv)
