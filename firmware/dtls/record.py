"""DTLS 1.2 record layer: record codec, AES-128-CCM_8 protect/unprotect, CID AADs, replay window.

What it does: builds and parses record headers (RFC 6347 4.1, RFC 9146 4), forms the CCM nonce
and the additional data for the three layouts (RFC 6347 / RFC 9146 5.3 / draft -04..-08 "legacy",
used with extension code points 53 and 254), strips CID record padding, keeps the 64-record
anti-replay window (RFC 6347 4.1.2.6) and (de)serialises a connection state for RTC memory.
What it does not do: choose sequence numbers (the caller owns them: a persisted counter), the
handshake, sockets.

    DTLSPlaintext / DTLSCiphertext header (13 B), RFC 6347 4.1:
        type(1) version(2)=fe fd epoch(2) sequence_number(6) length(2)
    DTLS 1.2 CID record header (13 + L B), RFC 9146 4:
        type(1)=25 version(2) epoch(2) sequence_number(6) cid(L) length(2)
    GenericAEADCipher fragment (RFC 5246 6.2.3.3, RFC 6655 3):
        nonce_explicit(8) = epoch(2) || seq(6)   ||   CCM ciphertext   ||   tag(8)
    CCM nonce (12 B) = write_IV(4) || nonce_explicit(8)
    CID inner plaintext (RFC 9146 4): content || real_type(1) || zeros(pad)
"""
import struct
from micropython import const

from crypto.ccm import CCM
from dtls import DtlsError

CT_CCS = const(20)          # change_cipher_spec
CT_ALERT = const(21)
CT_HANDSHAKE = const(22)
CT_APP = const(23)          # application_data
CT_CID = const(25)          # tls12_cid (RFC 9146 4)

VERSION = b"\xfe\xfd"        # DTLS 1.2
HDR = const(13)             # record header without CID
EXPLICIT = const(8)         # nonce_explicit
TAG = const(8)              # CCM_8
OVERHEAD = const(16)        # explicit nonce + tag

# CID variants, named by the extension code point that selects them
CID_RFC9146 = const(54)     # RFC 9146: ext 54, AAD 5.3
CID_LEGACY53 = const(53)    # draft-ietf-tls-dtls-connection-id-04..08 (IANA early allocation)
CID_LEGACY254 = const(254)  # Mbed TLS 2.x / 3.x COMPAT private code point, draft AAD

_FF8 = b"\xff" * 8


def seq_bytes(epoch, seq):
    """epoch(2) || sequence_number(6): the 64-bit DTLS seq_num, also the explicit nonce."""
    return struct.pack(">HHI", epoch, (seq >> 32) & 0xFFFF, seq & 0xFFFFFFFF)


def header(ctype, epoch, seq, cid, length):
    """Record header; cid (bytes, may be empty) is written only for tls12_cid records."""
    return (bytes((ctype,)) + VERSION + seq_bytes(epoch, seq) + cid
            + bytes(((length >> 8) & 0xFF, length & 0xFF)))


def aad_plain(epoch, seq, ctype, length):
    """RFC 5246 6.2.3.3 / RFC 6347 4.1.2.1 (13 B): seq_num(8) type(1) version(2) length(2),
    length = plaintext length."""
    return seq_bytes(epoch, seq) + bytes((ctype,)) + VERSION + bytes(((length >> 8) & 0xFF, length & 0xFF))


def aad_cid(variant, epoch, seq, cid, inner_len):
    """AAD for a tls12_cid record, inner_len = len(content || real_type || padding).

    RFC 9146 5.3 (23 + L B): seq_num_placeholder(8 x ff) tls12_cid(1) cid_length(1)
        tls12_cid(1) version(2) epoch(2) sequence_number(6) cid(L) length(2)
    legacy draft -04..-08 (14 + L B): epoch(2) seq(6) tls12_cid(1) version(2) cid(L)
        cid_length(1) length(2)
    """
    ln = bytes(((inner_len >> 8) & 0xFF, inner_len & 0xFF))
    if variant == CID_RFC9146:
        return (_FF8 + bytes((CT_CID, len(cid), CT_CID)) + VERSION + seq_bytes(epoch, seq)
                + cid + ln)
    return seq_bytes(epoch, seq) + bytes((CT_CID,)) + VERSION + cid + bytes((len(cid),)) + ln


def parse(buf, off, cid_len):
    """Parse the record at buf[off:]. cid_len: length of the CID we expect in tls12_cid records.

    Returns (ctype, epoch, seq, cid, body_start, body_end) with body_end the next record's
    offset; raises DtlsError on a truncated or foreign header (the rest of the datagram is then
    dropped: RFC 6347 4.1.2.7 says invalid records are silently discarded)."""
    n = len(buf)
    if off + HDR > n:
        raise DtlsError("record header truncated")
    ctype = buf[off]
    if ctype < CT_CCS or ctype > CT_CID or ctype == 24:
        raise DtlsError("record type %d" % ctype)
    if buf[off + 1] != 0xFE:
        raise DtlsError("record version")
    epoch = (buf[off + 3] << 8) | buf[off + 4]
    seq = int.from_bytes(bytes(buf[off + 5:off + 11]), "big")
    p = off + 11
    cid = b""
    if ctype == CT_CID:
        if p + cid_len + 2 > n:
            raise DtlsError("cid record header truncated")
        cid = bytes(buf[p:p + cid_len])
        p += cid_len
    ln = (buf[p] << 8) | buf[p + 1]
    p += 2
    if p + ln > n:
        raise DtlsError("record length past datagram end")
    return ctype, epoch, seq, cid, p, p + ln


