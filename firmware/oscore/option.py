"""The OSCORE option (RFC 8613 6.1), the Partial IV (5) and the AAD (5.4): bytes only."""
#
# 6.1 OSCORE option value:
#      0 1 2 3 4 5 6 7 <------------- n bytes -------------->
#     |0 0 0 h k  n   |       Partial IV (if any) ...
#      <- 1 byte -> <----- s bytes ------>
#     | s (if any)  | kid context (if any) | kid (if any) ...   (kid = all remaining bytes)
# An option whose flags are all zero is sent empty (2). kid / kid context None = absent,
# b"" = present and empty. `wrap`: the kid context travels as a CBOR bstr (Californium's
# literal reading of App. B.2, "R1 wrapped in a CBOR bstr"); plain bytes otherwise (C.6).
#
# 5.4 external_aad = bstr .cbor [ 1, [alg_aead = 10], request_kid, request_piv, options = h'' ]
#     AAD = Enc_structure = [ "Encrypt0", h'', external_aad ]
from micropython import const

from oscore import OscoreError
from oscore.context import bstr_head

_FLAG_H = const(0x10)
_FLAG_K = const(0x08)


def piv_bytes(ssn):
    """5: the Sender Sequence Number with leading zero bytes removed; 0 -> b'\\x00'."""
    if ssn < 0 or ssn > 0xFFFFFFFFFF:
        raise OscoreError("sequence number out of range")
    n = 1
    while ssn >> (8 * n):
        n += 1
    return ssn.to_bytes(n, "big")


def encode_option(piv=None, kid=None, kid_ctx=None, wrap=False):
    """6.1 option value. kid/kid_ctx None = absent (b'' = present and empty).
    wrap: send the kid context as a CBOR bstr (Californium's reading of App. B.2)."""
    out = bytearray(1)
    f = 0
    if piv is not None:
        if len(piv) > 5:
            raise OscoreError("Partial IV longer than 5 bytes")
        f = len(piv)
        out.extend(piv)
    if kid_ctx is not None:
        f |= _FLAG_H
        if wrap:
            w = bytearray()
            bstr_head(w, len(kid_ctx))
            w.extend(kid_ctx)
            kid_ctx = w
        if len(kid_ctx) > 255:
            raise OscoreError("kid context too long")
        out.append(len(kid_ctx))
        out.extend(kid_ctx)
    if kid is not None:
        f |= _FLAG_K
        out.extend(kid)
    out[0] = f
    if f == 0:
        return b""             # all flags zero: empty option (2)
    if len(out) > 255:
        raise OscoreError("OSCORE option too long")
    return bytes(out)


def decode_option(v, wrap=False):
    """-> (piv, kid_ctx, kid): each None when absent. Raises OscoreError when malformed."""
    if not v:
        return None, None, None
    f = v[0]
    if f & 0xE0:
        raise OscoreError("OSCORE option: reserved flag bits set")
    n = f & 7
    if n > 5:
        raise OscoreError("OSCORE option: Partial IV length %d reserved" % n)
    off = 1
    end = len(v)
    piv = None
    if n:
        if off + n > end:
            raise OscoreError("OSCORE option: truncated Partial IV")
        piv = bytes(v[off:off + n])
        off += n
    ctx = None
    if f & _FLAG_H:
        if off >= end:
            raise OscoreError("OSCORE option: missing kid context length")
        s = v[off]
        off += 1
        if off + s > end:
            raise OscoreError("OSCORE option: truncated kid context")
        ctx = bytes(v[off:off + s])
        off += s
        if wrap:
            ctx = _unwrap(ctx)
    kid = None
    if f & _FLAG_K:
        kid = bytes(v[off:])
    elif off != end:
        raise OscoreError("OSCORE option: trailing bytes without k flag")
    return piv, ctx, kid


def _unwrap(b):
    # a CBOR bstr (major type 2, definite length) holding the ID Context
    if not b or b[0] >> 5 != 2:
        raise OscoreError("kid context: not a CBOR bstr")
    ai = b[0] & 31
    if ai < 24:
        n, off = ai, 1
    elif ai == 24 and len(b) > 1:
        n, off = b[1], 2
    else:
        raise OscoreError("kid context: bad CBOR bstr")
    if off + n != len(b):
        raise OscoreError("kid context: CBOR bstr length")
    return b[off:]


def aad(kid, piv):
    """5.4 Enc_structure for request kid / request Partial IV (no class I options)."""
    ea = bytearray(b"\x85\x01\x81\x0a")
    bstr_head(ea, len(kid))
    ea.extend(kid)
    bstr_head(ea, len(piv))
    ea.extend(piv)
    ea.append(0x40)
    out = bytearray(b"\x83\x68Encrypt0\x40")
    bstr_head(out, len(ea))
    out.extend(ea)
    return out
