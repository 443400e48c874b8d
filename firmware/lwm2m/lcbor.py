"""LwM2M CBOR (11544, LwM2M 1.2 Core 7.4.7): nested maps keyed by ids, {3: {0: {9: 87}}}, for
LwM2M records (see lwm2m/senml.py); a module of its own so that a request in another format does
not load it. What it does not do: array keys (path compression) on input."""
import cbor


def enc_lcbor(recs, _ids):
    root = {}
    for p, typ, v in recs:
        d = root
        for x in p[:-1]:
            d = d.setdefault(x, {})
        if typ == "l":
            v = "%d:%d" % (v[0], v[1])
        elif typ == "f":
            v = float(v)
        elif typ == "o":
            v = bytes(v)
        d[p[-1]] = v
    return cbor.encode(root)


def _walk(d, base, out):
    if not isinstance(d, dict):
        raise ValueError("LwM2M CBOR: not a map")
    for k, v in d.items():
        p = base + (k,)
        for x in p:
            if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x <= 65535:
                raise ValueError("LwM2M CBOR: bad key")
        if len(p) > 4:
            raise ValueError("LwM2M CBOR: path too deep")
        if isinstance(v, dict):
            _walk(v, p, out)
        else:
            out.append((p, v))
    return out


def dec_lcbor(b):
    return _walk(cbor.decode(b), (), [])
