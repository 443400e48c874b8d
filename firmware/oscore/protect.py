"""OSCORE message protection (RFC 8613 sections 4, 5, 6, 8): Message <-> protected Message."""
#
# What it does: splits options into Inner (class E, encrypted) and Outer (class U) ones (4.1),
# sets the outer Code (4.2), puts the OSCORE option (option.py) and the AAD (5.4) together with
# the nonce (5.2), and protects/verifies requests and responses. A response reuses the request
# nonce unless it carries its own Partial IV (notifications, the B.1.2 4.01+Echo, B.2 choices).
# What it does not do: sequence numbers, replay-window bookkeeping policy beyond check/accept on
# the context, context lookup by kid, retransmission caching (the channel / harness plugin do).
#
# 5.3 plaintext = Code (1 byte) | Class E options (deltas from 0) | [0xFF | payload]
# 5.4 AAD: see option.py (the response AAD uses the request's kid and Partial IV).
#
# `req_id` (what binds a response to its request) is the tuple (request kid, request PIV).
#
from micropython import const

from coap import codec
from coap.codec import Message
from crypto import CryptoError
from oscore import OscoreError, VerifyFailed
from oscore.option import aad, piv_bytes, encode_option, decode_option

OPT_OSCORE = const(9)
OPT_OBSERVE = const(6)

# Class U (outer only) options of Figure 5: Uri-Host, Uri-Port, Proxy-Uri, Proxy-Scheme.
# Observe (6) is both: inner and outer copies. Everything else (Echo 252 included) is class E.
_CLASS_U = (3, 7, 35, 39)

def _split(msg, inner):
    """Fill `inner` (bytearray) with code | class E options | payload; return outer options."""
    outer = []
    inner.append(msg.code)
    iopts = []
    for num, val in msg.opts:
        if num == OPT_OSCORE:
            raise OscoreError("OSCORE option in the message to protect (nesting, 4.1.3.7)")
        if num in _CLASS_U:
            outer.append((num, val))
        elif num == OPT_OBSERVE:
            outer.append((num, val))
            # 4.1.3.5.2: notifications carry an empty inner Observe
            iopts.append((num, b"" if msg.is_response() else val))
        else:
            iopts.append((num, val))
    codec.encode_options(iopts, inner)
    if msg.payload:
        inner.append(0xFF)
        inner.extend(msg.payload)
    return outer


def _outer(msg, outer_opts, optval, ct):
    obs = msg.get(OPT_OBSERVE) is not None
    if msg.is_request():
        code = codec.FETCH if obs else codec.POST
    else:
        code = codec.CONTENT if obs else codec.CHANGED
    m = Message(msg.mtype, code, msg.mid, msg.token, ct)
    for num, val in outer_opts:
        m.opts.append((num, val))
    m.add(OPT_OSCORE, optval)
    return m


def protect_request(ctx, msg, ssn, kid_ctx=None, wrap=False):
    """8.1: protect request `msg` with Sender Sequence Number `ssn`.
    kid_ctx: ID Context to send as 'kid context' (None: do not send it).
    Returns (protected Message, req_id)."""
    piv = piv_bytes(ssn)
    inner = bytearray()
    outer = _split(msg, inner)
    ct = ctx.enc.seal(ctx.nonce(ctx.sid, piv), aad(ctx.sid, piv), inner)
    m = _outer(msg, outer, encode_option(piv, ctx.sid, kid_ctx, wrap), ct)
    return m, (ctx.sid, piv)


def protect_response(ctx, msg, req_id, ssn=None, kid_ctx=None, wrap=False):
    """8.3: protect response `msg` to the request identified by req_id = (kid, piv).
    ssn None: reuse the request nonce (no Partial IV); else use and send our own Partial IV."""
    inner = bytearray()
    outer = _split(msg, inner)
    if ssn is None:
        piv = None
        nonce = ctx.nonce(req_id[0], req_id[1])
    else:
        piv = piv_bytes(ssn)
        nonce = ctx.nonce(ctx.sid, piv)
    ct = ctx.enc.seal(nonce, aad(req_id[0], req_id[1]), inner)
    return _outer(msg, outer, encode_option(piv, None, kid_ctx, wrap), ct)


def option_of(msg, wrap=False):
    """(piv, kid_ctx, kid) of a protected message, or None if it has no OSCORE option."""
    v = None
    n = 0
    for num, val in msg.opts:
        if num == OPT_OSCORE:
            v = val
            n += 1
    if n == 0:
        return None
    if n > 1:
        raise OscoreError("repeated OSCORE option")
    return decode_option(v, wrap)


def _open(ctx, msg, nonce, a):
    if len(msg.payload) < 9:            # at least the code and the tag
        raise OscoreError("OSCORE payload too short")
    try:
        pt = ctx.dec.open(nonce, a, msg.payload)
    except CryptoError:
        raise VerifyFailed("OSCORE message did not verify")
    m = Message(msg.mtype, pt[0], msg.mid, msg.token)
    try:
        po = codec.decode_options(pt, 1, len(pt), m.opts)
    except ValueError:
        raise OscoreError("malformed inner options")
    if po < len(pt):
        m.payload = pt[po:]
    outer_obs = None
    for num, val in msg.opts:
        if num in _CLASS_U:
            m.add(num, val)
        elif num == OPT_OBSERVE:
            outer_obs = val
        elif num != OPT_OSCORE:
            pass                        # unexpected outer class E option: ignored (8.2 step 3)
    for num, val in m.opts:
        if num == OPT_OSCORE:
            raise OscoreError("OSCORE option inside the ciphertext")
    if outer_obs is not None and m.get(OPT_OBSERVE) is not None and m.is_response():
        # the inner Observe of a notification is empty; hand the outer value up for ordering
        m.remove(OPT_OBSERVE)
        m.add(OPT_OBSERVE, outer_obs)
    return m


def unprotect_request(ctx, msg, opt=None, check_replay=True):
    """8.2: verify request `msg` with `ctx` (chosen by the caller from the kid / kid context).
    opt: option_of(msg) if already parsed. Checks the replay window before decrypting and
    updates it after (check_replay False: the caller handles freshness, e.g. B.1.2 Echo).
    Returns (inner Message, req_id, ssn)."""
    if opt is None:
        opt = option_of(msg)
    if opt is None:
        raise OscoreError("no OSCORE option")
    piv, _kc, kid = opt
    if piv is None or kid is None:
        raise OscoreError("request without Partial IV or kid")
    seq = int.from_bytes(piv, "big")
    if check_replay:
        ctx.replay.check(seq)
    m = _open(ctx, msg, ctx.nonce(kid, piv), aad(kid, piv))
    if not m.is_request():
        raise OscoreError("inner code of a request is not a request code")
    if check_replay:
        ctx.replay.accept(seq)
    return m, (kid, piv), seq


def unprotect_response(ctx, msg, req_id, opt=None):
    """8.4: verify response `msg` to the request req_id = (kid, piv).
    Returns (inner Message, piv or None): piv set when the response carried its own."""
    if opt is None:
        opt = option_of(msg)
    if opt is None:
        raise OscoreError("no OSCORE option")
    piv = opt[0]
    if piv is None:
        nonce = ctx.nonce(req_id[0], req_id[1])
    else:
        nonce = ctx.nonce(ctx.rid, piv)
    m = _open(ctx, msg, nonce, aad(req_id[0], req_id[1]))
    if not m.is_response():
        raise OscoreError("inner code of a response is not a response code")
    return m, piv
