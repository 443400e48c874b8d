"""CoAP message codec (RFC 7252 section 3): bytes <-> Message, every option encoding.

What it does: header, token (0-8 bytes), options with 4-bit/1-byte/2-byte extended deltas and
lengths, repeated options, payload marker; strict checks on input with a specific CoapError.
What it does not do: message IDs, retransmission or matching (coap/exchange.py).

Options are kept as a list of (number, value bytes) in ascending number order; repeats keep
their insertion order (RFC 7252 5.4.5).
"""
from micropython import const

# Message types, codes (class << 5 | detail) and option numbers (RFC 7252 5.10, RFC 7641,
# RFC 8613, RFC 9175). Offered to other modules as attributes (C.CON, C.CHANGED, C.URI_PATH ...)
# through the module __getattr__ below: a public module constant costs ~50 B of heap on
# MicroPython, this one string costs its length. Every response code the firmware sends or
# tests is named here; a module on a wake's resident path may copy one as a private const()
# of the same name (inlined by mpy-cross: no RAM at all).
_NAMES = ("CON=0,NON=1,ACK=2,RST=3,EMPTY=0,GET=1,POST=2,PUT=3,DELETE=4,FETCH=5,CREATED=65,DELETED=66,VALID=67,CHANGED=68,CONTENT=69,CONTINUE=95,BAD_REQUEST=128,UNAUTHORIZED=129,BAD_OPTION=130,FORBIDDEN=131,NOT_FOUND=132,METHOD_NOT_ALLOWED=133,NOT_ACCEPTABLE=134,REQUEST_ENTITY_INCOMPLETE=136,REQUEST_ENTITY_TOO_LARGE=141,UNSUPPORTED_FORMAT=143,INTERNAL_ERROR=160,NOT_IMPLEMENTED=161,SERVICE_UNAVAILABLE=163,IF_MATCH=1,URI_HOST=3,ETAG=4,IF_NONE_MATCH=5,OBSERVE=6,URI_PORT=7,LOCATION_PATH=8,OSCORE=9,URI_PATH=11,CONTENT_FORMAT=12,MAX_AGE=14,URI_QUERY=15,ACCEPT=17,LOCATION_QUERY=20,BLOCK2=23,BLOCK1=27,SIZE2=28,PROXY_URI=35,SIZE1=60,ECHO=252,REQUEST_TAG=292")
_CON = const(0)
_NON = const(1)
_ACK = const(2)
_RST = const(3)
_EMPTY = const(0)
_URI_PATH = const(11)


def __getattr__(name):
    """C.NAME for the constants in _NAMES (PEP 562; MicroPython supports it too)."""
    k = name + "="
    i = _NAMES.find(k)
    while i > 0 and _NAMES[i - 1] != ",":
        i = _NAMES.find(k, i + 1)
    if i < 0:
        raise AttributeError(name)
    j = _NAMES.find(",", i)
    return int(_NAMES[i + len(k):j if j > 0 else len(_NAMES)])


MAX_MESSAGE = const(1152)  # RFC 7252 4.6 default maximum message size


class CoapError(ValueError):
    """A malformed CoAP datagram; `.mid`/`.mtype` when the header parsed (to answer RST)."""

    def __init__(self, msg, mid=None, mtype=None):
        super().__init__(msg)
        self.mid = mid
        self.mtype = mtype


def code_str(code):
    return "%d.%02d" % (code >> 5, code & 31)


def uint_bytes(v):
    """Minimal unsigned integer option encoding (0 -> empty)."""
    if v == 0:
        return b""
    n = 0
    x = v
    while x:
        n += 1
        x >>= 8
    return v.to_bytes(n, "big")


def bytes_uint(b):
    return int.from_bytes(b, "big") if b else 0


