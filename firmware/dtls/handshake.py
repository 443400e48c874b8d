"""DTLS 1.2 handshake messages for TLS_PSK_WITH_AES_128_CCM_8, the PSK key schedule, reassembly.

What it does: encodes and parses ClientHello, ServerHello, HelloVerifyRequest,
ServerKeyExchange (PSK hint), ServerHelloDone, ClientKeyExchange and Finished bodies; wraps
them in the 12-byte DTLS handshake header; reassembles fragmented handshake messages (RFC 6347 4.2.3). Both roles use it (the harness
server under CPython too). What it does not do: the key schedule (keys.py), sequencing, timers,
records (client.py, record.py).

    Handshake header (12 B), RFC 6347 4.2.2:
        msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3)
"""
import struct
from micropython import const

from dtls import DtlsError

HT_CLIENT_HELLO = const(1)
HT_SERVER_HELLO = const(2)
HT_HELLO_VERIFY_REQUEST = const(3)
HT_SERVER_KEY_EXCHANGE = const(12)
HT_SERVER_HELLO_DONE = const(14)
HT_CLIENT_KEY_EXCHANGE = const(16)
HT_FINISHED = const(20)

HS_HDR = const(12)
SUITE_PSK_AES128_CCM8 = const(0xC0A8)   # RFC 6655
SCSV = const(0x00FF)                    # TLS_EMPTY_RENEGOTIATION_INFO_SCSV, RFC 5746 3.3
EXT_EMS = const(23)                     # extended_master_secret, RFC 7627
EXT_RI = const(0xFF01)                  # renegotiation_info, RFC 5746
MAX_MSG = const(1024)                   # cap on a reassembled handshake message

# Alert descriptions (RFC 5246 7.2, RFC 4279 2)
AL_CLOSE_NOTIFY = const(0)
AL_UNEXPECTED_MESSAGE = const(10)
AL_BAD_RECORD_MAC = const(20)
AL_HANDSHAKE_FAILURE = const(40)
AL_ILLEGAL_PARAMETER = const(47)
AL_DECODE_ERROR = const(50)
AL_DECRYPT_ERROR = const(51)
AL_UNKNOWN_PSK_IDENTITY = const(115)


