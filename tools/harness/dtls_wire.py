"""DTLS 1.2 wire format and key schedule for the harness server (CPython), written from the RFC
text, apart from the firmware (firmware/dtls/): a shared misreading of an RFC would otherwise
pass unseen when the firmware client talks to the harness server.

What it does:
- records (RFC 6347 4.1): the 13-byte header type(1) version(2) epoch(2) sequence_number(6)
  length(2); a tls12_cid record (RFC 9146 4, content type 25) carries the CID between the
  sequence number and the length;
- AES-128-CCM_8 record protection for TLS_PSK_WITH_AES_128_CCM_8 (RFC 6655 3): nonce =
  write_IV(4) || nonce_explicit(8), nonce_explicit = epoch || sequence_number and sent in front
  of the ciphertext; 8-byte tag; additional data per RFC 5246 6.2.3.3 (seq_num type version
  length), RFC 9146 5.3 (placeholder ff*8, 25, cid_length, 25, version, epoch, seq, cid,
  length_of_DTLSInnerPlaintext) or the pre-RFC drafts -04..-08 used with code points 53/254
  (seq_num, 25, version, cid, cid_length, length); DTLSInnerPlaintext = content || real_type
  || zeros (RFC 9146 4), zeros stripped on receipt;
- the 64-entry anti-replay window (RFC 6347 4.1.2.6), moved only by authentic records;
- handshake messages (RFC 6347 4.2.2 header; RFC 5246 7.4.1.2 ClientHello with the DTLS
  cookie, 7.4.1.3 ServerHello, RFC 6347 4.2.1 HelloVerifyRequest, extensions 7.4.1.4);
- the key schedule: the TLS 1.2 PRF with SHA-256 (RFC 5246 5), the PSK premaster secret
  (RFC 4279 2), master secret (RFC 5246 8.1) or extended master secret (RFC 7627 4), key block
  (RFC 5246 6.3; CCM_8 has no MAC keys: 2 x 16-byte keys, 2 x 4-byte IVs), Finished
  verify_data (RFC 5246 7.4.9).
Primitives: hashlib/hmac and the `cryptography` package's AESCCM.
What it does not do: the server's state machine (dtls_server.py), fragmentation of handshake
messages we send, other cipher suites, certificates.
"""
import hashlib
import hmac
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

# content types (RFC 5246 6.2.1, RFC 9146 4)
CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APP, CT_CID = 20, 21, 22, 23, 25
# handshake types (RFC 5246 7.4, RFC 6347 4.3.2)
HT_CLIENT_HELLO, HT_SERVER_HELLO, HT_HELLO_VERIFY_REQUEST = 1, 2, 3
HT_SERVER_HELLO_DONE, HT_CLIENT_KEY_EXCHANGE, HT_FINISHED = 14, 16, 20
REC_HDR, HS_HDR = 13, 12
DTLS12, DTLS10 = b"\xfe\xfd", b"\xfe\xff"
SUITE_PSK_AES128_CCM8 = 0xC0A8          # RFC 6655
SCSV = 0x00FF                           # TLS_EMPTY_RENEGOTIATION_INFO_SCSV, RFC 5746 3.3
EXT_EMS, EXT_RI = 23, 0xFF01            # RFC 7627, RFC 5746
CID_RFC9146, CID_LEGACY53, CID_LEGACY254 = 54, 53, 254
# alert descriptions (RFC 5246 7.2, RFC 4279 2)
AL_CLOSE_NOTIFY, AL_BAD_RECORD_MAC, AL_HANDSHAKE_FAILURE = 0, 20, 40
AL_DECRYPT_ERROR, AL_UNKNOWN_PSK_IDENTITY = 51, 115
TAG_LEN, EXPLICIT_NONCE = 8, 8


class WireError(ValueError):
    """A malformed record or handshake message."""


class BadRecordMac(WireError):
    """A record whose CCM tag did not verify."""


