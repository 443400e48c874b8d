"""Device-management interface: answers the server's Read, Write and Execute on the registry.

Content formats here: text/plain (0) and opaque (42) for one resource, TLV (11542) for
anything. Response codes per LwM2M 1.1 Core: 2.05 Content, 2.04 Changed, 4.00 Bad Request,
4.01 for Object 0, 4.04 Not Found, 4.05 Method Not Allowed, 4.06 Not Acceptable,
4.15 Unsupported Content-Format. A rejected request changes nothing (values are decoded and
checked before any is stored).
"""
from micropython import const

from coap import codec as C
from lwm2m import tlv

CF_TEXT = const(0)
CF_LINK = const(40)
CF_OPAQUE = const(42)
CF_TLV = const(11542)


def _resp(code, payload=b"", cf=None):
    m = C.Message(C.ACK, code, payload=payload)
    if cf is not None:
        m.add(C.CONTENT_FORMAT, cf)
    return m


def _text(v, typ):
    if typ == "b":
        return b"1" if v else b"0"
    if typ == "f":
        s = repr(float(v))
        return s.encode()
    if typ == "l":
        return ("%d:%d" % (v[0], v[1])).encode()
    if typ == "o":
        return bytes(v)
    return str(v).encode()


def _parse_text(b, typ):
    s = bytes(b).decode()
    if typ in ("i", "t"):
        return int(s)
    if typ == "f":
        return float(s)
    if typ == "b":
        if s not in ("0", "1"):
            raise ValueError("boolean must be 0 or 1")
        return s == "1"
    if typ == "l":
        a, b2 = s.split(":")
        return (int(a), int(b2))
    return s


def _tlv_resource(o, iid, rid, out):
    typ, ops, multi = o.res(rid)
    v = o.value(iid, rid)
    if multi:
        inner = bytearray()
        for riid in sorted(v):
            tlv.encode_entry(tlv.RES_INST, riid, tlv.value_bytes(v[riid], typ), inner)
        tlv.encode_entry(tlv.MULTI_RES, rid, inner, out)
    else:
        tlv.encode_entry(tlv.RES, rid, tlv.value_bytes(v, typ), out)


def _tlv_instance(o, iid, out):
    for rid in sorted(o.inst[iid]):
        if "R" in o.res(rid)[1]:
            _tlv_resource(o, iid, rid, out)


