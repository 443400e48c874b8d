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


def in_range(oid, rid, v):
    # Ranges of the integer resources a server may write, beyond the signed 64-bit range of
    # every integer: (oid, rid) -> (lowest, highest). The lifetime goes out as a 32-bit `lt`; 0
    # would mean registering at every wake (issue #11, F4). Checked on write (lwm2m/dmw.py) and
    # on load. (A table in the function: no module-level names, each costs heap.)
    u = 0xFFFFFFFF
    r = {(1, 1): (1, u), (1, 2): (0, u), (1, 3): (0, u), (1, 0): (1, 65534),
         (3, 13): (0, u)}.get((oid, rid))
    return r is None or r[0] <= v <= r[1]


def _in(v, typ, multi, oid=0, rid=0):
    # The persisted JSON value v as a value of type typ; ValueError if it is not a valid one
    # (a blob written by older firmware or damaged in flash is checked like a server's write).
    if multi:
        if not isinstance(v, dict):
            raise ValueError("multiple resource")
        d = {}
        for k in v:
            i = int(k)
            if not 0 <= i <= 65535:
                raise ValueError("instance id")
            d[i] = _in(v[k], typ, False, oid, rid)
        return d
    if typ == "o":
        return bytes.fromhex(v)
    if typ == "l":
        a, b = v.split(":")
        a, b = int(a), int(b)
        if not (0 <= a <= 65535 and 0 <= b <= 65535):
            raise ValueError("objlnk")
        return (a, b)
    ok = False
    if typ in ("i", "t"):
        ok = isinstance(v, int) and not isinstance(v, bool) and -(1 << 63) <= v < (1 << 63) \
            and in_range(oid, rid, v)
    elif typ == "f":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v - v == 0
        v = float(v) if ok else v
    elif typ == "b":
        ok = isinstance(v, bool)
    elif typ == "s":
        ok = isinstance(v, str)
    if not ok:
        raise ValueError("value")
    return v


def load(store):
    # The persisted dict, or {} (and the flash key cleared) if it does not parse.
    b = store.flash_get("dmw")
    if not b:
        return {}
    try:
        a = json.loads(b)
        if isinstance(a, dict):
            return a
    except (ValueError, UnicodeError):
        pass
    from log import log
    log("state: dmw in flash does not parse: dropped (server writes lost)", "E")
    store.flash_put("dmw", b"")
    return {}


def restore(reg, store):
    # Apply the persisted changes (flash key 'dmw') to registry reg. Whatever does not validate
    # (an unknown object, a bad key, a value the resource cannot take) is left out and logged:
    # the device goes on as if the server had never written it, never a crash at every wake.
    bad = 0
    for k, d in load(store).items():
        try:
            oid, iid = [int(x) for x in k.split("/")]
            if not 0 <= iid <= 65535 or not (d is None or isinstance(d, dict)):
                raise ValueError
            o = reg.get(oid)
            if o is None:
                continue
            if d is None:
                o.inst.pop(iid, None)
                continue
            if iid not in o.inst:
                if not o.multi:
                    raise ValueError
                o.add(iid, {})
            inst = o.inst[iid]
            for r, v in d.items():
                try:
                    res = o.res(int(r)) if r != "+" else None
                    if res:
                        inst[int(r)] = _in(v, res[0], res[2], oid, int(r))
                except (ValueError, TypeError, AttributeError):
                    bad += 1
        except (ValueError, TypeError, AttributeError):
            bad += 1
    if bad:
        from log import log
        log("state: %d bad entries in dmw left out" % bad, "E")


def save(store, o, iid, upd=None, created=False, deleted=False):
    # Record a write (`upd`: rid -> value), a Create or a Delete of instance iid of o.
    a = load(store)
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