# -- records --------------------------------------------------------------------------------
def header(ct, epoch, seq, length, cid=b""):
    """Record header; cid only for tls12_cid records."""
    if not 0 <= seq < 1 << 48:
        raise WireError("sequence number out of range")
    return bytes((ct,)) + DTLS12 + epoch.to_bytes(2, "big") + seq.to_bytes(6, "big") + bytes(cid) \
        + length.to_bytes(2, "big")


class Record:
    """One record read from a datagram: ct, epoch, seq, cid (b'' unless ct == 25), body."""
    __slots__ = ("ct", "epoch", "seq", "cid", "body")

    def __init__(self, ct, epoch, seq, cid, body):
        self.ct, self.epoch, self.seq, self.cid, self.body = ct, epoch, seq, cid, body


def records(data, cid_len):
    """Split a datagram into records (RFC 6347 4.1.1: several per datagram). cid_len: the length
    of the CIDs we hand out (a tls12_cid header does not say it). Yields Record; raises
    WireError at the first bad header (the rest of the datagram is then dropped)."""
    off = 0
    n = len(data)
    while off < n:
        if off + REC_HDR > n:
            raise WireError("record header truncated")
        ct = data[off]
        if ct not in (CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APP, CT_CID) or data[off + 1] != 0xFE:
            raise WireError("record type %d / version %02x%02x" % (ct, data[off + 1], data[off + 2]))
        epoch = int.from_bytes(data[off + 3:off + 5], "big")
        seq = int.from_bytes(data[off + 5:off + 11], "big")
        p = off + 11
        cid = b""
        if ct == CT_CID:
            cid = bytes(data[p:p + cid_len])
            p += cid_len
        if p + 2 > n:
            raise WireError("record header truncated")
        ln = int.from_bytes(data[p:p + 2], "big")
        p += 2
        if p + ln > n:
            raise WireError("record runs past the datagram")
        yield Record(ct, epoch, seq, cid, bytes(data[p:p + ln]))
        off = p + ln


def aad(variant, ct, epoch, seq, cid, length):
    """The AEAD additional data. ct != 25: RFC 5246 6.2.3.3 / RFC 6347 4.1.2.1 (13 bytes);
    ct == 25: RFC 9146 5.3 (variant 54, 23 + L bytes) or the drafts' (53 / 254, 14 + L)."""
    es = epoch.to_bytes(2, "big") + seq.to_bytes(6, "big")
    ln = length.to_bytes(2, "big")
    if ct != CT_CID:
        return es + bytes((ct,)) + DTLS12 + ln
    L = bytes((len(cid),))
    if variant == CID_RFC9146:
        return b"\xff" * 8 + bytes((CT_CID,)) + L + bytes((CT_CID,)) + DTLS12 + es + cid + ln
    return es + bytes((CT_CID,)) + DTLS12 + cid + L + ln


class Window:
    """RFC 6347 4.1.2.6 anti-replay window of `size` records: top = the highest sequence number
    received (-1: none), bit i of bits = top - i received."""

    def __init__(self, size=64):
        self.size = size
        self.top = -1
        self.bits = 0

    def fresh(self, seq):
        d = self.top - seq
        return d < 0 or (d < self.size and not (self.bits >> d) & 1)

    def mark(self, seq):
        d = self.top - seq
        if d < 0:
            self.bits = ((self.bits << -d) | 1) & ((1 << self.size) - 1) if -d < self.size else 1
            self.top = seq
        elif d < self.size:
            self.bits |= 1 << d


