"""A small CBOR codec (RFC 8949) for MicroPython: Python values <-> bytes.

What it does: encodes int (-2^64 .. 2^64-1), bytes/bytearray/memoryview, str, list/tuple, dict,
True/False/None and float (always as a double, major 7 / 27) with the shortest integer head
(preferred serialization) and map keys in the deterministic order of RFC 8949 4.2.1; decodes all of those plus
half and single floats, `undefined` (as None), indefinite-length strings/arrays/maps, and skips
tags (major 6: the tagged item is returned as is). Every read is bounds-checked: malformed or
truncated input raises ValueError ("cbor ..."), never IndexError or an assertion.
What it does not do: bignums (tags 2/3 are skipped like any other tag, giving the bytes),
simple values other than false/true/null/undefined, duplicate map keys (last wins), deep nesting
(limit _MAX_DEPTH, recursion costs C stack on the device).

API: encode(obj) -> bytes; encode_into(out, obj) appends to a bytearray; head(out, major, n)
appends one item head (for writers that stream arrays/maps, e.g. SenML);
decode(buf) -> obj (whole buffer, trailing bytes rejected); decode_from(buf, off) -> (obj, off).
"""
import struct

from micropython import const

_MAX_DEPTH = const(16)


def head(out, major, n):
    """Append the initial byte(s) for major type `major` with argument n (shortest form)."""
    mt = major << 5
    if n < 24:
        out.append(mt | n)
    elif n < 0x100:
        out.append(mt | 24)
        out.append(n)
    elif n < 0x10000:
        out.append(mt | 25)
        out.extend(struct.pack(">H", n))
    elif n < 0x100000000:
        out.append(mt | 26)
        out.extend(struct.pack(">I", n))
    elif n < 0x10000000000000000:
        out.append(mt | 27)
        out.extend(struct.pack(">II", n >> 32, n & 0xFFFFFFFF))
    else:
        raise ValueError("cbor int too large")


def encode_into(out, obj, depth=0):
    if depth > _MAX_DEPTH:
        raise ValueError("cbor nesting")
    if obj is None:
        out.append(0xF6)
    elif obj is True:
        out.append(0xF5)
    elif obj is False:
        out.append(0xF4)
    elif isinstance(obj, int):
        if obj >= 0:
            head(out, 0, obj)
        else:
            head(out, 1, -1 - obj)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        head(out, 2, len(obj))
        out.extend(obj)
    elif isinstance(obj, str):
        b = obj.encode()
        head(out, 3, len(b))
        out.extend(b)
    elif isinstance(obj, (list, tuple)):
        head(out, 4, len(obj))
        for x in obj:
            encode_into(out, x, depth + 1)
    elif isinstance(obj, dict):
        # deterministic order (RFC 8949 4.2.1: bytewise order of the encoded keys), so both
        # interpreters give the same bytes (MicroPython dicts do not keep insertion order)
        head(out, 5, len(obj))
        keys = []
        for k in obj:
            keys.append((bytes(encode_into(bytearray(), k, depth + 1)), k))
        keys.sort()
        for kb, k in keys:
            out.extend(kb)
            encode_into(out, obj[k], depth + 1)
    elif isinstance(obj, float):
        out.append(0xFB)
        out.extend(struct.pack(">d", obj))
    else:
        raise ValueError("cbor: cannot encode " + type(obj).__name__)
    return out


def encode(obj):
    return bytes(encode_into(bytearray(), obj))


def _half(h):
    # RFC 8949 Appendix D
    e = (h >> 10) & 0x1F
    m = h & 0x3FF
    if e == 0:
        v = m * 2.0 ** -24
    elif e != 31:
        v = (m + 1024) * 2.0 ** (e - 25)
    elif m == 0:
        v = float("inf")
    else:
        v = float("nan")
    return -v if h & 0x8000 else v


def _need(buf, off, n):
    if n < 0 or off + n > len(buf):
        raise ValueError("cbor truncated")


