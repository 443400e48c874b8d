"""The harness server's own CoAP codec (RFC 7252 section 3), written apart from the firmware's
(firmware/coap/codec.py) so that the harness is an independent oracle: a codec bug in the
firmware shows up as a datagram this module rejects or reads differently.

What it does: header, token, options (4-bit / 1-byte / 2-byte extended delta and length, the
reserved nibble 15 refused), payload marker; a Message with the same small interface the
harness uses (add, get, get_all, get_uint, remove, set_path, path, is_request); `encode`
accepts any object with mtype/code/mid/token/opts/payload (so a firmware Message handed to a
plugin by a unit test still encodes, through this code).
What it does not do: retransmission or matching (harness/server.py), block-wise transfer.
"""
import struct

CON, NON, ACK, RST = 0, 1, 2, 3
EMPTY = 0
GET, POST, PUT, DELETE, FETCH, PATCH, IPATCH = 1, 2, 3, 4, 5, 6, 7


def _code(c, d):
    return c << 5 | d


CREATED, DELETED, VALID, CHANGED, CONTENT, CONTINUE = (_code(2, 1), _code(2, 2), _code(2, 3),
                                                      _code(2, 4), _code(2, 5), _code(2, 31))
BAD_REQUEST, UNAUTHORIZED, BAD_OPTION, FORBIDDEN, NOT_FOUND, METHOD_NOT_ALLOWED, NOT_ACCEPTABLE = (
    _code(4, 0), _code(4, 1), _code(4, 2), _code(4, 3), _code(4, 4), _code(4, 5), _code(4, 6))
REQUEST_ENTITY_INCOMPLETE, PRECONDITION_FAILED, UNSUPPORTED_FORMAT = _code(4, 8), _code(4, 12), _code(4, 15)
INTERNAL_ERROR, NOT_IMPLEMENTED, SERVICE_UNAVAILABLE = _code(5, 0), _code(5, 1), _code(5, 3)

IF_MATCH, URI_HOST, ETAG, IF_NONE_MATCH, OBSERVE, URI_PORT, LOCATION_PATH, OSCORE = 1, 3, 4, 5, 6, 7, 8, 9
URI_PATH, CONTENT_FORMAT, MAX_AGE, URI_QUERY, ACCEPT, LOCATION_QUERY = 11, 12, 14, 15, 17, 20
BLOCK2, BLOCK1, SIZE2, PROXY_URI, SIZE1, ECHO, REQUEST_TAG = 23, 27, 28, 35, 60, 252, 292

_METHODS = {GET: "GET", POST: "POST", PUT: "PUT", DELETE: "DELETE", FETCH: "FETCH",
            PATCH: "PATCH", IPATCH: "iPATCH"}


class CoapError(ValueError):
    """A datagram that is not valid CoAP; mid/mtype set when the 4-byte header was read."""

    def __init__(self, why, mid=None, mtype=None):
        super().__init__(why)
        self.mid = mid
        self.mtype = mtype


def code_str(code):
    if code in _METHODS:
        return _METHODS[code]
    return "%d.%02d" % (code >> 5, code & 0x1F)


def _uint(v):
    return v.to_bytes((v.bit_length() + 7) // 8, "big")


class Message:
    def __init__(self, mtype=CON, code=EMPTY, mid=0, token=b"", payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.opts = []          # [(number, bytes)], kept in option-number order
        self.payload = payload

    def add(self, num, value):
        if isinstance(value, int):
            value = _uint(value)
        elif isinstance(value, str):
            value = value.encode()
        # after every option with a number <= num (RFC 7252 5.4.5: repeats keep their order)
        i = 0
        while i < len(self.opts) and self.opts[i][0] <= num:
            i += 1
        self.opts.insert(i, (num, bytes(value)))
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
        return default if v is None else int.from_bytes(v, "big")

    def remove(self, num):
        self.opts = [(n, v) for n, v in self.opts if n != num]

    def set_path(self, path, num=URI_PATH):
        for seg in path.strip("/").split("/"):
            if seg:
                self.add(num, seg)
        return self

    def path(self, num=URI_PATH):
        return "/".join(v.decode("utf-8", "replace") for v in self.get_all(num))

    def is_request(self):
        return 1 <= self.code <= 31

    def is_response(self):
        return self.code >= 64

    def __repr__(self):
        return "<CoAP %s %s mid=%d tok=%s opts=%r %dB>" % (
            ("CON", "NON", "ACK", "RST")[self.mtype], code_str(self.code), self.mid,
            bytes(self.token).hex(), self.opts, len(self.payload))


def _ext(n):
    # (nibble, extension bytes) for an option delta or length (RFC 7252 3.1)
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, struct.pack(">H", n - 269)


def encode(m):
    tok = bytes(m.token)
    if len(tok) > 8:
        raise CoapError("token longer than 8 bytes")
    out = bytearray(struct.pack(">BBH", 0x40 | (m.mtype << 4) | len(tok), m.code, m.mid & 0xFFFF))
    out += tok
    last = 0
    for num, val in sorted(m.opts, key=lambda o: o[0]):      # stable: repeats keep their order
        val = bytes(val)
        dn, dx = _ext(num - last)
        ln, lx = _ext(len(val))
        out.append(dn << 4 | ln)
        out += dx + lx + val
        last = num
    if m.payload:
        out.append(0xFF)
        out += bytes(m.payload)
    return bytes(out)


def decode(data):
    data = bytes(data)
    if len(data) < 4:
        raise CoapError("shorter than the 4-byte header")
    b0, code, mid = struct.unpack(">BBH", data[:4])
    mtype = (b0 >> 4) & 3
    if b0 >> 6 != 1:
        raise CoapError("version %d" % (b0 >> 6), mid, mtype)
    tkl = b0 & 0x0F
    if tkl > 8:
        raise CoapError("token length %d" % tkl, mid, mtype)
    if len(data) < 4 + tkl:
        raise CoapError("token truncated", mid, mtype)
    if code == EMPTY and len(data) != 4:
        raise CoapError("empty message with content", mid, mtype)
    m = Message(mtype, code, mid, data[4:4 + tkl])
    i = 4 + tkl
    num = 0
    while i < len(data):
        if data[i] == 0xFF:
            if i + 1 == len(data):
                raise CoapError("payload marker without payload", mid, mtype)
            m.payload = data[i + 1:]
            break
        d, ln = data[i] >> 4, data[i] & 0x0F
        i += 1
        vals = []
        for nib in (d, ln):
            if nib == 15:
                raise CoapError("reserved option nibble 15", mid, mtype)
            if nib == 13:
                if i >= len(data):
                    raise CoapError("option truncated", mid, mtype)
                vals.append(data[i] + 13)
                i += 1
            elif nib == 14:
                if i + 2 > len(data):
                    raise CoapError("option truncated", mid, mtype)
                vals.append(struct.unpack(">H", data[i:i + 2])[0] + 269)
                i += 2
            else:
                vals.append(nib)
        num += vals[0]
        if i + vals[1] > len(data):
            raise CoapError("option value truncated", mid, mtype)
        m.opts.append((num, data[i:i + vals[1]]))
        i += vals[1]
    return m


def from_any(m):
    """A harness Message with the fields of any message object (mtype/code/mid/token/opts/payload)."""
    if isinstance(m, Message):
        return m
    h = Message(m.mtype, m.code, m.mid, bytes(m.token), bytes(m.payload))
    h.opts = [(n, bytes(v)) for n, v in m.opts]
    return h