class Protection:
    """The epoch-1 protection of one association, server side: our write key/IV protect what
    we send (to the client's CID, `peer_cid`; empty: RFC 6347 records), the client's what we
    receive (CID records must carry `own_cid`). variant: the CID extension's code point (the
    AAD), pad: our CID records' inner plaintext is padded to a multiple of it."""

    def __init__(self, epoch, wkey, wiv, rkey, riv, peer_cid=b"", own_cid=b"", variant=CID_RFC9146, pad=0):
        self.epoch = epoch
        self._w = AESCCM(bytes(wkey), tag_length=TAG_LEN)
        self._r = AESCCM(bytes(rkey), tag_length=TAG_LEN)
        self.wiv, self.riv = bytes(wiv), bytes(riv)
        self.peer_cid, self.own_cid = bytes(peer_cid), bytes(own_cid)
        self.variant = variant
        self.pad = pad
        self.window = Window(64)

    @property
    def top(self):
        return self.window.top

    def seal(self, ct, data, seq):
        """One protected record carrying `data` as content type ct with sequence number seq."""
        explicit = self.epoch.to_bytes(2, "big") + seq.to_bytes(6, "big")
        cid = self.peer_cid
        if cid:
            inner = bytes(data) + bytes((ct,))
            if self.pad > 1 and len(inner) % self.pad:
                inner += bytes(self.pad - len(inner) % self.pad)
            data, ct = inner, CT_CID
        c = self._w.encrypt(self.wiv + explicit, bytes(data), aad(self.variant, ct, self.epoch, seq, cid, len(data)))
        return header(ct, self.epoch, seq, EXPLICIT_NONCE + len(c), cid) + explicit + c

    def open(self, rec):
        """Verify and decrypt a record of our epoch -> (content type, plaintext), or None when its
        sequence number was seen or is left of the window (checked before decryption; the
        window moves only after the tag verified). BadRecordMac / WireError otherwise."""
        if rec.epoch != self.epoch:
            raise WireError("epoch %d" % rec.epoch)
        if not self.window.fresh(rec.seq):
            return None
        body = rec.body
        if len(body) < EXPLICIT_NONCE + TAG_LEN:
            raise WireError("protected record too short")
        if rec.ct == CT_CID and (not self.own_cid or rec.cid != self.own_cid):
            raise WireError("record with a CID we did not issue")
        if rec.ct != CT_CID and self.own_cid:
            raise WireError("record without the negotiated CID")
        n = len(body) - EXPLICIT_NONCE - TAG_LEN
        try:
            pt = self._r.decrypt(self.riv + body[:EXPLICIT_NONCE], body[EXPLICIT_NONCE:],
                                 aad(self.variant, rec.ct, rec.epoch, rec.seq, rec.cid, n))
        except InvalidTag:
            raise BadRecordMac("bad record MAC")
        ct = rec.ct
        if ct == CT_CID:
            i = len(pt)
            while i > 0 and pt[i - 1] == 0:
                i -= 1
            if i == 0:
                raise WireError("DTLSInnerPlaintext without a content type")
            ct, pt = pt[i - 1], pt[:i - 1]
        self.window.mark(rec.seq)
        return ct, pt


# -- handshake messages ---------------------------------------------------------------------
def hs_msg(mt, message_seq, body):
    """A whole (unfragmented) handshake message, as sent and as hashed (RFC 6347 4.2.6)."""
    n = len(body).to_bytes(3, "big")
    return bytes((mt,)) + n + message_seq.to_bytes(2, "big") + b"\x00\x00\x00" + n + bytes(body)


def hs_header(b, off):
    """(msg_type, length, message_seq, fragment_offset, fragment_length) at b[off:]."""
    if off + HS_HDR > len(b):
        raise WireError("handshake header truncated")
    h = b[off:off + HS_HDR]
    return (h[0], int.from_bytes(h[1:4], "big"), int.from_bytes(h[4:6], "big"),
            int.from_bytes(h[6:9], "big"), int.from_bytes(h[9:12], "big"))


def ext(t, data):
    """One extension: type(2) length(2) data."""
    return struct.pack(">HH", t, len(data)) + bytes(data)


def parse_extensions(b, p):
    """The extension block at b[p:] (may be absent) -> {type: data}; RFC 5246 7.4.1.4: no type
    twice."""
    out = {}
    if p == len(b):
        return out
    if p + 2 > len(b) or p + 2 + int.from_bytes(b[p:p + 2], "big") != len(b):
        raise WireError("extensions length")
    p += 2
    while p < len(b):
        if p + 4 > len(b):
            raise WireError("extension header truncated")
        t, n = struct.unpack(">HH", b[p:p + 4])
        if p + 4 + n > len(b):
            raise WireError("extension truncated")
        if t in out:
            raise WireError("extension %d twice" % t)
        out[t] = bytes(b[p + 4:p + 4 + n])
        p += 4 + n
    return out


