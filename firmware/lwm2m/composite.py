"""Composite operations (LwM2M 1.1.1 Core 6.3.8, 6.3.9, 6.4.5; Transport 6.4): Read-Composite
(FETCH), Observe-Composite and its cancellation (FETCH with Observe 0 / 1), Write-Composite
(iPATCH), in SenML JSON (110) and SenML CBOR (112). Loaded only for FETCH and iPATCH
(lwm2m/dm.py), dropped after the request like the rest of the DM code.

Read-Composite / Observe-Composite: the request's payload (Content-Format 110 or 112) lists
SenML names only (`bn` + `n`: objects, instances, resources or resource instances); the answer
(Accept, default the request's format) holds every readable value under those names as SenML
records with absolute names. A name that does not exist is left out (4.04 if none exists);
Object 0 is never read (4.01).
Observe-Composite is registered and cancelled by lwm2m/observe.py's on_request (lwm2m/dm.py
calls it with the ids handle() returns), as a single observation is (RTC section 'obs'): the
entry's path is the marker 0xFFFF followed by each requested path as (length, ids...) and observe._state hands it back to state() here, so it
survives deep sleep, is notified at a wake with the radio up when pmax elapsed or the composite
payload changed after pmin (pmin/pmax: the server's defaults /1/0/2, /1/0/3), and the
notification carries the whole composite in the observation's format.
Write-Composite: the payload's records carry values for resources or resource instances (of
multiple resources); every record is checked (exists, writable, type, finite numbers, integers
within 64 bits) before the first value is stored: one bad record and nothing changes (4.00 bad
value/format, 4.04 unknown path, 4.05 not writable, 4.01 Object 0). What is written persists in
flash (lwm2m/persist.py) like a Write.
What it does not do: LwM2M CBOR (11544) composite payloads (4.15), SenML times or base values,
attributes on a composite observation (Write-Attributes names one path)."""
from micropython import const

from coap import codec as C
from lwm2m import fmt

_SJSON = const(110)
_SCBOR = const(112)
MARK = const(0xFFFF)     # first id of a composite observation's path in 'obs'
_MAXP = const(8)         # paths per composite observation (RTC memory)


def handle(dm, m):
    # FETCH (code 5) or iPATCH (code 7) from the server: the response as a tuple (code[, payload,
    # cf[, ids]]) that lwm2m/dm.py turns into the message (this module imports nothing from
    # dm.py or observe.py: no import loop); with ids, dm.py registers (Observe 0) or cancels (1)
    # the composite observation under them. A payload that does not decode, or a value a
    # resource cannot take, is a 4.00 (decided where it is decoded, below); anything else
    # raised here is a bug (lwm2m/dm.py answers 5.00).
    if m.get(C.URI_PATH) is not None:
        return (C.BAD_REQUEST,)      # composite requests go to the root path
    cf = m.get_uint(C.CONTENT_FORMAT)
    if cf is None:
        return (C.BAD_REQUEST,)
    if cf not in (_SJSON, _SCBOR):
        return (C.UNSUPPORTED_FORMAT,)
    try:
        if m.code == 5:
            got = (_names_json if cf == _SJSON else _dec_cbor_names)(m.payload)
        else:
            from lwm2m import senml
            got = (senml.dec_json if cf == _SJSON else senml.dec_cbor)(m.payload)
    except (ValueError, TypeError, KeyError, IndexError, UnicodeError):
        return (C.BAD_REQUEST,)
    if not got:
        return (C.BAD_REQUEST,)
    if m.code == 7:
        return write(dm, got)
    acc = m.get_uint(C.ACCEPT, cf)
    if acc not in (_SJSON, _SCBOR):
        return (C.NOT_ACCEPTABLE,)
    paths = []
    for p in got:
        if p not in paths:
            paths.append(p)
    obs = m.get_uint(C.OBSERVE)
    r = read(dm, paths, acc)
    if obs is not None and dm.store and (obs == 1 or r[0] == C.CONTENT):
        if obs == 0 and len(paths) > _MAXP:
            return (C.REQUEST_ENTITY_TOO_LARGE,)
        # register (0) or cancel (1) exactly as a single observation, under the marker path
        r = r + (_ids(paths),) if len(r) > 1 else (r[0], b"", None, _ids(paths))
    return r


# -- names --------------------------------------------------------------------------------
def _names(recs, kbn, kn):
    # [(ids) ...] of SenML records that carry names only (RFC 8790 FETCH payload)
    from lwm2m.senml import path
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
        out.append(path(bn + n))
    return out


def _names_json(b):
    import json
    try:
        recs = json.loads(bytes(b).decode())
    except (ValueError, UnicodeError):
        raise ValueError("SenML JSON malformed")
    return _names(recs, "bn", "n")


def _dec_cbor_names(b):
    import cbor
    return _names(cbor.decode(b), -2, 0)


