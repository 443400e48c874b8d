"""OSCORE (RFC 8613) message protection: what every OSCORE wake runs, in one module.

What it does: the AEAD nonce (5.2), the AAD (5.4), the OSCORE option (6.1), the class E/U
option split (4.1, Observe both inner and outer, Echo class E), the outer code (4.2), protect and unprotect for requests and responses
(8.1-8.4). A response reuses the request nonce unless it carries its own Partial IV
(notifications, the B.1.2 4.01+Echo).
What it does not do: derive keys or run App. B.2 (oscore/kdf.py: loaded only for that, then
dropped), sequence numbers, context lookup, retransmission caching (the channel / the harness
plugin do).

A context (`ctx`) is any object with: sid (our kid), rid, idc (ID Context or None), key =
(crypto.CCM with the Sender Key, crypto.CCM with the Recipient Key, Common IV) and the 32-entry
replay window for received requests (RFC 6347 4.1.2.6): top = highest request PIV accepted (-1:
none), bit i of bits = top - i seen, bits = -1: the window was lost (App. B.1.2: refuse
until Echo proves freshness). oscore.kdf.Context is one; the device's channel is its own context.

Heap: one module, few functions, few distinct names (each one is an interned string, and the
interned-string pool grows in steps that double), short error strings, no classes of its own.
Errors: errors.ProtocolError with str(e) "verify" (the AEAD tag did not verify), "replay" (a
request PIV already seen, older than the window, or the window lost: 7.4) or "malformed"; the
channel raises errors.SessionUnknown when the server has no context for us (8.2: 4.01).

5.3 plaintext = Code | class E options (deltas from 0) | [0xFF | payload]
5.4 AAD = ["Encrypt0", h'', external_aad = bstr .cbor [1, [10], request_kid, request_piv, h'']]
6.1 option = 0 0 0 h k n(3) | Partial IV | [s | kid context] | kid ; all flags 0: empty.
    kid context as a CBOR bstr when `wrap` (Californium's reading of App. B.2).
`req_id` (what binds a response to its request) is the tuple (request kid, request PIV).
"""
from micropython import const

from coap import codec as C
from crypto import CryptoError
from errors import ProtocolError

_OBSERVE = const(6)
_OSCORE = const(9)
_POST = const(2)
_FETCH = const(5)
_CHANGED = const(68)
_CONTENT = const(69)
# class U (Figure 5): Uri-Host 3, Uri-Port 7, Proxy-Uri 35, Proxy-Scheme 39


def nonce(ctx, kid, piv):
    """5.2: Common IV ^ (len(kid) | kid left-padded to 7 | PIV left-padded to 5)."""
    n = bytearray(ctx.key[2])
    k = len(kid)
    n[0] ^= k
    for i in range(k):
        n[8 - k + i] ^= kid[i]
    k = len(piv)
    for i in range(k):
        n[13 - k + i] ^= piv[i]
    return n


def aad(kid, piv):
    """5.4 AAD for request kid / Partial IV (kid <= 7, PIV <= 5 bytes: one-byte CBOR heads)."""
    if len(kid) > 7:
        raise ProtocolError("malformed")
    ea = bytearray(b"\x85\x01\x81\x0a")
    ea.append(0x40 | len(kid))
    ea.extend(kid)
    ea.append(0x40 | len(piv))
    ea.extend(piv)
    ea.append(0x40)
    out = bytearray(b"\x83\x68Encrypt0\x40")
    out.append(0x40 | len(ea))
    out.extend(ea)
    return out


def option_of(m, wrap=False):
    """6.1: (piv, kid_ctx, kid) of Message m (each None when absent), None without an OSCORE
    option. Raises ProtocolError("malformed") when malformed or repeated."""
    v = None
    for num, val in m.opts:
        if num == _OSCORE:
            if v is not None:
                raise ProtocolError("malformed")
            v = val
    if v is None:
        return None
    if not v:
        return None, None, None
    f = v[0]
    off = 1 + (f & 7)
    end = len(v)
    if f & 0xE0 or f & 7 > 5 or off > end:
        raise ProtocolError("malformed")
    piv = v[1:off] if f & 7 else None
    ctx = None
    if f & 0x10:
        if off >= end or off + 1 + v[off] > end:
            raise ProtocolError("malformed")
        ctx = v[off + 1:off + 1 + v[off]]
        off += 1 + v[off]
        if wrap:                       # a definite-length CBOR bstr holding the ID Context
            k = 1 if ctx and ctx[0] & 31 < 24 else 2
            if not ctx or ctx[0] >> 5 != 2 or ctx[0] & 31 > 24 or len(ctx) < k or \
                    k + (ctx[0] & 31 if k == 1 else ctx[1]) != len(ctx):
                raise ProtocolError("malformed")
            ctx = ctx[k:]
    kid = None
    if f & 8:
        kid = v[off:]
    elif off != end:
        raise ProtocolError("malformed")
    return piv, ctx, kid


