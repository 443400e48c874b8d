"""Device-management and information-reporting interfaces: answers the server's Read, Write
(replace and partial update), Execute, Discover, Write-Attributes, Create, Delete and Observe
on the registry (LwM2M 1.1 Core 6.3 and 6.4).

Routing: GET with Accept 40 is Discover, GET with Observe is Observe (lwm2m/observe.py), GET
otherwise Read; PUT with Uri-Query and no payload is Write-Attributes, PUT otherwise Write
(replace); POST on an object is Create, on an executable resource Execute, otherwise Write
(partial update); DELETE on an instance is Delete. Response codes: 2.01, 2.02, 2.04, 2.05;
4.00 Bad Request (malformed payload, bad arguments or attributes), 4.01 for Object 0 (never
readable by a server), 4.04 Not Found, 4.05 Method Not Allowed, 4.06 Not Acceptable (Accept),
4.15 Unsupported Content-Format (Write/Create). A rejected request changes nothing: payloads are
decoded and checked completely before anything is stored. Writes, Creates and Deletes are kept
in flash (lwm2m/persist.py). Formats: lwm2m/fmt.py.
FETCH and iPATCH (Read-, Observe- and Write-Composite) go to lwm2m/composite.py, which answers
with a tuple as lwm2m/dmw.py does (observations are registered here, for both).
What it does not do: access control (one server), Bootstrap."""
from micropython import const

from coap import codec as C
from lwm2m import fmt

_CF_LINK = const(40)


def _resp(code, payload=b"", cf=None):
    m = C.Message(C.ACK, code, payload=payload)
    if cf is not None:
        m.add(C.CONTENT_FORMAT, cf)
    return m


def _w(r, oid=None):
    # a response of lwm2m/dmw.py: (code[, payload, cf[, created iid]])
    m = _resp(*r[:3])
    if len(r) > 3:
        m.add(C.LOCATION_PATH, str(oid))
        m.add(C.LOCATION_PATH, str(r[3]))
    return m


def _failed(e, code, what, lv):
    from log import log
    log("dm: request %s: %s: %s" % (what, type(e).__name__, e), lv)
    return _resp(code)


def _args_ok(s):
    # LwM2M 1.1 Core 5.4.3 Execute arguments: arg *("," arg), arg = DIGIT ["='" *CHAR "'"].
    i, n = 0, len(s)
    while n:
        if i >= n or not 48 <= s[i] <= 57:
            return False
        i += 1
        if i < n and s[i] == 61:                     # ="value"
            if i + 1 >= n or s[i + 1] != 39:
                return False
            j = s.find(b"'", i + 2)
            if j < 0:
                return False
            i = j + 1
        if i == n:
            return True
        if s[i] != 44:
            return False
        i += 1
    return True


