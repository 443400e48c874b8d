"""Content formats for Read, Notify, Write and Create: records out of the registry, payloads in
and out.

text/plain (0) and opaque (42) carry one value, TLV (11542) anything (lwm2m/tlv.py); SenML JSON
(110) and SenML CBOR (112) live in lwm2m/senml.py, LwM2M CBOR (11544) in lwm2m/lcbor.py,
imported only when a request names them. A record is (path, typ, value) with path a tuple of ids.
What it does not do: routing, response codes or checks of what may be written (lwm2m/dm.py)."""
from micropython import const

from lwm2m import tlv

_TEXT = const(0)
_OPAQUE = const(42)
_SJSON = const(110)
_SCBOR = const(112)
_TLV = const(11542)
_LCBOR = const(11544)


class DecodeError(ValueError):
    """A payload or argument that does not decode, or a value the resource cannot take: the
    server's error, answered 4.00 (lwm2m/dm.py). Raised by the decoding steps only (decode,
    value, and the checks of lwm2m/dmw.py): anything else a request raises is a bug (5.00)."""


def records(o, ids):
    # (path, typ, value) of every readable value under ids (object, instance, resource or
    # resource instance), sorted by path. The caller has checked that ids exist. A resource
    # whose value is None (a min/max before the first sample or after a reset) is left out.
    out = []
    iids = ids[1:2] or sorted(o.inst)
    for iid in iids:
        inst = o.inst[iid]
        for rid in ids[2:3] or sorted(inst):
            typ, ops, multi = o.res(rid)
            if "R" not in ops:
                continue
            v = o.value(iid, rid)
            if v is None:
                continue        # no value (yet): not present (LwM2M 1.1.1 Core 6.3.1, docs/lwm2m.md)
            if multi:
                for riid in ids[3:4] or sorted(v):
                    if v[riid] is not None:
                        out.append(((o.oid, iid, rid, riid), typ, v[riid]))
            else:
                out.append(((o.oid, iid, rid), typ, v))
    return out


def text(v, typ):
    if typ == "b":
        return b"1" if v else b"0"
    if typ == "f":
        return repr(float(v)).encode()
    if typ == "l":
        return ("%d:%d" % (v[0], v[1])).encode()
    if typ == "o":
        return bytes(v)
    return str(v).encode()


def check(v, typ):
    # v if it is storable as LwM2M type typ (a signed 64-bit integer or time, a finite float,
    # a string or opaque value of at most 1 KiB), else ValueError. MicroPython's json.dumps
    # writes inf and nan as `inf`/`nan`, which its json.loads rejects: a non-finite number
    # must never be persisted (issue #11, F1).
    if typ in ("i", "t"):
        if not isinstance(v, int) or isinstance(v, bool) or not -(1 << 63) <= v < 1 << 63:
            raise ValueError("integer out of range")
    elif typ == "f":
        # finite: inf - inf and nan are nan, never 0 (no math module needed)
        if not isinstance(v, float) or not (v == v and v - v == 0):
            raise ValueError("not a finite number")
    elif typ in ("s", "o") and len(v) > 1024:
        raise ValueError("value too long")
    return v


def untext(b, typ):
    s = bytes(b).decode()
    if typ in ("i", "t"):
        return check(int(s), typ)
    if typ == "f":
        return check(float(s), typ)
    if typ == "b":
        if s not in ("0", "1"):
            raise ValueError("boolean must be 0 or 1")
        return s == "1"
    if typ == "l":
        return coerce(s, typ)
    if typ == "o":
        return bytes(b)
    return s


