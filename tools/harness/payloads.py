"""Payload encoding and decoding for the harness LwM2M server (harness/server.py), an oracle
independent of the firmware: text, link format, opaque, TLV with harness/tlv.py (values typed by
the object model, harness/objects.py), SenML JSON and CBOR with json and cbor2 (RFC 8428,
resolved to absolute names and times), LwM2M CBOR with cbor2.

What it does: decode_payload (what the device sent, as Python data; never raises: an
undecodable payload becomes a string saying so), encode_values (Python values for a Write,
Create or Write-Composite), composite_names (the names of a Read-/Observe-Composite).
What it does not do: CoAP (harness/coap.py), or anything with the firmware's codecs.
"""
import json

from harness import tlv            # the harness's own TLV codec
from harness.objects import path_type

CF_TEXT, CF_LINK, CF_OPAQUE, CF_CBOR, CF_SENML_JSON, CF_SENML_CBOR, CF_TLV = 0, 40, 42, 60, 110, 112, 11542


def decode_payload(cf, payload, uri=None):
    """A payload as Python data: text as str, TLV as {id: ...}, SenML as resolved records
    (RFC 8428 4.6: absolute names and times; CBOR keeps the integer labels 0 n, 2 v, 3 vs,
    4 vb, 8 vd, 6 t), LwM2M CBOR as nested maps, link format as str, opaque as hex. `uri`: the
    request's path; TLV values are then typed by the object model (harness/objects.py)."""
    if not payload:
        return None
    try:
        if cf in (CF_TEXT, None):
            return payload.decode()
        if cf == CF_TLV:
            try:
                ids = tuple(int(x) for x in uri.strip("/").split("/") if x) if uri else ()
            except ValueError:      # a composite ("composite:/3/0/9,...") carries no TLV
                ids = ()
            return tlv.tree(payload, path_type if ids else None, ids)
        if cf == CF_LINK:
            return payload.decode()
        if cf == CF_SENML_JSON:
            return resolve_senml(json.loads(payload), "bn", "bt", "n", "t")
        if cf == CF_SENML_CBOR:
            import cbor2
            return resolve_senml(cbor2.loads(payload), -2, -3, 0, 6)
        if cf in (CF_CBOR, 11544) or cf == 50:
            import cbor2
            return cbor2.loads(payload) if cf != 50 else json.loads(payload)
    except Exception as e:  # a report, not a crash
        return "undecodable %s: %s" % (cf, e)
    return payload.hex()


def resolve_senml(recs, kbn, kbt, kn, kt):
    """Resolved SenML records: base name and base time folded into each record's n and t."""
    out = []
    bn, bt = "", 0
    for r in recs:
        bn = r.get(kbn, bn)
        bt = r.get(kbt, bt)
        d = {k: v for k, v in r.items() if k not in (kbn, kbt, kn, kt)}
        d[kn] = bn + r.get(kn, "")
        if kt in r or bt:
            d[kt] = bt + r.get(kt, 0)
        out.append(dict(sorted(d.items(), key=lambda kv: str(kv[0]))))
    return out


def abs_names(paths):
    """Paths as absolute names: ["3/0/9", "/3303/0/"] -> ["/3/0/9", "/3303/0"]."""
    return ["/" + p.strip("/") for p in paths]


def composite_names(cf, paths):
    """The payload of a Read-/Observe-Composite: SenML records with a name only (RFC 8790)."""
    recs = [{"n": n} for n in abs_names(paths)]
    if cf == CF_SENML_JSON:
        return json.dumps(recs).encode()
    if cf == CF_SENML_CBOR:
        import cbor2
        return cbor2.dumps([{0: r["n"]} for r in recs])
    raise ValueError("composite operations use SenML JSON (110) or SenML CBOR (112)")


def encode_values(cf, uri, values):
    """Encode Python values for a Write or Create on uri: `values` is {rid: v} (for an
    instance; v a dict {riid: v} for a multiple resource) or [("/o/i/r", v), ...]. Types follow
    Python: bool, int, float, str, bytes (opaque), tuple (objlnk)."""
    ids = [int(x) for x in uri.strip("/").split("/") if x]
    recs = []
    if isinstance(values, dict):
        base = ids if len(ids) >= 2 else ids + [0]
        for rid, v in sorted(values.items()):
            if isinstance(v, dict):
                for riid, x in sorted(v.items()):
                    recs.append((tuple(base[:2]) + (rid, riid), x))
            else:
                recs.append((tuple(base[:2]) + (rid,), v))
    else:
        recs = [(tuple(int(x) for x in p.strip("/").split("/")), v) for p, v in values]
    if cf == CF_TLV:
        return tlv.encode(recs, max(1, len(ids) - (len(ids) > 2)))
    if cf in (CF_SENML_JSON, CF_SENML_CBOR):
        out = []
        for p, v in recs:
            r = {"n": "/" + "/".join(map(str, p))}
            if isinstance(v, bool):
                r["vb"] = v
            elif isinstance(v, (int, float)):
                r["v"] = v
            elif isinstance(v, bytes):
                r["vd"] = v
            elif isinstance(v, tuple):
                r["vlo"] = "%d:%d" % v
            else:
                r["vs"] = v
            out.append(r)
        if cf == CF_SENML_JSON:
            import base64
            for r in out:
                if "vd" in r:
                    r["vd"] = base64.urlsafe_b64encode(r["vd"]).decode().rstrip("=")
            return json.dumps(out).encode()
        import cbor2
        lab = {"n": 0, "v": 2, "vs": 3, "vb": 4, "vd": 8}
        return cbor2.dumps([{lab.get(k, k): v for k, v in r.items()} for r in out])
    if cf == 11544:
        import cbor2
        root = {}
        for p, v in recs:
            d = root
            for x in p[:-1]:
                d = d.setdefault(x, {})
            d[p[-1]] = "%d:%d" % v if isinstance(v, tuple) else v
        return cbor2.dumps(root)
    raise ValueError("cannot encode values as content format %s" % cf)