class Message:
    __slots__ = ("mtype", "code", "mid", "token", "opts", "payload")

    def __init__(self, mtype=_CON, code=_EMPTY, mid=0, token=b"", payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.opts = []
        self.payload = payload

    def add(self, num, value):
        """Append an option; value may be bytes, str or int (minimal uint)."""
        if isinstance(value, int):
            value = uint_bytes(value)
        elif isinstance(value, str):
            value = value.encode()
        o = self.opts
        i = len(o)
        while i > 0 and o[i - 1][0] > num:
            i -= 1
        o.insert(i, (num, bytes(value)))
        return self

    def get(self, num):
        for n, v in self.opts:
            if n == num:
                return v
        return None

    def get_all(self, num):
        return [v for n, v in self.opts if n == num]

    def get_uint(self, num, default=None):
        v = self.get(num)
        return default if v is None else bytes_uint(v)

    def remove(self, num):
        self.opts = [(n, v) for n, v in self.opts if n != num]

    def set_path(self, path, num=_URI_PATH):
        # RFC 7252 6.4 step 8: one option per segment, empty segments included ("reg/1/" is
        # "reg", "1", ""; aiocoap-rd hands out such a Location-Path), none for "" or "/".
        # One leading "/" is the root, not an empty first segment.
        if path[:1] == "/":
            path = path[1:]
        if path:
            for seg in path.split("/"):
                self.add(num, seg)
        return self

    def path(self, num=_URI_PATH):
        # A segment that is not UTF-8 (RFC 7252 5.10.1: path options are strings) is the
        # peer's protocol error, a typed outcome of the wake, not a UnicodeError (issue #11, F3)
        try:
            return "/".join([v.decode() for v in self.get_all(num)])
        except UnicodeError:
            from errors import ProtocolError
            raise ProtocolError("path not UTF-8")

    def is_request(self):
        return 1 <= self.code <= 31

    def is_response(self):
        return self.code >= 64

    def __repr__(self):
        t = ("CON", "NON", "ACK", "RST")[self.mtype]
        s = "<%s %s mid=%d tok=%s" % (t, code_str(self.code), self.mid, self.token.hex())
        for n, v in self.opts:
            s += " %d:%s" % (n, v.hex())
        if self.payload:
            s += " +%dB" % len(self.payload)
        return s + ">"


def _ext(v):
    # Returns (nibble, extension bytes) for an option delta or length (RFC 7252 3.1).
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes((v - 13,))
    if v < 65805:
        return 14, (v - 269).to_bytes(2, "big")
    raise ValueError("option delta/length too large")


def encode_options(opts, out):
    """Append encoded options (sorted list of (num, bytes)) to the bytearray `out`."""
    prev = 0
    for num, val in opts:
        dn, de = _ext(num - prev)
        ln, le = _ext(len(val))
        out.append((dn << 4) | ln)
        out.extend(de)
        out.extend(le)
        out.extend(val)
        prev = num


def encode(msg):
    tk = msg.token
    if len(tk) > 8:
        raise ValueError("token > 8 bytes")
    out = bytearray(4 + len(tk))
    out[0] = 0x40 | (msg.mtype << 4) | len(tk)
    out[1] = msg.code
    out[2] = (msg.mid >> 8) & 0xFF
    out[3] = msg.mid & 0xFF
    out[4:] = tk
    encode_options(msg.opts, out)
    if msg.payload:
        out.append(0xFF)
        out.extend(msg.payload)
    return bytes(out)


def decode_options(buf, off, end, opts, mid=None, mtype=None):
    """Parse options from buf[off:end] into `opts`; returns the payload offset (or end)."""
    num = 0
    while off < end:
        b = buf[off]
        off += 1
        if b == 0xFF:
            if off >= end:
                raise CoapError("payload marker with empty payload", mid, mtype)
            return off
        d = b >> 4
        ln = b & 15
        if d == 15 or ln == 15:
            raise CoapError("reserved option nibble 15", mid, mtype)
        if d == 13:
            if off >= end:
                raise CoapError("truncated option delta", mid, mtype)
            d = buf[off] + 13
            off += 1
        elif d == 14:
            if off + 2 > end:
                raise CoapError("truncated option delta", mid, mtype)
            d = ((buf[off] << 8) | buf[off + 1]) + 269
            off += 2
        if ln == 13:
            if off >= end:
                raise CoapError("truncated option length", mid, mtype)
            ln = buf[off] + 13
            off += 1
        elif ln == 14:
            if off + 2 > end:
                raise CoapError("truncated option length", mid, mtype)
            ln = ((buf[off] << 8) | buf[off + 1]) + 269
            off += 2
        if off + ln > end:
            raise CoapError("option value past end of message", mid, mtype)
        num += d
        opts.append((num, bytes(buf[off:off + ln])))
        off += ln
    return end


def decode(buf):
    """Parse one CoAP datagram. Raises CoapError with the reason on malformed input."""
    n = len(buf)
    if n < 4:
        raise CoapError("datagram shorter than the 4-byte header")
    if n > MAX_MESSAGE:
        raise CoapError("datagram larger than %d bytes" % MAX_MESSAGE)
    b0 = buf[0]
    if b0 >> 6 != 1:
        raise CoapError("CoAP version %d" % (b0 >> 6))
    mtype = (b0 >> 4) & 3
    tkl = b0 & 15
    mid = (buf[2] << 8) | buf[3]
    code = buf[1]
    if tkl > 8:
        raise CoapError("token length %d" % tkl, mid, mtype)
    if 4 + tkl > n:
        raise CoapError("truncated token", mid, mtype)
    m = Message(mtype, code, mid, bytes(buf[4:4 + tkl]))
    if code == _EMPTY:
        if n != 4 or tkl:
            raise CoapError("empty message with token/options/payload", mid, mtype)
        return m
    cls = code >> 5
    if cls in (1, 6, 7):
        raise CoapError("reserved code class %d" % cls, mid, mtype)
    po = decode_options(buf, 4 + tkl, n, m.opts, mid, mtype)
    if po < n:
        m.payload = bytes(buf[po:])
    return m
