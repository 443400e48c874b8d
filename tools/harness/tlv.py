"""The harness server's own OMA LwM2M TLV codec (content format 11542, LwM2M 1.1.1 Core 7.4.3),
written apart from the firmware's lwm2m/tlv.py so a shared misreading cannot pass unseen.

Type byte: bits 7-6 identifier kind (0 object instance, 1 resource instance, 2 multiple
resource, 3 resource with value), bit 5 identifier of 16 bits, bits 4-3 length field of 0/8/16/
24 bits, bits 2-0 the length when bits 4-3 are 0.
Values carry no type: `value_guess` reads them the way a server that does not know the object
would (text, then integer, float only where asked).
"""
import struct

OBJ_INST, RES_INST, MULTI_RES, RES = 0, 1, 2, 3


class TlvError(ValueError):
    pass


def decode(b):
    """[(kind, id, value bytes)] of one TLV level; TlvError on anything malformed."""
    b = bytes(b)
    out = []
    i = 0
    while i < len(b):
        t = b[i]
        i += 1
        idlen = 2 if t & 0x20 else 1
        lkind = (t >> 3) & 3
        if i + idlen + lkind > len(b):
            raise TlvError("TLV header truncated")
        ident = int.from_bytes(b[i:i + idlen], "big")
        i += idlen
        n = int.from_bytes(b[i:i + lkind], "big") if lkind else t & 7
        i += lkind
        if i + n > len(b):
            raise TlvError("TLV value truncated (%d > %d)" % (n, len(b) - i))
        out.append((t >> 6, ident, b[i:i + n]))
        i += n
    return out


def entry(kind, ident, value):
    value = bytes(value)
    n = len(value)
    t = kind << 6 | (0x20 if ident > 0xFF else 0)
    if n < 8:
        t |= n
        ln = b""
    elif n <= 0xFF:
        t |= 0x08
        ln = bytes([n])
    elif n <= 0xFFFF:
        t |= 0x10
        ln = struct.pack(">H", n)
    elif n <= 0xFFFFFF:
        t |= 0x18
        ln = struct.pack(">I", n)[1:]
    else:
        raise TlvError("value too long for TLV")
    return bytes([t]) + ident.to_bytes(2 if ident > 0xFF else 1, "big") + ln + value


def value(v):
    """Bytes of a Python value: bool, int (shortest of 1/2/4/8 bytes), float (8 bytes), bytes,
    (oid, iid) object link, str."""
    if isinstance(v, bool):
        return b"\x01" if v else b"\x00"
    if isinstance(v, int):
        for n in (1, 2, 4, 8):
            if -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
                return v.to_bytes(n, "big", signed=True)
        raise TlvError("integer out of range")
    if isinstance(v, float):
        return struct.pack(">d", v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, tuple):
        return struct.pack(">HH", *v)
    return str(v).encode()


def value_float(v):
    if len(v) == 4:
        return struct.unpack(">f", v)[0]
    if len(v) == 8:
        return struct.unpack(">d", v)[0]
    raise TlvError("float of %d bytes" % len(v))


def value_guess(v, floats=()):
    """A value without knowing its type: text when printable, else a signed integer (1/2/4/8
    bytes), else hex. `floats`: True to read 4/8-byte values as IEEE floats."""
    if floats and len(v) in (4, 8):
        return value_float(v)
    try:
        s = v.decode()
        if s and s.isprintable():
            return s
    except UnicodeError:
        pass
    if len(v) in (1, 2, 4, 8):
        return int.from_bytes(v, "big", signed=True)
    return v.hex()


def tree(b, types=None, path=()):
    """Nested {id: value or {...}} of a TLV payload. `path`: the ids of the request (/o/i/r/ri
    as a tuple); `types(path)` may name the type letter (s i f b t o l) of the resource at an
    absolute path so floats and booleans come out right; without it values are guessed."""
    out = {}
    for kind, ident, val in decode(b):
        # the path of this entry: an instance under the object, a resource under the
        # instance, a resource instance under the resource
        p = tuple(path[:(1, 3, 2, 2)[kind]]) + (ident,)
        if kind in (OBJ_INST, MULTI_RES):
            out[ident] = tree(val, types, p)
        else:
            typ = types(p) if types else None
            out[ident] = typed(val, typ)
    return out


def typed(v, typ):
    if typ == "f":
        return value_float(v)
    if typ in ("i", "t"):
        return int.from_bytes(v, "big", signed=True) if v else 0
    if typ == "b":
        return v != b"\x00"
    if typ == "o":
        return v.hex()
    if typ == "l" and len(v) == 4:
        return "%d:%d" % struct.unpack(">HH", v)
    if typ == "s":
        return v.decode("utf-8", "replace")
    return value_guess(v)


def encode(recs, lvl):
    """TLV of [(path tuple, python value)] nested from path level lvl (1: instances, 2:
    resources, 3: resource instances)."""
    recs = sorted(recs, key=lambda r: r[0])
    out = bytearray()
    i = 0
    while i < len(recs):
        p = recs[i][0]
        j = i + 1
        while j < len(recs) and recs[j][0][lvl] == p[lvl]:
            j += 1
        if len(p) == lvl + 1:
            out += entry(RES if lvl == 2 else RES_INST, p[lvl], value(recs[i][1]))
        else:
            out += entry(OBJ_INST if lvl == 1 else MULTI_RES, p[lvl], encode(recs[i:j], lvl + 1))
        i = j
    return bytes(out)
