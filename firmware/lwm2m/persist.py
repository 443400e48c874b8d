"""What the server wrote, created or deleted, kept in flash (key 'dmw') so that it survives deep
sleep and power cuts, and put back into the registry at the start of every wake.

Layout: JSON {"oid/iid": {"rid": value, ..., "+": 1} | null}: values of written resources
(opaque as hex, objlnk as "a:b", a multiple resource as {"riid": value}), "+" marks an
instance the server created, null one it deleted. Server writes are rare, so flash wear is
not a concern; JSON costs no code on the device (the json module is built in).
What it does not do: keep values of resources that read a sensor or the clock (callables)."""
import json


def _out(v, typ):
    if isinstance(v, dict):
        d = {}
        for k in v:
            d[str(k)] = _out(v[k], typ)
        return d
    if typ == "o":
        return bytes(v).hex()
    if typ == "l":
        return "%d:%d" % (v[0], v[1])
    return v


def _in(v, typ, multi):
    if multi:
        d = {}
        for k in v:
            d[int(k)] = _in(v[k], typ, False)
        return d
    if typ == "o":
        return bytes.fromhex(v)
    if typ == "l":
        a, b = v.split(":")
        return (int(a), int(b))
    return v


def restore(reg, b):
    # Apply the persisted changes `b` (the flash blob) to registry reg.
    for k, d in json.loads(b).items():
        oid, iid = [int(x) for x in k.split("/")]
        o = reg.get(oid)
        if o is None:
            continue
        if d is None:
            o.inst.pop(iid, None)
            continue
        if iid not in o.inst:
            o.add(iid, {})
        inst = o.inst[iid]
        for r, v in d.items():
            res = o.res(int(r)) if r != "+" else None
            if res:
                inst[int(r)] = _in(v, res[0], res[2])


def save(store, o, iid, upd=None, created=False, deleted=False):
    # Record a write (`upd`: rid -> value), a Create or a Delete of instance iid of o.
    b = store.flash_get("dmw")
    a = json.loads(b) if b else {}
    k = "%d/%d" % (o.oid, iid)
    if deleted:
        if (a.get(k) or {}).get("+"):
            a.pop(k)
        else:
            a[k] = None
    else:
        d = a.get(k) or {}
        if created:
            d = {"+": 1}
        for rid in upd or ():
            d[str(rid)] = _out(upd[rid], o.res(rid)[0])
        a[k] = d
    store.flash_put("dmw", json.dumps(a).encode())
