"""OMA LwM2M TLV (content format 11542): encode and decode.

Type byte: bits 7-6 identifier kind (00 object instance, 01 resource instance, 10 multiple
resource, 11 resource with value), bit 5 id length (0: 8 bits, 1: 16 bits), bits 4-3 length
kind (00: in bits 2-0, 01: 8-bit, 10: 16-bit, 11: 24-bit), bits 2-0 the short length."""
import struct

OBJ_INST = 0
RES_INST = 1
MULTI_RES = 2
RES = 3


class TlvError(ValueError):
    pass


def _hdr(kind, ident, n, out):
    t = kind << 6
    if ident > 255:
        t |= 0x20
    if n < 8:
        t |= n
        ln = b""
    elif n < 256:
        t |= 0x08
        ln = bytes((n,))
    elif n < 65536:
        t |= 0x10
        ln = struct.pack(">H", n)
    else:
        t |= 0x18
        ln = struct.pack(">I", n)[1:]
    out.append(t)
    if ident > 255:
        out.extend(struct.pack(">H", ident))
    else:
        out.append(ident)
    out.extend(ln)


def encode_entry(kind, ident, value, out):
    _hdr(kind, ident, len(value), out)
    out.extend(value)


def value_bytes(v, typ):
    # Encode one value of LwM2M type typ: s i f b t o l (string, integer, float, boolean, time,
    # opaque, objlnk).
    if typ in ("i", "t"):
        v = int(v)
        for fmt, lo in ((">b", -128), (">h", -32768), (">i", -2147483648)):
            if lo <= v <= -lo - 1:
                return struct.pack(fmt, v)
        return struct.pack(">q", v)
    if typ == "f":
        f = float(v)
        b = struct.pack(">f", f)
        if struct.unpack(">f", b)[0] == f:
            return b
        return struct.pack(">d", f)
    if typ == "b":
        return b"\x01" if v else b"\x00"
    if typ == "l":
        return struct.pack(">HH", v[0], v[1])
    if typ == "o":
        return bytes(v)
    return str(v).encode()


def bytes_value(b, typ):
    if typ in ("i", "t"):
        if len(b) not in (1, 2, 4, 8):
            raise TlvError("integer of %d bytes" % len(b))
        return struct.unpack({1: ">b", 2: ">h", 4: ">i", 8: ">q"}[len(b)], b)[0]
    if typ == "f":
        if len(b) == 4:
            return struct.unpack(">f", b)[0]
        if len(b) == 8:
            return struct.unpack(">d", b)[0]
        raise TlvError("float of %d bytes" % len(b))
    if typ == "b":
        if len(b) != 1 or b[0] > 1:
            raise TlvError("boolean")
        return b[0] == 1
    if typ == "l":
        if len(b) != 4:
            raise TlvError("objlnk")
        return struct.unpack(">HH", b)
    if typ == "o":
        return bytes(b)
    try:
        return bytes(b).decode()
    except UnicodeError:
        raise TlvError("string not UTF-8")


def decode(buf, off=0, end=None):
    # Yield (kind, id, value bytes) for the entries in buf[off:end] (one level).
    if end is None:
        end = len(buf)
    out = []
    while off < end:
        t = buf[off]
        off += 1
        kind = t >> 6
        if t & 0x20:
            if off + 2 > end:
                raise TlvError("truncated id")
            ident = (buf[off] << 8) | buf[off + 1]
            off += 2
        else:
            if off >= end:
                raise TlvError("truncated id")
            ident = buf[off]
            off += 1
        lk = (t >> 3) & 3
        if lk == 0:
            n = t & 7
        else:
            if off + lk > end:
                raise TlvError("truncated length")
            n = 0
            for _ in range(lk):
                n = (n << 8) | buf[off]
                off += 1
        if off + n > end:
            raise TlvError("value past end")
        out.append((kind, ident, bytes(buf[off:off + n])))
        off += n
    return out


def encode_records(recs, lvl, out):
    # TLV of records (path, typ, value) sorted by path, that share path[:lvl]: object instances
    # at level 1, resources at 2, resource instances at 3 (a resource read starts at 2).
    i = 0
    n = len(recs)
    while i < n:
        p = recs[i][0]
        ident = p[lvl]
        j = i + 1
        while j < n and recs[j][0][lvl] == ident:
            j += 1
        if len(p) == lvl + 1:
            encode_entry(RES if lvl == 2 else RES_INST, ident, value_bytes(recs[i][2], recs[i][1]), out)
        else:
            inner = bytearray()
            encode_records(recs[i:j], lvl + 1, inner)
            encode_entry(OBJ_INST if lvl == 1 else MULTI_RES, ident, inner, out)
        i = j
    return out


def decode_records(buf, base, out):
    # Append (path, value bytes) for each TLV leaf under `base` (a tuple of ids); a multiple
    # resource also gives (path, None) first (its instances are replaced as a whole).
    lvl = len(base)
    for kind, ident, val in decode(buf):
        p = base + (ident,)
        if kind == OBJ_INST and lvl == 1:
            decode_records(val, p, out)
        elif kind == MULTI_RES and lvl == 2:
            out.append((p, None))
            decode_records(val, p, out)
        elif (kind == RES and lvl == 2) or (kind == RES_INST and lvl == 3):
            out.append((p, val))
        else:
            raise TlvError("TLV kind %d at level %d" % (kind, lvl))
    return out
