"""AES-CCM (RFC 3610, NIST SP 800-38C) over the ECB block function of `cryptolib`.

What it does: authenticated encryption with M = tag_len (4..16, even) and a nonce of n bytes
(7..13), length field L = 15 - n (DTLS: 12-byte nonce, L = 3; OSCORE: 13-byte nonce, L = 2).
CBC-MAC and the CTR keystream both run on one AES-ECB key object built once per CCM object,
and on two 16-byte work buffers allocated once as well.
What it does not do: nonce management (the caller's sequence numbers), streaming.

RFC 3610 2.2 (authentication):
    B_0   = Flags | Nonce N | l(m)            Flags = 64*Adata + 8*M' + L',  M' = (M-2)/2,
                                                      L' = L-1
    B_1.. = l(a) | a | zero pad | m | zero pad
            l(a): 2 bytes if 0 < l(a) < 2^16-2^8, else 0xff 0xfe + 4 bytes, else 0xff 0xff + 8
    X_1 = E(K, B_0); X_i+1 = E(K, X_i ^ B_i); T = first M bytes of X_n+1
RFC 3610 2.3 (encryption):
    A_i = Flags | Nonce N | Counter i        Flags = L'
    S_i = E(K, A_i); C = m ^ (S_1 | S_2 | ...); U = T ^ first M bytes of S_0
    output = C | U
"""
from cryptolib import aes

from crypto import CryptoError


class CCM:
    def __init__(self, key, tag_len=8):
        if tag_len < 4 or tag_len > 16 or tag_len & 1:
            raise CryptoError("ccm tag length")
        self._e = aes(bytes(key), 1)
        self.tag_len = tag_len
        self._x = bytearray(16)   # CBC-MAC state
        self._s = bytearray(16)   # CTR block / keystream

    # -- CBC-MAC --------------------------------------------------------------------------
    def _absorb(self, data, pos):
        """XOR `data` into the MAC state at block position `pos`; encrypt every full block."""
        x = self._x
        e = self._e
        s = self._s
        for b in data:
            x[pos] ^= b
            pos += 1
            if pos == 16:
                e.encrypt(x, s)
                x[:] = s
                pos = 0
        return pos

    def _mac(self, nonce, aad, msg):
        n = len(nonce)
        L = 15 - n
        M = self.tag_len
        x = self._x
        ln = len(msg)
        # B_0, encrypted straight into the state
        x[0] = (64 if len(aad) else 0) | (((M - 2) >> 1) << 3) | (L - 1)
        x[1:1 + n] = nonce
        for i in range(L):
            x[15 - i] = (ln >> (8 * i)) & 0xFF
        self._e.encrypt(x, self._s)
        x[:] = self._s
        la = len(aad)
        if la:
            if la < 0xFF00:
                pos = self._absorb((la >> 8 & 0xFF, la & 0xFF), 0)
            elif la < (1 << 32):
                pos = self._absorb(b"\xff\xfe" + la.to_bytes(4, "big"), 0)
            else:
                pos = self._absorb(b"\xff\xff" + la.to_bytes(8, "big"), 0)
            pos = self._absorb(aad, pos)
            if pos:
                self._e.encrypt(x, self._s)
                x[:] = self._s
        pos = self._absorb(msg, 0)
        if pos:
            self._e.encrypt(x, self._s)
            x[:] = self._s

    # -- CTR ------------------------------------------------------------------------------
    def _ctr_block(self, nonce, i):
        """S_i = E(K, A_i) into self._s."""
        n = len(nonce)
        L = 15 - n
        a = self._s
        a[0] = L - 1
        a[1:1 + n] = nonce
        for k in range(L):
            a[15 - k] = (i >> (8 * k)) & 0xFF
        self._e.encrypt(a, a)

    def _ctr(self, nonce, src, dst):
        """dst[i] = src[i] ^ S_1.. (dst may be a memoryview into a bigger buffer)."""
        s = self._s
        ln = len(src)
        off = 0
        i = 1
        while off < ln:
            self._ctr_block(nonce, i)
            k = ln - off
            if k > 16:
                k = 16
            for j in range(k):
                dst[off + j] = src[off + j] ^ s[j]
            off += k
            i += 1

    def _check(self, nonce, ln):
        n = len(nonce)
        if n < 7 or n > 13:
            raise CryptoError("ccm nonce length")
        if ln >= 1 << (8 * (15 - n)):
            raise CryptoError("ccm message too long")

    # -- public ---------------------------------------------------------------------------
    def seal(self, nonce, aad, plaintext):
        """Return ciphertext || tag (bytes)."""
        ln = len(plaintext)
        self._check(nonce, ln)
        M = self.tag_len
        out = bytearray(ln + M)
        self._mac(nonce, aad, plaintext)
        self._ctr(nonce, plaintext, out)
        self._ctr_block(nonce, 0)
        x = self._x
        s = self._s
        for j in range(M):
            out[ln + j] = x[j] ^ s[j]
        return bytes(out)

    def open(self, nonce, aad, data):
        """Return the plaintext of ciphertext || tag, or raise CryptoError."""
        M = self.tag_len
        ln = len(data) - M
        if ln < 0:
            raise CryptoError("ccm input shorter than tag")
        self._check(nonce, ln)
        mv = memoryview(data)
        out = bytearray(ln)
        self._ctr(nonce, mv[:ln], out)
        self._mac(nonce, aad, out)
        self._ctr_block(nonce, 0)
        x = self._x
        s = self._s
        d = 0
        for j in range(M):          # constant time over the tag
            d |= x[j] ^ s[j] ^ mv[ln + j]
        if d:
            for j in range(ln):
                out[j] = 0
            raise CryptoError("ccm tag mismatch")
        return bytes(out)
