"""Crypto primitives for the device: CryptoError and AES-CCM here, HMAC/PRF/HKDF over SHA-256
in hmac.py. Built only on what the ESP32 port offers: `cryptolib.aes(key, 1)` (ECB) and
`hashlib.sha256`.

CCM lives in this package module (crypto/ccm.py re-exports it) so that an OSCORE wake loads
one module for its AEAD, not two: every module costs heap on the device (module object,
globals, interned names).

AES-CCM: what it does: authenticated encryption with M = tag_len (4..16, even) and a nonce of n bytes
(7..13), length field L = 15 - n (DTLS: 12-byte nonce, L = 3; OSCORE: 13-byte nonce, L = 2).
CBC-MAC and the CTR keystream run on one AES-ECB key object built per seal/open (the heap
holds 16 key bytes per CCM, not a key schedule) and on two module-level 16-byte work buffers.
What it does not do: nonce management (the caller's sequence numbers), streaming.

RFC 3610 2.2 (authentication):
    B_0   = Flags | Nonce N | l(m)            Flags = 64*Adata + 8*M' + L',  M' = (M-2)/2,
                                                      L' = L-1
    B_1.. = l(a) | a | zero pad | m | zero pad
            l(a): 2 bytes if 0 < l(a) < 2^16-2^8, else 0xff 0xfe + 4 bytes
    X_1 = E(K, B_0); X_i+1 = E(K, X_i ^ B_i); T = first M bytes of X_n+1
RFC 3610 2.3 (encryption):
    A_i = Flags | Nonce N | Counter i        Flags = L'
    S_i = E(K, A_i); C = m ^ (S_1 | S_2 | ...); U = T ^ first M bytes of S_0
    output = C | U
Heap: few methods on purpose (each function object costs heap on the device).
"""
from cryptolib import aes


class CryptoError(ValueError):
    """Authentication failed (tag mismatch), input too short, or a bad parameter."""


_X = bytearray(16)      # CBC-MAC state X_i, then T        (work buffers shared by every CCM
_S = bytearray(16)      # counter block A_i, then S_i        object: one operation at a time)


class CCM:
    """AES-CCM with one key: holds the key, not an AES object (352 B of heap each on the
    unix port); seal/open build the AES key schedule per call (microseconds) and free it."""

    def __init__(self, key, tag_len=8):
        if tag_len < 4 or tag_len > 16 or tag_len & 1:
            raise CryptoError("ccm")
        self.key = bytes(key)
        self.tag_len = tag_len

    def _run(self, nonce, aad, src, dst, mac_first):
        """dst = src ^ (S_1 | S_2 ...); T into _X over src (mac_first: seal) or over dst
        (open); S_0 left in _S."""
        n = len(nonce)
        L = 15 - n
        ln = len(src)
        if n < 7 or n > 13 or ln >> (8 * L):
            raise CryptoError("ccm")
        e = aes(self.key, 1)
        for step in (0, 1) if mac_first else (1, 0):
            if step:                   # CTR: A_i = L' | N | i, from i = 1; S_0 last
                a = _S
                off = 0
                i = 1 if ln else 0
                while True:
                    a[0] = L - 1
                    a[1:1 + n] = nonce
                    c = i
                    for k in range(L):
                        a[15 - k] = c & 0xFF
                        c >>= 8
                    e.encrypt(a, a)
                    if i == 0:
                        break
                    k = ln - off
                    if k > 16:
                        k = 16
                    for j in range(k):
                        dst[off + j] = src[off + j] ^ a[j]
                    off += k
                    i = i + 1 if off < ln else 0
                continue
            # CBC-MAC over B_0 | l(a) | a | pad | m | pad
            x = _X
            x[0] = (64 if len(aad) else 0) | ((self.tag_len - 2) << 2) | (L - 1)
            x[1:1 + n] = nonce
            for k in range(L):
                x[15 - k] = (ln >> (8 * k)) & 0xFF
            e.encrypt(x, x)
            la = len(aad)
            hdr = b""
            if la:
                hdr = bytes((la >> 8, la & 0xFF)) if la < 0xFF00 else b"\xff\xfe" + la.to_bytes(4, "big")
            pos = 0
            for g in (hdr, aad, None, src if mac_first else dst, None):
                if g is None:          # end of a zero-padded group
                    if pos:
                        e.encrypt(x, x)
                    pos = 0
                    continue
                for c in g:
                    x[pos] ^= c
                    pos += 1
                    if pos == 16:
                        e.encrypt(x, x)
                        pos = 0

    def seal(self, nonce, aad, data):
        """Return ciphertext || tag (bytes) of the plaintext `data`."""
        ln = len(data)
        M = self.tag_len
        out = bytearray(ln + M)
        self._run(nonce, aad, data, out, True)
        x = _X
        s = _S
        for j in range(M):
            out[ln + j] = x[j] ^ s[j]
        return bytes(out)

    def open(self, nonce, aad, data):
        """Return the plaintext of ciphertext || tag, or raise CryptoError."""
        M = self.tag_len
        ln = len(data) - M
        if ln < 0:
            raise CryptoError("ccm")
        mv = memoryview(data)
        out = bytearray(ln)
        self._run(nonce, aad, mv[:ln], out, False)
        x = _X
        s = _S
        d = 0
        for j in range(M):          # constant time over the tag
            d |= x[j] ^ s[j] ^ mv[ln + j]
        if d:
            for j in range(ln):
                out[j] = 0
            raise CryptoError("ccm tag")
        return bytes(out)