class DM:
    def __init__(self, registry, store=None, on_change=None, now=None):
        self.reg = registry
        self.store = store          # state.Store: flash for writes/attributes, RTC for observations
        self.on_change = on_change  # on_change(oid, iid, rid) after a change (rid None: instance)
        self.now = now              # clock for observations

    def handle(self, m):
        # Answer one request from the server (returns the response Message). A payload or an
        # argument that does not decode is the server's error: 4.00, raised as fmt.DecodeError
        # by the decoding steps only. Anything else raised here is a bug: logged as one and
        # answered 5.00 (the wake goes on); a MemoryError goes to the caller (LazyDM: 5.03).
        try:
            return self._handle(m)
        except fmt.DecodeError as e:      # nothing changed: decoded and checked before storing
            return _failed(e, C.BAD_REQUEST, "rejected", "W")
        except MemoryError:
            raise
        except Exception as e:     # not the server's fault
            return _failed(e, C.INTERNAL_ERROR, "failed (a bug)", "E")

    def _handle(self, m):
        if m.code in (5, 7):      # FETCH, iPATCH: Read/Observe/Write-Composite (lwm2m/composite.py)
            from lwm2m import composite
            r = composite.handle(self, m)     # (code[, payload, cf[, ids to observe]])
            c = _resp(*r[:3])
            if len(r) > 3:
                from lwm2m import observe
                observe.on_request(self.store, m, r[3], c, self.reg, self.now())
            return c
        try:
            ids = [int(s) for s in m.get_all(C.URI_PATH)]
        except ValueError:
            return _resp(C.NOT_FOUND)
        if not ids:
            return _resp(C.METHOD_NOT_ALLOWED)
        if len(ids) > 4 or min(ids) < 0 or max(ids) > 65535:
            return _resp(C.NOT_FOUND)
        o = self.reg.get(ids[0])
        if o is None:
            return _resp(C.NOT_FOUND)
        if o.hidden:
            return _resp(C.UNAUTHORIZED)
        c = m.code
        if c == C.GET:
            acc = m.get_uint(C.ACCEPT)
            if acc == _CF_LINK:
                return self.discover(o, ids)
            r = self.read(o, ids, acc)
            if r.code == C.CONTENT and m.get(C.OBSERVE) is not None and self.store:
                from lwm2m import observe
                observe.on_request(self.store, m, ids, r, self.reg, self.now())
            return r
        if c == C.PUT:
            q = m.get_all(C.URI_QUERY)
            if q and not m.payload and m.get(C.CONTENT_FORMAT) is None:
                return self.write_attrs(o, ids, q)
            return self.write(o, ids, m, True)
        if c == C.POST:
            if len(ids) == 1:
                return self.create(o, m)
            if len(ids) == 3:
                r = o.res(ids[2])
                if r is None:
                    return _resp(C.NOT_FOUND)
                if r[0] == "e":
                    return self.execute(o, ids, m.payload)
                if not r[2]:
                    return _resp(C.METHOD_NOT_ALLOWED)
            return self.write(o, ids, m, False)
        if c == C.DELETE:
            return self.delete(o, ids)
        return _resp(C.METHOD_NOT_ALLOWED)

    def find(self, o, ids, op):
        # None if ids exist and resource ops contain op (None: any), else the error code.
        if len(ids) >= 2 and ids[1] not in o.inst:
            return C.NOT_FOUND
        if len(ids) >= 3:
            r = o.res(ids[2])
            if r is None or ids[2] not in o.inst[ids[1]]:
                return C.NOT_FOUND
            if op and op not in r[1]:
                return C.METHOD_NOT_ALLOWED
            if len(ids) == 4:
                v = o.inst[ids[1]][ids[2]]
                if not r[2] or ids[3] not in v:
                    return C.NOT_FOUND
        return None

    # -- Read, Discover ---------------------------------------------------------------------
    def read(self, o, ids, accept):
        e = self.find(o, ids, "R")
        if e:
            return _resp(e)
        r = fmt.encode(o, ids, accept)
        if r is None:
            return _resp(C.NOT_ACCEPTABLE)
        if r[1] is None:
            # a single resource without a value is not present: 4.04 (LwM2M 1.1.1 Core 5.4.1,
            # Read "4.04 Not Found: URI of Read operation is not found"); an instance or object
            # Read leaves it out (fmt.records)
            return _resp(C.NOT_FOUND)
        return _resp(C.CONTENT, r[1], r[0])

    # Discover, Write-Attributes, Write, Create: lwm2m/dmw.py (loaded only for them)
    def discover(self, o, ids):
        from lwm2m import dmw
        return _w(dmw.discover(self, o, ids))

    def write_attrs(self, o, ids, q):
        from lwm2m import dmw
        return _w(dmw.write_attrs(self, o, ids, q))

    def write(self, o, ids, m, replace):
        from lwm2m import dmw
        return _w(dmw.write(self, o, ids, m, replace))

    def create(self, o, m):
        from lwm2m import dmw
        return _w(dmw.create(self, o, m), o.oid)

    # -- Execute, Delete --------------------------------------------------------------------
    def execute(self, o, ids, arg):
        e = self.find(o, ids, "E")
        if e:
            return _resp(e)
        arg = bytes(arg)
        if not _args_ok(arg):
            return _resp(C.BAD_REQUEST)
        o.inst[ids[1]][ids[2]](arg)
        return _resp(C.CHANGED)

    def delete(self, o, ids):
        if len(ids) != 2 or not o.multi:
            return _resp(C.METHOD_NOT_ALLOWED)
        if ids[1] not in o.inst:
            return _resp(C.NOT_FOUND)
        del o.inst[ids[1]]
        if self.store:
            from lwm2m import persist, observe
            persist.save(self.store, o, ids[1], deleted=True)
            observe.drop(self.store, ids)
        if self.on_change:
            self.on_change(o.oid, ids[1], None)
        return _resp(C.DELETED)