class Window:
    """Anti-replay window of 64 records (RFC 6347 4.1.2.6, RFC 4303 3.4.3).

    `top` is the highest sequence number accepted (-1: none), bit i of `bits` set means
    top - i was received. check() before decrypting, update() only after authentication."""


    def __init__(self, top=-1, bits=0):
        self.top = top
        self.bits = bits

    def check(self, seq):
        if seq > self.top:
            return True
        d = self.top - seq
        if d >= 64:
            return False
        return not (self.bits >> d) & 1

    def update(self, seq):
        if seq > self.top:
            sh = seq - self.top
            self.bits = ((self.bits << sh) | 1) & 0xFFFFFFFFFFFFFFFF if sh < 64 else 1
            self.top = seq
        else:
            self.bits |= 1 << (self.top - seq)

    def dump(self):
        """14 bytes: top+1 (6) || bits (8)."""
        t = self.top + 1
        return (struct.pack(">HI", (t >> 32) & 0xFFFF, t & 0xFFFFFFFF)
                + struct.pack(">II", (self.bits >> 32) & 0xFFFFFFFF, self.bits & 0xFFFFFFFF))

    @staticmethod
    def load(b):
        t = int.from_bytes(bytes(b[0:6]), "big") - 1
        return Window(t, int.from_bytes(bytes(b[6:14]), "big"))


class Conn:
    """The protection state of one epoch in both directions (AES-128-CCM_8).

    wkey/wiv protect what we send, rkey/riv what we receive. peer_cid is the CID we write into
    our records (the one the peer asked for; empty: RFC 6347 format), own_cid the one the peer
    writes into its records (ours; empty here: the client offers a zero-length CID).
    Sequence numbers are the caller's: seal() takes one, open() returns the one it saw."""


    def __init__(self, epoch, wkey, wiv, rkey, riv, peer_cid=b"", own_cid=b"",
                 variant=CID_RFC9146, pad=0):
        self.epoch = epoch
        self.wkey = bytes(wkey)
        self.wiv = bytes(wiv)
        self.rkey = bytes(rkey)
        self.riv = bytes(riv)
        self.peer_cid = bytes(peer_cid)
        self.own_cid = bytes(own_cid)
        self.variant = variant
        self.pad = pad            # pad CID inner plaintext to a multiple of this (0: none)
        self.window = Window()
        self._w = CCM(self.wkey, TAG)
        self._r = CCM(self.rkey, TAG)

    def seal(self, ctype, pt, seq):
        """One protected record (bytes) carrying pt as content type ctype, sequence seq."""
        e = self.epoch
        sb = seq_bytes(e, seq)
        nonce = self.wiv + sb
        cid = self.peer_cid
        if cid:
            # RFC 9146 4: DTLSInnerPlaintext = content || real_type || zeros
            n = len(pt) + 1
            pad = 0
            if self.pad > 1 and n % self.pad:
                pad = self.pad - n % self.pad
            inner = bytearray(n + pad)
            inner[0:len(pt)] = pt
            inner[len(pt)] = ctype
            ct = self._w.seal(nonce, aad_cid(self.variant, e, seq, cid, len(inner)), inner)
            return header(CT_CID, e, seq, cid, EXPLICIT + len(ct)) + sb + ct
        ct = self._w.seal(nonce, aad_plain(e, seq, ctype, len(pt)), pt)
        return header(ctype, e, seq, b"", EXPLICIT + len(ct)) + sb + ct

    def open(self, ctype, epoch, seq, cid, frag):
        """Authenticate and decrypt a record body; returns (real content type, plaintext).
        Raises CryptoError on a bad tag, DtlsError on a malformed body. Does not touch the
        replay window (the caller checks before and updates after)."""
        if len(frag) < OVERHEAD:
            raise DtlsError("record shorter than nonce + tag")
        nonce = self.riv + bytes(frag[0:EXPLICIT])
        body = frag[EXPLICIT:]
        if ctype == CT_CID:
            if cid != self.own_cid or not cid:
                raise DtlsError("unexpected cid")
            inner = self._r.open(nonce, aad_cid(self.variant, epoch, seq, cid, len(body) - TAG), body)
            # strip zero padding; the last non-zero byte is the real content type
            i = len(inner) - 1
            while i >= 0 and inner[i] == 0:
                i -= 1
            if i < 0:
                raise DtlsError("cid record without content type")
            return inner[i], inner[:i]
        return ctype, self._r.open(nonce, aad_plain(epoch, seq, ctype, len(body) - TAG), body)

    # -- persistence: variant(1) pad(1) epoch(2) wkey(16) wiv(4) rkey(16) riv(4)
    #                 peer_cid(1+L) own_cid(1+L) window(14)
    def dump(self, window=True):
        out = (bytes((self.variant, self.pad)) + struct.pack(">H", self.epoch) + self.wkey
               + self.wiv + self.rkey + self.riv + bytes((len(self.peer_cid),)) + self.peer_cid
               + bytes((len(self.own_cid),)) + self.own_cid)
        return out + self.window.dump() if window else out

    @staticmethod
    def load(b, window=True):
        """Inverse of dump(); returns (Conn, bytes consumed). Raises DtlsError if short."""
        try:
            ep = (b[2] << 8) | b[3]
            p = 44
            lp = b[p]
            pc = bytes(b[p + 1:p + 1 + lp])
            p += 1 + lp
            lo = b[p]
            oc = bytes(b[p + 1:p + 1 + lo])
            p += 1 + lo
            if len(pc) != lp or len(oc) != lo:
                raise IndexError
            c = Conn(ep, b[4:20], b[20:24], b[24:40], b[40:44], pc, oc, b[0], b[1])
            if window:
                if len(b) < p + 14:
                    raise IndexError
                c.window = Window.load(b[p:p + 14])
                p += 14
            return c, p
        except IndexError:
            raise DtlsError("connection state truncated")