class Hello:
    """A parsed ClientHello: version, random, sid, cookie, suites (list), comps (bytes), exts."""


def parse_client_hello(b):
    """ClientHello body (RFC 5246 7.4.1.2 with RFC 6347 4.2.1's cookie) -> Hello."""
    b = bytes(b)

    def vec(p, width, lo, hi, what):
        if p + width > len(b):
            raise WireError("client hello truncated (%s)" % what)
        n = int.from_bytes(b[p:p + width], "big")
        if not lo <= n <= hi or p + width + n > len(b):
            raise WireError("client hello %s length %d" % (what, n))
        return b[p + width:p + width + n], p + width + n

    if len(b) < 35:
        raise WireError("client hello truncated")
    h = Hello()
    h.version, h.random = b[0:2], b[2:34]
    h.sid, p = vec(34, 1, 0, 32, "session_id")
    h.cookie, p = vec(p, 1, 0, 255, "cookie")
    suites, p = vec(p, 2, 2, 0xFFFE, "cipher_suites")
    if len(suites) & 1:
        raise WireError("odd cipher_suites length")
    h.suites = [int.from_bytes(suites[i:i + 2], "big") for i in range(0, len(suites), 2)]
    h.comps, p = vec(p, 1, 1, 255, "compression_methods")
    h.exts = parse_extensions(b, p)
    return h


def server_hello(random, sid, suite, exts):
    """ServerHello body: version random(32) session_id<0..32> suite null-compression [exts]."""
    out = DTLS12 + bytes(random) + bytes((len(sid),)) + bytes(sid) + suite.to_bytes(2, "big") + b"\x00"
    return out + len(exts).to_bytes(2, "big") + exts if exts else out


def hello_verify_request(cookie):
    """HelloVerifyRequest body; RFC 6347 4.2.1: server_version DTLS 1.0 (fe ff) whatever the
    version negotiated later."""
    return DTLS10 + bytes((len(cookie),)) + bytes(cookie)


def parse_psk_identity(b):
    """ClientKeyExchange for PSK (RFC 4279 2): psk_identity<0..2^16-1> -> bytes."""
    if len(b) < 2 or int.from_bytes(b[:2], "big") + 2 != len(b):
        raise WireError("psk identity malformed")
    return bytes(b[2:])


# -- key schedule ---------------------------------------------------------------------------
def prf(secret, label, seed, n):
    """TLS 1.2 PRF (RFC 5246 5) with SHA-256: P_SHA256(secret, label + seed)[:n]."""
    seed = bytes(label) + bytes(seed)
    out = b""
    a = seed
    while len(out) < n:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:n]


def psk_premaster(psk):
    """RFC 4279 2: uint16 N, N zero octets, uint16 N, the PSK (N octets)."""
    n = len(psk).to_bytes(2, "big")
    return n + bytes(len(psk)) + n + bytes(psk)


def master_secret(pms, client_random, server_random, session_hash=None):
    """RFC 5246 8.1, or with session_hash (the hash of the handshake messages up to and
    including ClientKeyExchange) RFC 7627 4: 48 bytes."""
    if session_hash is not None:
        return prf(pms, b"extended master secret", session_hash, 48)
    return prf(pms, b"master secret", client_random + server_random, 48)


def key_block(ms, client_random, server_random):
    """RFC 5246 6.3 for AES-128-CCM_8 -> (client_write_key, server_write_key, client_write_IV,
    server_write_IV)."""
    kb = prf(ms, b"key expansion", server_random + client_random, 40)
    return kb[0:16], kb[16:32], kb[32:36], kb[36:40]


def transcript_hash(messages):
    return hashlib.sha256(bytes(messages)).digest()


def verify_data(ms, client, messages):
    """Finished.verify_data (RFC 5246 7.4.9) over the handshake messages so far: 12 bytes."""
    return prf(ms, b"client finished" if client else b"server finished", transcript_hash(messages), 12)
