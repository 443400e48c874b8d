"""SenML JSON (110) and SenML CBOR (112) (RFC 8428) for LwM2M records: encode what a Read or a Notify gives, decode what a Write or a Create carries.

Records are (path, typ, value) to encode and (path, value) once decoded, `path` a tuple of ids
such as (3303, 0, 5700) and `typ` a resource type letter (lwm2m/objects.py). Encoding puts a base
name on the first record (the object or instance of the request, RFC 8428 4.5.1) and a short
relative name on each; decoding resolves bn + n. Numbers go as CBOR float32 when exact, else
float64. Loaded only when a request names one of these formats (lwm2m/fmt.py).
What it does not do: SenML times and units in Read/Write (the Send batches do that, see
lwm2m/send.py), base values or sums, or the JSON `vd` base64 variants other than base64url."""
import struct

from micropython import const

# RFC 8428 Table 4: CBOR labels
_BN = const(-2)
_N = const(0)
_V = const(2)
_VS = const(3)
_VB = const(4)
_VD = const(8)


def _pre(ids):
    ids = ids[:2]
    return len(ids), "/" + "/".join([str(x) for x in ids]) + "/"


def _rel(p, k):
    return "/".join([str(x) for x in p[k:]])


def f32(out, v):
    # Append float v as CBOR float32 when that is exact, else float64.
    b = struct.pack(">f", v)
    if struct.unpack(">f", b)[0] == v:
        out.append(0xFA)
        out.extend(b)
    else:
        out.append(0xFB)
        out.extend(struct.pack(">d", v))


def _cval(out, typ, v, cbor):
    if typ == "f":
        out.append(_V)
        f32(out, float(v))
    elif typ in ("i", "t"):
        out.append(_V)
        cbor.encode_into(out, int(v))
    elif typ == "b":
        out.append(_VB)
        out.append(0xF5 if v else 0xF4)
    elif typ == "o":
        out.append(_VD)
        cbor.encode_into(out, bytes(v))
    elif typ == "l":
        cbor.encode_into(out, "vlo")
        cbor.encode_into(out, "%d:%d" % (v[0], v[1]))
    else:
        out.append(_VS)
        cbor.encode_into(out, str(v))


def enc_cbor(recs, ids):
    import cbor
    k, bn = _pre(ids)
    out = bytearray()
    cbor.head(out, 4, len(recs))
    first = True
    for p, typ, v in recs:
        cbor.head(out, 5, 3 if first else 2)
        if first:
            out.append(0x21)            # -2 bn
            cbor.encode_into(out, bn)
            first = False
        out.append(_N)
        cbor.encode_into(out, _rel(p, k))
        _cval(out, typ, v, cbor)
    return bytes(out)


def _b64(b):
    import binascii
    s = binascii.b2a_base64(b).decode().strip().rstrip("=")
    return s.replace("+", "-").replace("/", "_")


def _unb64(s):
    import binascii
    s = s.replace("-", "+").replace("_", "/")
    return binascii.a2b_base64(s + "=" * (-len(s) % 4))


def enc_json(recs, ids):
    import json
    k, bn = _pre(ids)
    out = []
    for p, typ, v in recs:
        r = {"n": _rel(p, k)}
        if not out:
            r["bn"] = bn
        if typ == "f":
            r["v"] = float(v)
        elif typ in ("i", "t"):
            r["v"] = int(v)
        elif typ == "b":
            r["vb"] = bool(v)
        elif typ == "o":
            r["vd"] = _b64(bytes(v))
        elif typ == "l":
            r["vlo"] = "%d:%d" % (v[0], v[1])
        else:
            r["vs"] = str(v)
        out.append(r)
    return json.dumps(out).encode()


def path(name):
    # '/3/0/1' -> (3, 0, 1); ValueError if it is not an LwM2M path.
    if name[:1] != "/":
        raise ValueError("SenML name " + name)
    p = tuple([int(x) for x in name[1:].split("/")])
    if not 1 <= len(p) <= 4 or min(p) < 0 or max(p) > 65535:
        raise ValueError("SenML name " + name)
    return p


def _dec(recs, kbn, kn, keys):
    if not isinstance(recs, list):
        raise ValueError("SenML: not an array")
    bn = ""
    out = []
    for r in recs:
        if not isinstance(r, dict):
            raise ValueError("SenML: record not a map")
        bn = r.get(kbn, bn)
        n = r.get(kn, "")
        if not isinstance(bn, str) or not isinstance(n, str):
            raise ValueError("SenML: name not a string")
        v = None
        for key in keys:
            if key in r:
                v = r[key]
                if key in ("vd", _VD) and isinstance(v, str):
                    v = _unb64(v)
                break
        if v is None:
            raise ValueError("SenML: record without a value")
        out.append((path(bn + n), v))
    return out


def dec_cbor(b):
    import cbor
    return _dec(cbor.decode(b), _BN, _N, (_V, _VS, _VB, _VD, "vlo"))


def dec_json(b):
    import json
    try:
        recs = json.loads(bytes(b).decode())
    except (ValueError, UnicodeError):
        raise ValueError("SenML JSON malformed")
    return _dec(recs, "bn", "n", ("v", "vs", "vb", "vd", "vlo"))