def _u24(n):
    return bytes(((n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))


def msg(mtype, mseq, body):
    """A whole (unfragmented) handshake message: header + body. This exact form also goes
    into the transcript hash (RFC 6347 4.2.6)."""
    n = len(body)
    return bytes((mtype,)) + _u24(n) + struct.pack(">H", mseq) + b"\x00\x00\x00" + _u24(n) + body


def parse_header(buf, off):
    """(msg_type, length, message_seq, fragment_offset, fragment_length) at buf[off:]."""
    if off + HS_HDR > len(buf):
        raise DtlsError("handshake header truncated")
    b = buf
    return (b[off], (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3], (b[off + 4] << 8) | b[off + 5],
            (b[off + 6] << 16) | (b[off + 7] << 8) | b[off + 8], (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11])


def _vec8(b):
    return bytes((len(b),)) + b


def ext(etype, data):
    """One extension: type(2) length(2) data."""
    return struct.pack(">HH", etype, len(data)) + data


def client_hello(random, sid, cookie, suites, exts):
    """ClientHello body (RFC 5246 7.4.1.2 + RFC 6347 4.2.1 cookie):
    client_version(2) random(32) session_id<0..32> cookie<0..255>
    cipher_suites<2..2^16-2> compression_methods<1..2^8-1>=[null] [extensions<0..2^16-1>]
    exts: encoded extensions (bytes) or b'' for none (then the list is left out)."""
    cs = b"".join(struct.pack(">H", s) for s in suites)
    out = b"\xfe\xfd" + random + _vec8(sid) + _vec8(cookie) + struct.pack(">H", len(cs)) + cs + b"\x01\x00"
    if exts:
        out += struct.pack(">H", len(exts)) + exts
    return out


def _exts(b, p, end):
    """Parse an optional extension block at b[p:end] -> list of (type, bytes)."""
    out = []
    if p == end:
        return out
    if p + 2 > end:
        raise DtlsError("extensions length truncated")
    n = (b[p] << 8) | b[p + 1]
    p += 2
    if p + n != end:
        raise DtlsError("extensions length mismatch")
    while p < end:
        if p + 4 > end:
            raise DtlsError("extension header truncated")
        t = (b[p] << 8) | b[p + 1]
        ln = (b[p + 2] << 8) | b[p + 3]
        p += 4
        if p + ln > end:
            raise DtlsError("extension past end")
        out.append((t, bytes(b[p:p + ln])))
        p += ln
    return out


def ext_get(exts, t):
    for k, v in exts:
        if k == t:
            return v
    return None


class Hello:
    """A parsed ClientHello or ServerHello (suites: list for CH, one int for SH)."""


def parse_client_hello(b):
    try:
        h = Hello()
        h.version = bytes(b[0:2])
        h.random = bytes(b[2:34])
        p = 34
        n = b[p]
        if n > 32:
            raise DtlsError("session_id too long")
        h.sid = bytes(b[p + 1:p + 1 + n])
        p += 1 + n
        n = b[p]
        h.cookie = bytes(b[p + 1:p + 1 + n])
        p += 1 + n
        n = (b[p] << 8) | b[p + 1]
        if n & 1:
            raise DtlsError("odd cipher_suites length")
        h.suites = [(b[p + 2 + i] << 8) | b[p + 3 + i] for i in range(0, n, 2)]
        p += 2 + n
        n = b[p]
        h.comps = bytes(b[p + 1:p + 1 + n])
        p += 1 + n
        if p > len(b) or len(h.random) != 32:
            raise DtlsError("client hello truncated")
        h.exts = _exts(b, p, len(b))
        return h
    except IndexError:
        raise DtlsError("client hello truncated")


def server_hello(random, sid, suite, exts):
    """ServerHello body: server_version(2) random(32) session_id<0..32> cipher_suite(2)
    compression_method(1) [extensions]."""
    out = b"\xfe\xfd" + random + _vec8(sid) + struct.pack(">H", suite) + b"\x00"
    if exts:
        out += struct.pack(">H", len(exts)) + exts
    return out


def parse_server_hello(b):
    try:
        h = Hello()
        h.version = bytes(b[0:2])
        h.random = bytes(b[2:34])
        n = b[34]
        if n > 32:
            raise DtlsError("session_id too long")
        h.sid = bytes(b[35:35 + n])
        p = 35 + n
        h.suites = (b[p] << 8) | b[p + 1]
        h.comps = bytes((b[p + 2],))
        h.cookie = b""
        h.exts = _exts(b, p + 3, len(b))
        if len(h.random) != 32 or len(h.sid) != n:
            raise DtlsError("server hello truncated")
        return h
    except IndexError:
        raise DtlsError("server hello truncated")


def hello_verify_request(cookie):
    """HelloVerifyRequest body: server_version(2) cookie<0..255>. RFC 6347 4.2.1: the server
    SHOULD send version 1.0 (fe ff) here whatever it negotiates later."""
    return b"\xfe\xff" + _vec8(cookie)


def parse_hello_verify_request(b):
    if len(b) < 3 or b[2] + 3 != len(b):
        raise DtlsError("hello verify request malformed")
    return bytes(b[3:])


def client_key_exchange(identity):
    """PSK ClientKeyExchange (RFC 4279 2): psk_identity<0..2^16-1>."""
    return struct.pack(">H", len(identity)) + identity


def parse_psk_identity(b):
    """Body of a PSK ClientKeyExchange or ServerKeyExchange (identity / identity hint)."""
    if len(b) < 2 or ((b[0] << 8) | b[1]) + 2 != len(b):
        raise DtlsError("psk identity malformed")
    return bytes(b[2:])


class Reassembler:
    """Collects handshake fragments (RFC 6347 4.2.3) and hands out whole messages in
    message_seq order. Messages before `next_seq` are reported as retransmissions; at most
    `ahead` future messages are buffered (reordering); each message is capped at MAX_MSG."""

    def __init__(self, next_seq=0, ahead=4):
        self.next_seq = next_seq
        self.ahead = ahead
        self.parts = {}   # mseq -> [mtype, length, bytearray, covered ranges list]

    def add(self, frag, accept=True):
        """Feed one handshake record body (it may carry several fragments). Returns the
        number of fragments that belonged to already processed messages (retransmissions).
        accept=False only counts those (nothing new is buffered)."""
        old = 0
        off = 0
        n = len(frag)
        while off < n:
            mt, ln, ms, fo, fl = parse_header(frag, off)
            off += HS_HDR
            if off + fl > n or fo + fl > ln or ln > MAX_MSG:
                raise DtlsError("handshake fragment out of bounds")
            if ms < self.next_seq:
                old += 1
            elif accept and ms < self.next_seq + self.ahead:
                p = self.parts.get(ms)
                if p is None:
                    p = [mt, ln, bytearray(ln), []]
                    self.parts[ms] = p
                if p[0] == mt and p[1] == ln:
                    p[2][fo:fo + fl] = frag[off:off + fl]
                    p[3].append((fo, fo + fl))
            off += fl
        return old

    def _done(self, p):
        r = sorted(p[3])
        end = 0
        for a, b in r:
            if a > end:
                return False
            if b > end:
                end = b
        return end >= p[1]

    def next(self):
        """The next complete in-order message as (mtype, mseq, body) or None."""
        p = self.parts.get(self.next_seq)
        if p is None or not self._done(p):
            return None
        del self.parts[self.next_seq]
        ms = self.next_seq
        self.next_seq += 1
        return p[0], ms, bytes(p[2])
