"""DTLS 1.2 record layer: header codec, AES-128-CCM_8 protect/unprotect, CID AADs, replay window.

Header (13 B, RFC 6347 4.1): type(1) version(2)=fe fd epoch(2) seq(6) length(2); a tls12_cid
record (type 25, RFC 9146 4) has cid(L) before the length. Fragment (RFC 6655):
nonce_explicit(8) = epoch || seq, CCM ciphertext, tag(8); CCM nonce = IV(4) || nonce_explicit.
CID inner plaintext: content || real_type(1) || zeros(pad).
AADs: RFC 6347 (13 B) seq_num(8) type(1) version(2) length(2); RFC 9146 5.3 (23 + L B)
ff*8 25 L 25 version epoch seq cid length; legacy draft -04..-08, code points 53/254 (14 + L B)
epoch seq 25 version cid L length.
Sequence numbers are the caller's (a persisted counter). Content types and the CID variants
are plain numbers here (20 CCS, 21 alert, 22 handshake, 23 application data, 25 tls12_cid;
variant = extension code point 54, 53 or 254). Heap: few functions, private constants, nonce
and AAD built in two module buffers (no allocation per record but the record itself).
"""
import struct
from micropython import const

from crypto import CCM
from dtls import DtlsError

_CID = const(25)
_RFC = const(54)
_M32 = const(0xFFFFFFFF)
_N = bytearray(12)      # CCM nonce
_A = bytearray(64)      # AAD (CIDs up to 41 bytes: handshake.py refuses longer ones)


def hdr(ct, ep, seq, cid, n):
    """Record header (bytearray); cid is written for tls12_cid records only (pass b'')."""
    L = len(cid)
    b = bytearray(13 + L)
    struct.pack_into(">BHHHI", b, 0, ct, 0xFEFD, ep, seq >> 32, seq & _M32)
    b[11:11 + L] = cid
    struct.pack_into(">H", b, 11 + L, n)
    return b


def aad(v, ep, seq, ct, cid, n):
    """The additional data (a memoryview of a module buffer, valid until the next call):
    RFC 6347 for ct != 25, else RFC 9146 (v == 54) or legacy; n = (inner) plaintext length."""
    a = _A
    L = len(cid)
    if ct != _CID:
        struct.pack_into(">HHIBHH", a, 0, ep, seq >> 32, seq & _M32, ct, 0xFEFD, n)
        return memoryview(a)[:13]
    if v == _RFC:
        struct.pack_into(">iiBBBHHHI", a, 0, -1, -1, _CID, L, _CID, 0xFEFD, ep, seq >> 32, seq & _M32)
        p = 21
    else:
        struct.pack_into(">HHIBH", a, 0, ep, seq >> 32, seq & _M32, _CID, 0xFEFD)
        p = 11
    a[p:p + L] = cid
    p += L
    if v != _RFC:
        a[p] = L
        p += 1
    struct.pack_into(">H", a, p, n)
    return memoryview(a)[:p + 2]


def parse(buf, off, cid_len):
    """The record at buf[off:] -> (type, epoch, seq, cid, body_start, body_end); body_end is
    the next record's offset. DtlsError on a truncated or foreign header (RFC 6347 4.1.2.7:
    the caller drops the rest of the datagram)."""
    n = len(buf)
    if off + 13 > n:
        raise DtlsError("record truncated")
    ct = buf[off]
    if ct < 20 or ct > _CID or ct == 24 or buf[off + 1] != 0xFE:
        raise DtlsError("record type/version")
    ep, hi, lo = struct.unpack_from(">HHI", buf, off + 3)
    p = off + 11
    cid = b""
    if ct == _CID:
        if p + cid_len + 2 > n:
            raise DtlsError("record truncated")
        cid = bytes(buf[p:p + cid_len])
        p += cid_len
    e = p + 2 + ((buf[p] << 8) | buf[p + 1])
    if e > n:
        raise DtlsError("record past datagram end")
    return ct, ep, (hi << 32) | lo, cid, p + 2, e


