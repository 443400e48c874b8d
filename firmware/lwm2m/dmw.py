"""The DM operations that change the device or describe it: Write (replace, partial update),
Create, Discover and Write-Attributes, as functions of the DM object (lwm2m/dm.py), in a module
of their own: most wakes only read, and this code is loaded only when a request needs it.
Each returns the response as a tuple (code[, payload, content-format[, created iid]]) that
dm.py turns into the message: this module imports nothing from dm.py (no import loop).
Every payload is decoded and checked completely before anything is stored (a rejected request
changes nothing); what is stored goes to flash too (lwm2m/persist.py)."""
from micropython import const

from coap import codec as C
from lwm2m import fmt

_CF_LINK = const(40)
_CF_TLV = const(11542)
_ATTRS = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")
_U32 = const(0xFFFFFFFF)




def discover(dm, o, ids):
    # LwM2M 1.1 Core 5.4.2: </3>;ver=1.1,</3/0>,</3/0/0>,...,</3/0/11>;dim=1 with the
    # attributes written at each level.
    e = dm.find(o, ids, None) if len(ids) < 4 else C.METHOD_NOT_ALLOWED
    if e:
        return (e,)
    att = {}
    if dm.store:
        from lwm2m.observe import attrs
        att = attrs(dm.store)
    out = []

    def link(p, extra=""):
        k = "/".join([str(x) for x in p])
        s = "</" + k + ">" + extra
        for a, v in sorted((att.get(k) or {}).items()):
            s += ";%s=%s" % (a, v)
        out.append(s)

    if len(ids) == 1:
        link(ids, ";ver=" + o.ver if o.ver and o.ver != "1.0" else "")
    for iid in ids[1:2] or sorted(o.inst):
        inst = o.inst[iid]
        if len(ids) < 3:
            link((o.oid, iid))
        for rid in ids[2:3] or sorted(inst):
            multi = o.res(rid)[2]
            link((o.oid, iid, rid), ";dim=%d" % len(inst[rid]) if multi else "")
    return (C.CONTENT, ",".join(out).encode(), _CF_LINK,)

# -- Write-Attributes -------------------------------------------------------------------
def write_attrs(dm, o, ids, q):
    e = dm.find(o, ids, None) if len(ids) < 4 else C.BAD_REQUEST
    if e:
        return (e,)
    numeric = len(ids) == 3 and o.res(ids[2])[0] in ("i", "f")
    new = {}
    for b in q:
        try:                                         # (UnicodeError is a ValueError)
            k, _, v = bytes(b).decode().partition("=")
            x = (float(v) if k in ("gt", "lt", "st") else int(v)) if v else None
        except ValueError:
            return (C.BAD_REQUEST,)              # not an attribute we read
        if k not in _ATTRS:
            return (C.BAD_REQUEST,)
        if k in ("gt", "lt", "st") and not numeric:
            return (C.BAD_REQUEST,)
        if x is None:
            new[k] = None
            continue
        # inf or nan would be persisted as `inf`/`nan` that json.loads rejects (issue #11, F1);
        # periods are 32-bit seconds
        if not (x == x and x - x == 0) or (x < 0 and k not in ("gt", "lt")) or x > 1e15 or x < -1e15 \
                or (k not in ("gt", "lt", "st") and x > _U32):
            return (C.BAD_REQUEST,)
        new[k] = x
    if dm.store is None:
        return (C.INTERNAL_ERROR,)
    from lwm2m.observe import set_attrs
    try:
        set_attrs(dm.store, ids, new)
    except ValueError:             # the result breaks lt + 2 st < gt: nothing stored
        return (C.BAD_REQUEST,)
    return (C.CHANGED,)