# -- Read-Composite ------------------------------------------------------------------------
def records(reg, paths):
    # (path, typ, value) of every readable value under paths (missing ones left out), or an
    # error code: 4.01 when a path names Object 0 (or another hidden object).
    out = []
    for ids in paths:
        o = reg.get(ids[0])
        if o is None:
            continue
        if o.hidden:
            return C.UNAUTHORIZED
        if len(ids) >= 2 and ids[1] not in o.inst:
            continue
        if len(ids) >= 3:
            r = o.res(ids[2])
            if r is None or ids[2] not in o.inst[ids[1]] or "R" not in r[1]:
                continue
            if len(ids) == 4 and (not r[2] or ids[3] not in o.value(ids[1], ids[2])):
                continue
        for rec in fmt.records(o, list(ids)):
            if rec not in out:
                out.append(rec)
    return out


def encode(recs, cf):
    # SenML records with absolute names ("n": "/3/0/9"), no base name
    from lwm2m import senml
    if cf == _SJSON:
        import json
        out = []
        for p, typ, v in recs:
            r = {"n": "/" + "/".join([str(x) for x in p])}
            if typ == "f":
                r["v"] = float(v)
            elif typ in ("i", "t"):
                r["v"] = int(v)
            elif typ == "b":
                r["vb"] = bool(v)
            elif typ == "o":
                r["vd"] = senml._b64(bytes(v))
            elif typ == "l":
                r["vlo"] = "%d:%d" % (v[0], v[1])
            else:
                r["vs"] = str(v)
            out.append(r)
        return json.dumps(out).encode()
    import cbor
    out = bytearray()
    cbor.head(out, 4, len(recs))
    for p, typ, v in recs:
        cbor.head(out, 5, 2)
        out.append(0)                                   # n
        cbor.encode_into(out, "/" + "/".join([str(x) for x in p]))
        senml._cval(out, typ, v, cbor)
    return bytes(out)


def read(dm, paths, acc):
    recs = records(dm.reg, paths)
    if isinstance(recs, int):
        return (recs,)
    if not recs:
        return (C.NOT_FOUND,)
    return C.CONTENT, encode(recs, acc), acc


# -- Observe-Composite ---------------------------------------------------------------------
def _ids(paths):
    out = [MARK]
    for p in paths:
        out.append(len(p))
        out.extend(p)
    return tuple(out)


def paths_of(ids):
    # the requested paths back out of a composite observation's ids
    out = []
    i = 1
    while i < len(ids):
        n = ids[i]
        out.append(tuple(ids[i + 1:i + 1 + n]))
        i += 1 + n
    return out


def state(reg, ids, cf):
    # (payload, None) of a composite observation now, or None if nothing under it exists
    # (observe.notify then ends it). Called by lwm2m/observe.py's _state for MARK paths.
    recs = records(reg, paths_of(ids))
    if isinstance(recs, int) or not recs:
        return None
    return encode(recs, cf), None


# -- Write-Composite -----------------------------------------------------------------------
def _check(v, typ):
    # fmt.coerce, then what a SenML value may still get wrong: NaN/infinite floats, integers
    # beyond 64 bits, objlnk ids beyond 16 bits (coerce checks those)
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        raise ValueError("not a finite number")
    v = fmt.coerce(v, typ)
    if typ in ("i", "t") and not -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF:
        raise ValueError("integer out of range")
    if typ == "s" and len(v) > 255:
        raise ValueError("string too long")
    if typ == "o" and len(v) > 1024:
        raise ValueError("opaque too long")
    return v


def write(dm, recs):
    reg = dm.reg
    staged = {}              # (oid, iid) -> {rid: value}
    for p, raw in recs:
        o = reg.get(p[0])
        if o is None:
            return (C.NOT_FOUND,)
        if o.hidden:
            return (C.UNAUTHORIZED,)
        if len(p) < 3:
            return (C.BAD_REQUEST,)      # values go to resources or resource instances
        if p[1] not in o.inst:
            return (C.NOT_FOUND,)
        r = o.res(p[2])
        if r is None:
            return (C.NOT_FOUND,)
        typ, ops, multi = r
        if typ == "e" or "W" not in ops:
            return (C.METHOD_NOT_ALLOWED,)
        if multi != (len(p) == 4):
            return (C.BAD_REQUEST,)      # a multiple resource is written per instance
        try:
            v = _check(raw, typ)
        except (ValueError, TypeError, OverflowError):
            return (C.BAD_REQUEST,)
        if typ in ("i", "t"):
            from lwm2m.persist import in_range
            if not in_range(p[0], p[2], v):  # lifetime 1..2^32-1, pmin, pmax (lwm2m/persist.py)
                return (C.BAD_REQUEST,)
        upd = staged.setdefault((p[0], p[1]), {})
        if multi:
            cur = upd.get(p[2])
            if cur is None:
                old = o.inst[p[1]].get(p[2])
                cur = upd[p[2]] = dict(old) if isinstance(old, dict) else {}
            cur[p[3]] = v
        else:
            upd[p[2]] = v
    # every record checked: store them all
    for (oid, iid), upd in staged.items():
        o = reg.get(oid)
        inst = o.inst[iid]
        keep = {}
        for rid, v in upd.items():
            if not callable(inst.get(rid)):
                keep[rid] = v
            inst[rid] = v
            if dm.on_change:
                dm.on_change(oid, iid, rid)
        if dm.store:
            from lwm2m import persist
            persist.save(dm.store, o, iid, keep)
    return (C.CHANGED,)