class Conn:
    """One epoch's protection state both ways. wkey/wiv protect what we send, rkey/riv what
    we receive; peer_cid is written into our records (the peer's CID; empty: RFC 6347 form),
    own_cid is expected in the peer's. top/bits: the 64-record anti-replay window (RFC 6347
    4.1.2.6): top = highest authentic seq (-1: none), bit i = top - i seen."""

    def __init__(self, ep, wk, wiv, rk, riv, pc=b"", oc=b"", v=_RFC, pad=0, top=-1, bits=0):
        self.epoch = ep
        self.wkey = bytes(wk)
        self.wiv = bytes(wiv)
        self.rkey = bytes(rk)
        self.riv = bytes(riv)
        self.peer_cid = bytes(pc)
        self.own_cid = bytes(oc)
        self.variant = v
        self.pad = pad
        self.top = top
        self.bits = bits

    def seal(self, ct, pt, seq):
        """One protected record (bytearray) carrying pt as content type ct, sequence seq."""
        e = self.epoch
        n = _N
        n[0:4] = self.wiv
        struct.pack_into(">HHI", n, 4, e, seq >> 32, seq & _M32)
        cid = self.peer_cid
        if cid:
            k = len(pt)
            m = k + 1
            p = self.pad
            if p > 1 and m % p:
                m += p - m % p
            b = bytearray(m)
            b[0:k] = pt
            b[k] = ct
            pt = b
            ct = _CID
        c = CCM(self.wkey, 8).seal(n, aad(self.variant, e, seq, ct, cid, len(pt)), pt)
        h = hdr(ct, e, seq, cid, 8 + len(c))
        h.extend(memoryview(n)[4:])
        h.extend(c)
        return h

    def open(self, ct, ep, seq, cid, frag):
        """Authenticate and decrypt a record body -> (real content type, plaintext), or None
        if seq was seen or is left of the window (checked before decryption, the window moves
        only after authentication). CryptoError on a bad tag, DtlsError if malformed."""
        t = self.top
        d = t - seq
        if d >= 0 and (d >= 64 or (self.bits >> d) & 1):
            return None
        k = len(frag) - 16
        if k < 0:
            raise DtlsError("record too short")
        if ct == _CID and (cid != self.own_cid or not cid):
            raise DtlsError("unexpected cid")
        n = _N
        n[0:4] = self.riv
        n[4:12] = frag[0:8]
        p = CCM(self.rkey, 8).open(n, aad(self.variant, ep, seq, ct, cid, k), memoryview(frag)[8:])
        if ct == _CID:
            i = len(p) - 1
            while i >= 0 and p[i] == 0:    # strip zero padding: the real type is the last non-zero
                i -= 1
            if i < 0:
                raise DtlsError("cid record without type")
            ct = p[i]
            p = p[:i]
        if d < 0:
            self.bits = ((self.bits << -d) | 1) & 0xFFFFFFFFFFFFFFFF if d > -64 else 1
            self.top = seq
        else:
            self.bits |= 1 << d
        return ct, p

    def dump(self, w=True):
        """variant(1) pad(1) epoch(2) wkey(16) wiv(4) rkey(16) riv(4) peer_cid(1+L)
        own_cid(1+L) [window: top+1 (8) bits (8)]."""
        pc = self.peer_cid
        oc = self.own_cid
        b = (struct.pack(">BBH", self.variant, self.pad, self.epoch) + self.wkey + self.wiv
             + self.rkey + self.riv + bytes((len(pc),)) + pc + bytes((len(oc),)) + oc)
        return b + struct.pack(">QQ", self.top + 1, self.bits) if w else b


def load(b, w=True):
    """Inverse of Conn.dump -> (Conn, bytes consumed). DtlsError if truncated."""
    try:
        p = 45 + b[44]
        q = p + 1 + b[p]
        if q + (16 if w else 0) > len(b):
            raise IndexError
        t, bits = struct.unpack_from(">QQ", b, q) if w else (0, 0)
        return Conn((b[2] << 8) | b[3], b[4:20], b[20:24], b[24:40], b[40:44], b[45:p], b[p + 1:q],
                    b[0], b[1], t - 1, bits), q + (16 if w else 0)
    except IndexError:
        raise DtlsError("connection state truncated")