def protect(ctx, msg, ssn=None, req_id=None, kid_ctx=None, wrap=False):
    """8.1 / 8.3. A request (req_id None) with Sender Sequence Number ssn; a response to
    req_id = (kid, piv) with the request nonce (ssn None) or its own Partial IV (ssn).
    kid_ctx: ID Context to send as 'kid context'. Returns (protected Message, req_id)."""
    resp = req_id is not None
    piv = None
    if ssn is not None:
        if ssn < 0 or ssn > 0xFFFFFFFFFF:
            raise ProtocolError("malformed")
        n = 1
        while ssn >> (8 * n):
            n += 1
        piv = ssn.to_bytes(n, "big")
    if not resp:
        req_id = (ctx.sid, piv)
    nv = nonce(ctx, ctx.sid, piv) if piv else nonce(ctx, req_id[0], req_id[1])
    inner = bytearray((msg.code,))
    io = []
    out = C.Message(msg.mtype, 0, msg.mid, msg.token)
    obs = False
    for num, val in msg.opts:
        if num == _OSCORE:
            raise ProtocolError("malformed")
        if num in (3, 7, 35, 39):
            out.opts.append((num, val))
            continue
        if num == _OBSERVE:
            out.opts.append((num, val))
            obs = True
            if resp:
                val = b""              # 4.1.3.5.2: notifications carry an empty inner Observe
        io.append((num, val))
    C.encode_options(io, inner)
    if msg.payload:
        inner.append(0xFF)
        inner.extend(msg.payload)
    out.code = (_CONTENT if obs else _CHANGED) if resp else (_FETCH if obs else _POST)
    o = bytearray(1)
    f = 0
    if piv:
        f = len(piv)
        o.extend(piv)
    if kid_ctx is not None:
        f |= 0x10
        k = len(kid_ctx)
        if wrap:
            o.append(k + (1 if k < 24 else 2))
            o.extend(bytes((0x40 | k,)) if k < 24 else bytes((0x58, k)))
        else:
            o.append(k)
        o.extend(kid_ctx)
    if not resp:
        f |= 8
        o.extend(ctx.sid)
    o[0] = f
    out.add(_OSCORE, o if f else b"")
    out.payload = ctx.key[0].seal(nv, aad(req_id[0], req_id[1]), inner)
    return out, req_id


def unprotect(ctx, msg, opt=None, req_id=None, replay=True):
    """8.2 / 8.4: verify request msg (req_id None) or the response to req_id. opt: the
    option_of(msg) already parsed. A request is checked against ctx's replay window before
    decrypting and marked in it after (replay False: the caller checks freshness, B.1.2/B.2).
    Returns (inner Message, req_id, piv): piv = the message's own Partial IV or None."""
    if opt is None:
        opt = option_of(msg)
    if opt is None:
        raise ProtocolError("malformed")
    piv, _kc, kid = opt
    req = req_id is None
    seq = 0
    if req:
        if piv is None or kid is None:
            raise ProtocolError("malformed")
        seq = int.from_bytes(piv, "big")
        d = ctx.top - seq
        if replay and (ctx.bits < 0 or (d >= 0 and (d >= 32 or ctx.bits >> d & 1))):
            raise ProtocolError("replay")
        req_id = (kid, piv)
    nv = nonce(ctx, ctx.rid, piv) if piv is not None and not req else \
        nonce(ctx, req_id[0], req_id[1])
    p = msg.payload
    if len(p) < 9:                     # at least the code and the tag
        raise ProtocolError("malformed")
    try:
        pt = ctx.key[1].open(nv, aad(req_id[0], req_id[1]), p)
    except CryptoError:
        raise ProtocolError("verify")
    m = C.Message(msg.mtype, pt[0], msg.mid, msg.token)
    try:
        po = C.decode_options(pt, 1, len(pt), m.opts)
    except ValueError:
        raise ProtocolError("malformed")
    if po < len(pt):
        m.payload = pt[po:]
    obs = None
    for num, val in m.opts:
        if num == _OSCORE:
            raise ProtocolError("malformed")
    for num, val in msg.opts:          # outer class E options are ignored (8.2 step 3)
        if num in (3, 7, 35, 39):
            m.add(num, val)
        elif num == _OBSERVE:
            obs = val
    if not (m.is_request() if req else m.is_response()):
        raise ProtocolError("malformed")
    if obs is not None and not req and m.get(_OBSERVE) is not None:
        m.remove(_OBSERVE)             # notification: hand the outer value up for ordering
        m.add(_OBSERVE, obs)
    if req and replay:
        if seq > ctx.top:
            sh = seq - ctx.top
            ctx.bits = ((ctx.bits << sh) | 1) & 0xFFFFFFFF if sh < 32 else 1
            ctx.top = seq
        else:
            ctx.bits |= 1 << (ctx.top - seq)
    return m, req_id, piv