class DM:
    def __init__(self, registry, on_change=None):
        self.reg = registry
        self.on_change = on_change  # called with (oid, iid, rid) after a successful write

    def handle(self, m):
        """Answer one request from the server (returns the response Message)."""
        segs = m.get_all(C.URI_PATH)
        try:
            ids = [int(s) for s in segs]
        except ValueError:
            return _resp(C.NOT_FOUND)
        if not ids or len(ids) > 4:
            return _resp(C.NOT_FOUND if ids else C.METHOD_NOT_ALLOWED)
        o = self.reg.get(ids[0])
        if o is None:
            return _resp(C.NOT_FOUND)
        if o.hidden:
            return _resp(C.UNAUTHORIZED)
        try:
            if m.code == C.GET:
                return self.read(o, ids, m.get_uint(C.ACCEPT))
            if m.code in (C.PUT, C.POST):
                if len(ids) == 3 and (o.res(ids[2]) or "--")[1] == "E" and m.code == C.POST:
                    return self.execute(o, ids, m.payload)
                return self.write(o, ids, m.payload, m.get_uint(C.CONTENT_FORMAT), m.code == C.PUT)
        except (ValueError, TypeError, KeyError, IndexError, UnicodeError):
            return _resp(C.BAD_REQUEST)
        return _resp(C.METHOD_NOT_ALLOWED)

    def read(self, o, ids, accept):
        if len(ids) >= 2 and ids[1] not in o.inst:
            return _resp(C.NOT_FOUND)
        if len(ids) >= 3:
            iid, rid = ids[1], ids[2]
            if o.res(rid) is None or rid not in o.inst[iid]:
                return _resp(C.NOT_FOUND)
            typ, ops, multi = o.res(rid)
            if "R" not in ops:
                return _resp(C.METHOD_NOT_ALLOWED)
            if len(ids) == 4:
                v = o.value(iid, rid)
                if not multi or ids[3] not in v:
                    return _resp(C.NOT_FOUND)
                v = v[ids[3]]
                if accept in (None, CF_TEXT):
                    return _resp(C.CONTENT, _text(v, typ), CF_TEXT)
                if accept == CF_TLV:
                    out = bytearray()
                    tlv.encode_entry(tlv.RES_INST, ids[3], tlv.value_bytes(v, typ), out)
                    return _resp(C.CONTENT, bytes(out), CF_TLV)
                return _resp(C.NOT_ACCEPTABLE)
            if not multi and accept in (None, CF_TEXT):
                return _resp(C.CONTENT, _text(o.value(iid, rid), typ), CF_TEXT)
            if not multi and accept == CF_OPAQUE and typ == "o":
                return _resp(C.CONTENT, bytes(o.value(iid, rid)), CF_OPAQUE)
            if accept not in (None, CF_TLV):
                return _resp(C.NOT_ACCEPTABLE)
            out = bytearray()
            _tlv_resource(o, iid, rid, out)
            return _resp(C.CONTENT, bytes(out), CF_TLV)
        if accept not in (None, CF_TLV):
            return _resp(C.NOT_ACCEPTABLE)
        out = bytearray()
        if len(ids) == 2:
            _tlv_instance(o, ids[1], out)
        else:
            for iid in sorted(o.inst):
                inner = bytearray()
                _tlv_instance(o, iid, inner)
                tlv.encode_entry(tlv.OBJ_INST, iid, inner, out)
        return _resp(C.CONTENT, bytes(out), CF_TLV)

    def write(self, o, ids, payload, cf, replace):
        if len(ids) < 2 or ids[1] not in o.inst:
            return _resp(C.NOT_FOUND if len(ids) >= 2 else C.METHOD_NOT_ALLOWED)
        iid = ids[1]
        updates = {}
        if len(ids) == 3:
            rid = ids[2]
            if o.res(rid) is None:
                return _resp(C.NOT_FOUND)
            typ, ops, multi = o.res(rid)
            if "W" not in ops:
                return _resp(C.METHOD_NOT_ALLOWED)
            if cf == CF_TEXT and not multi:
                updates[rid] = _parse_text(payload, typ)
            elif cf == CF_TLV:
                for kind, ident, val in tlv.decode(payload):
                    if ident != rid:
                        return _resp(C.BAD_REQUEST)
                    updates[rid] = self._tlv_val(o, rid, kind, val)
            elif cf == CF_OPAQUE and typ == "o":
                updates[rid] = bytes(payload)
            else:
                return _resp(C.UNSUPPORTED_FORMAT)
        elif len(ids) == 2:
            if cf != CF_TLV:
                return _resp(C.UNSUPPORTED_FORMAT)
            for kind, ident, val in tlv.decode(payload):
                if o.res(ident) is None:
                    return _resp(C.NOT_FOUND)
                if "W" not in o.res(ident)[1]:
                    return _resp(C.METHOD_NOT_ALLOWED)
                updates[ident] = self._tlv_val(o, ident, kind, val)
        else:
            return _resp(C.METHOD_NOT_ALLOWED)
        inst = o.inst[iid]
        for rid, v in updates.items():   # all decoded and checked: now apply
            inst[rid] = v
            if self.on_change:
                self.on_change(o.oid, iid, rid)
        return _resp(C.CHANGED)

    def _tlv_val(self, o, rid, kind, val):
        typ = o.res(rid)[0]
        if kind == tlv.MULTI_RES:
            d = {}
            for k2, riid, v2 in tlv.decode(val):
                if k2 != tlv.RES_INST:
                    raise ValueError("bad TLV nesting")
                d[riid] = tlv.bytes_value(v2, typ)
            return d
        if kind != tlv.RES:
            raise ValueError("bad TLV kind")
        return tlv.bytes_value(val, typ)

    def execute(self, o, ids, arg):
        iid, rid = ids[1], ids[2]
        if iid not in o.inst or rid not in o.inst[iid]:
            return _resp(C.NOT_FOUND)
        o.inst[iid][rid](bytes(arg))
        return _resp(C.CHANGED)