def coerce(v, typ):
    # A decoded SenML/CBOR value as a value of LwM2M type typ; ValueError if it is not one.
    if typ in ("i", "t"):
        # a float is an integer only if finite (int(inf) raises OverflowError: issue #11, F2)
        if isinstance(v, float) and v == v and v - v == 0 and v == int(v):
            v = int(v)
        ok = isinstance(v, int) and not isinstance(v, bool) and -(1 << 63) <= v < 1 << 63
    elif typ == "f":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok:
            try:
                v = float(v)
            except OverflowError:      # an integer beyond the float range
                ok = False
            ok = ok and v == v and v - v == 0
    elif typ == "b":
        ok = isinstance(v, bool)
    elif typ == "o":
        ok = isinstance(v, (bytes, bytearray))
        v = bytes(v) if ok else v
    elif typ == "l":
        ok = isinstance(v, str) and v.count(":") == 1
        if ok:
            a, b = v.split(":")
            v = (int(a), int(b))
            ok = 0 <= v[0] <= 65535 and 0 <= v[1] <= 65535
    else:
        ok = isinstance(v, str)
    if not ok:
        raise ValueError("not a value of type " + typ)
    return check(v, typ)


def single(o, ids):
    # True if ids name one value (a single resource or a resource instance).
    return len(ids) == 4 or (len(ids) == 3 and not o.res(ids[2])[2])


def encode(o, ids, accept):
    # (content format, payload) of a Read of ids, or None if accept cannot express it;
    # (content format, None) when ids name one value that has none (Read: 4.04 Not Found).
    one = single(o, ids)
    if accept is None:
        if not one:
            accept = _TLV
        else:
            accept = _OPAQUE if o.res(ids[2])[0] == "o" else _TEXT
    if accept in (_TEXT, _OPAQUE):
        if not one:
            return None
        recs = records(o, ids)
        if not recs:
            return accept, None
        typ = recs[0][1]
        if accept == _OPAQUE and typ != "o":
            return None
        return accept, text(recs[0][2], typ)
    recs = records(o, ids)
    if one and not recs:
        return accept, None
    if accept == _TLV:
        return accept, bytes(tlv.encode_records(recs, len(ids) - (len(ids) > 2), bytearray()))
    if accept == _LCBOR:
        from lwm2m import lcbor
        return accept, lcbor.enc_lcbor(recs, ids)
    if accept in (_SJSON, _SCBOR):
        from lwm2m import senml
        return accept, (senml.enc_json if accept == _SJSON else senml.enc_cbor)(recs, ids)
    return None


def decode(cf, payload, ids):
    # Decode a Write/Create payload for the request path ids. Returns (records, conv) where
    # records are (path, raw) and conv(raw, typ) gives the typed value (see value()), or None
    # if cf is not a format we read. A TLV multiple resource gives (path, None) first.
    # Raises DecodeError: what a malformed payload makes the parsers raise (ValueError,
    # UnicodeError, TlvError; IndexError, KeyError, TypeError on structures they did not
    # expect) is the server's error here, and only here.
    try:
        if cf in (_TEXT, _OPAQUE):
            return [(tuple(ids), payload)], (untext if cf == _TEXT else _opaque)
        if cf == _TLV:
            base = tuple(ids[:3]) if len(ids) == 4 else tuple(ids[:2])
            return tlv.decode_records(payload, base, []), tlv.bytes_value
        if cf == _LCBOR:
            from lwm2m import lcbor
            return lcbor.dec_lcbor(payload), coerce
        if cf in (_SJSON, _SCBOR):
            from lwm2m import senml
            return (senml.dec_json if cf == _SJSON else senml.dec_cbor)(payload), coerce
    except (ValueError, IndexError, KeyError, TypeError) as e:
        raise DecodeError("%s: %s" % (type(e).__name__, e))
    return None


def value(conv, raw, typ):
    # The value to store from a decoded raw value (conv from decode()), checked for type typ;
    # DecodeError if it cannot be one (text that is no number, a wrong CBOR type, inf ...).
    try:
        return check(conv(raw, typ), typ)
    except (ValueError, TypeError, OverflowError) as e:
        raise DecodeError("%s: %s" % (type(e).__name__, e))


def _opaque(b, typ):
    if typ != "o":
        raise ValueError("opaque payload for a non-opaque resource")
    return bytes(b)
