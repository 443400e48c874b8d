"""HMAC-SHA256 (RFC 2104), the TLS 1.2 PRF (RFC 5246 5, P_SHA256) and HKDF (RFC 5869).

What it does: keyed hashing and key expansion over `hashlib.sha256` (no `copy()` needed: the
ESP32 port's hash objects lack it, so the padded key is re-hashed per HMAC).
What it does not do: other hash functions, key storage. Never log what passes through here.
"""
import hashlib

_B = 64   # SHA-256 block size


def _pads(key):
    if len(key) > _B:
        key = hashlib.sha256(key).digest()
    ip = bytearray(_B)
    op = bytearray(_B)
    for i in range(len(key)):
        ip[i] = key[i]
        op[i] = key[i]
    for i in range(_B):
        ip[i] ^= 0x36
        op[i] ^= 0x5C
    return ip, op


def _hmac(pads, parts):
    h = hashlib.sha256(pads[0])
    for p in parts:
        h.update(p)
    o = hashlib.sha256(pads[1])
    o.update(h.digest())
    return o.digest()


def hmac_sha256(key, msg):
    """HMAC-SHA256(key, msg) -> 32 bytes."""
    return _hmac(_pads(key), (msg,))


def tls12_prf(secret, label, seed, n):
    """PRF(secret, label, seed) = P_SHA256(secret, label + seed), first n bytes (RFC 5246 5).

    P_hash: A(0) = seed', A(i) = HMAC(secret, A(i-1)); out = HMAC(secret, A(1) + seed') | ...
    """
    if isinstance(label, str):
        label = label.encode()
    pads = _pads(secret)
    out = bytearray()
    a = _hmac(pads, (label, seed))
    while len(out) < n:
        out.extend(_hmac(pads, (a, label, seed)))
        if len(out) < n:
            a = _hmac(pads, (a,))
    return bytes(out[:n])


def hkdf_sha256(salt, ikm, info, n):
    """HKDF-SHA256 (RFC 5869 2.2/2.3): PRK = HMAC(salt, IKM); T(i) = HMAC(PRK, T(i-1)|info|i)."""
    if n > 255 * 32:
        raise ValueError("hkdf length")
    if not salt:
        salt = bytes(32)
    pads = _pads(_hmac(_pads(salt), (ikm,)))
    out = bytearray()
    t = b""
    i = 1
    while len(out) < n:
        t = _hmac(pads, (t, info, bytes((i,))))
        out.extend(t)
        i += 1
    return bytes(out[:n])


def ct_equal(a, b):
    """Constant-time comparison (time depends on the lengths only)."""
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0