# -- Write, Create ----------------------------------------------------------------------
def _stage(dm, o, ids, recs, conv, replace, create):
    # Decode and check every record; returns {rid: value} or an error code. Nothing is
    # stored here.
    iid = ids[1]
    inst = o.inst.get(iid, {})
    n = len(ids)
    upd = {}
    for p, raw in recs:
        if len(p) < 3 or tuple(p[:n]) != tuple(ids):
            raise fmt.DecodeError("path outside the request")
        rid = p[2]
        r = o.res(rid)
        if r is None:
            return C.NOT_FOUND
        typ, ops, multi = r
        # Create too: a server sets only what it may write (issue #11, F1)
        if typ == "e" or "W" not in ops:
            return C.METHOD_NOT_ALLOWED
        if multi:
            cur = upd.get(rid)
            if cur is None:
                old = inst.get(rid)
                cur = dict(old) if isinstance(old, dict) and not (replace and n < 4) else {}
                upd[rid] = cur
            if raw is None:
                continue
            if len(p) != 4:
                raise fmt.DecodeError("multiple resource without instances")
            cur[p[3]] = fmt.value(conv, raw, typ)
        else:
            if len(p) != 3 or raw is None:
                raise fmt.DecodeError("single resource with instances")
            upd[rid] = fmt.value(conv, raw, typ)
        if typ in ("i", "t"):          # and the resource's range (lwm2m/persist.py)
            from lwm2m.persist import in_range
            for v in (cur.values() if multi else (upd[rid],)):
                if not in_range(o.oid, rid, v):
                    raise fmt.DecodeError("out of range")
    return upd

def _apply(dm, o, iid, upd, created=False):
    inst = o.inst[iid]
    keep = {}
    for rid, v in upd.items():
        if not callable(inst.get(rid)):
            keep[rid] = v
        inst[rid] = v
        if dm.on_change:
            dm.on_change(o.oid, iid, rid)
    if dm.store:
        from lwm2m import persist
        persist.save(dm.store, o, iid, keep, created)

def write(dm, o, ids, m, replace):
    if len(ids) < 2:
        return (C.METHOD_NOT_ALLOWED,)
    e = dm.find(o, ids, "W")
    if e:
        return (e,)
    cf = m.get_uint(C.CONTENT_FORMAT)
    if cf is None:
        return (C.BAD_REQUEST,)
    if len(ids) == 2 and cf in (0, 42):
        return (C.UNSUPPORTED_FORMAT,)
    d = fmt.decode(cf, m.payload, ids)
    if d is None:
        return (C.UNSUPPORTED_FORMAT,)
    upd = _stage(dm, o, ids, d[0], d[1], replace, False)
    if isinstance(upd, int):
        return (upd,)
    _apply(dm, o, ids[1], upd)
    return (C.CHANGED,)

def create(dm, o, m):
    if not o.multi:
        return (C.METHOD_NOT_ALLOWED,)
    cf = m.get_uint(C.CONTENT_FORMAT)
    if cf is None:
        return (C.BAD_REQUEST,)
    if cf in (0, 42):
        return (C.UNSUPPORTED_FORMAT,)
    iid = 0
    while iid in o.inst:
        iid += 1
    pl = m.payload
    # TLV resources without an object-instance wrapper: the client picks the id
    base = [o.oid, iid] if cf == _CF_TLV and pl and pl[0] >> 6 else [o.oid]
    d = fmt.decode(cf, pl, base)
    if d is None:
        return (C.UNSUPPORTED_FORMAT,)
    recs = d[0]
    given = set([p[1] for p, _ in recs if len(p) > 1])
    if len(given) > 1:
        return (C.BAD_REQUEST,)
    if given:
        iid = given.pop()
        if iid in o.inst:
            return (C.BAD_REQUEST,)
    upd = _stage(dm, o, [o.oid, iid], recs, d[1], True, True)
    if isinstance(upd, int):
        return (upd,)
    o.add(iid, {})
    _apply(dm, o, iid, upd, True)
    if dm.on_change:
        dm.on_change(o.oid, iid, None)
    return (C.CREATED, b"", None, iid)     # dm.py adds Location-Path /oid/iid