def _arg(buf, off, ai):
    """Argument of an item head whose additional info is ai; returns (value, new offset)."""
    if ai < 24:
        return ai, off
    if ai == 24:
        _need(buf, off, 1)
        return buf[off], off + 1
    if ai == 25:
        _need(buf, off, 2)
        return (buf[off] << 8) | buf[off + 1], off + 2
    if ai == 26:
        _need(buf, off, 4)
        return struct.unpack(">I", bytes(buf[off:off + 4]))[0], off + 4
    if ai == 27:
        _need(buf, off, 8)
        hi, lo = struct.unpack(">II", bytes(buf[off:off + 8]))
        return (hi << 32) | lo, off + 8
    raise ValueError("cbor bad additional info")


def _item(buf, off, depth):
    if depth > _MAX_DEPTH:
        raise ValueError("cbor nesting")
    _need(buf, off, 1)
    ib = buf[off]
    off += 1
    mt = ib >> 5
    ai = ib & 0x1F
    if mt == 7:
        if ai == 20:
            return False, off
        if ai == 21:
            return True, off
        if ai == 22 or ai == 23:
            return None, off
        if ai == 25:
            _need(buf, off, 2)
            return _half((buf[off] << 8) | buf[off + 1]), off + 2
        if ai == 26:
            _need(buf, off, 4)
            return struct.unpack(">f", bytes(buf[off:off + 4]))[0], off + 4
        if ai == 27:
            _need(buf, off, 8)
            return struct.unpack(">d", bytes(buf[off:off + 8]))[0], off + 8
        raise ValueError("cbor unsupported simple value")
    if ai == 31:
        return _indef(buf, off, mt, depth)
    n, off = _arg(buf, off, ai)
    if mt == 0:
        return n, off
    if mt == 1:
        return -1 - n, off
    if mt == 2 or mt == 3:
        _need(buf, off, n)
        b = bytes(buf[off:off + n])
        off += n
        if mt == 3:
            try:
                return b.decode(), off
            except Exception:
                raise ValueError("cbor bad utf-8")
        return b, off
    if mt == 4:
        if n > len(buf) - off:           # each item takes at least one byte
            raise ValueError("cbor truncated")
        lst = []
        for _ in range(n):
            x, off = _item(buf, off, depth + 1)
            lst.append(x)
        return lst, off
    if mt == 5:
        if 2 * n > len(buf) - off:
            raise ValueError("cbor truncated")
        d = {}
        for _ in range(n):
            k, off = _item(buf, off, depth + 1)
            v, off = _item(buf, off, depth + 1)
            _put(d, k, v)
        return d, off
    # mt == 6: tag n, skip it and return the tagged item
    return _item(buf, off, depth + 1)


def _put(d, k, v):
    try:
        d[k] = v
    except TypeError:
        raise ValueError("cbor unhashable map key")


def _indef(buf, off, mt, depth):
    if mt == 2 or mt == 3:
        parts = bytearray()
        while True:
            _need(buf, off, 1)
            if buf[off] == 0xFF:
                off += 1
                break
            if buf[off] >> 5 != mt or buf[off] & 0x1F == 31:
                raise ValueError("cbor bad chunk")
            x, off = _item(buf, off, depth + 1)
            parts.extend(x.encode() if mt == 3 else x)
        if mt == 3:
            try:
                return bytes(parts).decode(), off
            except Exception:
                raise ValueError("cbor bad utf-8")
        return bytes(parts), off
    if mt == 4 or mt == 5:
        out = [] if mt == 4 else {}
        while True:
            _need(buf, off, 1)
            if buf[off] == 0xFF:
                return out, off + 1
            x, off = _item(buf, off, depth + 1)
            if mt == 4:
                out.append(x)
            else:
                _need(buf, off, 1)
                if buf[off] == 0xFF:
                    raise ValueError("cbor map missing value")
                v, off = _item(buf, off, depth + 1)
                _put(out, x, v)
    raise ValueError("cbor bad indefinite length")


def decode_from(buf, off=0):
    """Decode one item at buf[off:]; returns (obj, offset after it)."""
    return _item(buf, off, 0)


def decode(buf):
    obj, off = _item(buf, 0, 0)
    if off != len(buf):
        raise ValueError("cbor trailing bytes")
    return obj
