"""LwM2M object model: objects defined as data, instances as dicts of values or callables.

An object is `Obj(oid, spec, ver, multi=False)` (multi: the server may Create and Delete
instances). The spec is one compact string, a resource per
comma-separated item: `<rid><type><ops>[M]`, e.g. "0sR,4eE,11iRM,13tRW" (type one of
s i f b t o l e: string, integer, float, boolean, time, opaque, objlnk, execute; ops R, W, RW
or E; M for a multiple-instance resource). A string costs far less heap than a table of
tuples, and it is parsed only for the resource a request names. An instance value may be a
constant, a callable (read on demand: a sensor), or for an 'E' resource a callable taking the
argument bytes. Adding an object is a few lines (see lwm2m/std.py and the README).
What it does not do: content formats (lwm2m/tlv.py) or request routing (lwm2m/dm.py)."""


class Obj:
    __slots__ = ("oid", "spec", "ver", "inst", "hidden", "multi")

    def __init__(self, oid, spec, ver=None, hidden=False, multi=False):
        self.oid = oid
        self.spec = spec
        self.ver = ver          # None for 1.0
        self.inst = {}          # {iid: {rid: value | callable | {riid: value}}}
        self.hidden = hidden    # Security (0) and OSCORE (21): never listed nor readable
        self.multi = multi      # several instances: Create and Delete allowed

    def add(self, iid, values):
        self.inst[iid] = dict(values)
        return self

    def res(self, rid):
        # (type, ops, multiple) of resource rid, or None if the object has no such resource.
        # Scans the spec in place (no list of all items: this runs for every value encoded).
        s = self.spec
        key = str(rid)
        n = len(key)
        i = 0
        while i < len(s):
            j = s.find(",", i)
            if j < 0:
                j = len(s)
            if s.startswith(key, i) and not s[i + n].isdigit():
                multi = s[j - 1] == "M"
                return s[i + n], s[i + n + 1:j - 1 if multi else j], multi
            i = j + 1
        return None

    def rids(self):
        out = []
        for item in self.spec.split(","):
            i = 0
            while item[i].isdigit():
                i += 1
            out.append(int(item[:i]))
        return out

    def sensor(self, iid, read, store, key):
        # An IPSO sensor instance (3303 Temperature, 3304 Humidity, ...) with its own state:
        # each read of 5700 (`read()`, rounded) moves Min/Max Measured Value (5601, 5602, values
        # of the instance, None before the first read), Execute 5605 clears them. They persist
        # in RTC section `key` (JSON [min, max], the caller's section in state._SECTIONS); what
        # does not load is dropped and min/max start again (issue #11). One closure serves both
        # resources (called without an argument: a read; with the Execute's: a reset): each
        # nested function costs heap, a class more.
        import json
        i = self.inst[iid]       # (with its keys: filled in place, the dict does not grow)
        t = store.get(key) if store else None
        try:
            t = json.loads(t) if t else [None, None]
            for x in t:
                if x is not None and not (isinstance(x, (int, float)) and x == x and x - x == 0):
                    raise ValueError
            i[5601], i[5602] = t[0], t[1]
        except (ValueError, TypeError, IndexError, KeyError):
            i[5601] = i[5602] = None
            store.drop(key)

        c = (i, read, store, key)    # one cell for the closure, not four

        def f(arg=None):
            i, read, store, key = c
            if arg is not None:              # Execute 5605
                i[5601] = i[5602] = None
                if store:
                    store.drop(key)
                return
            v = round(read(), 2)
            a, b = i[5601], i[5602]
            i[5601] = v if a is None else min(a, v)
            i[5602] = v if b is None else max(b, v)
            if store:
                import json          # (here: one variable less kept by the closure)
                store.put(key, json.dumps([i[5601], i[5602]]).encode())
            return v

        i[5700] = i[5605] = f
        return self

    def value(self, iid, rid):
        v = self.inst[iid][rid]
        if callable(v) and self.res(rid)[0] != "e":
            v = v()
        return v


class Registry:
    def __init__(self):
        self.objs = {}

    def add(self, obj):
        self.objs[obj.oid] = obj
        return obj

    def get(self, oid):
        return self.objs.get(oid)

    def links(self, ct=None):
        # CoRE link format for Register: </oid>;ver=x.y where not 1.0, then </oid/iid>.
        # Objects 0 and 21 are never listed. ct: the root link </>;rt="oma.lwm2m";ct=.. first
        # (the content format the client prefers, LwM2M 1.1.1 Core Register).
        parts = ['</>;rt="oma.lwm2m";ct=%d' % ct] if ct else []
        for oid in sorted(self.objs):
            o = self.objs[oid]
            if o.hidden or oid in (0, 21):
                continue
            if o.ver and o.ver != "1.0":
                parts.append("</%d>;ver=%s" % (oid, o.ver))
            elif not o.inst:
                parts.append("</%d>" % oid)
            for iid in sorted(o.inst):
                parts.append("</%d/%d>" % (oid, iid))
        return ",".join(parts)
