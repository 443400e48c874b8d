"""Object 5 requests (Read, Write of the Package URI, block-wise Write of the Package, Execute
Update): loaded by lwm2m/fota.py only when the server sends one. docs/fota.md."""
from coap import codec as C
from log import log
from lwm2m.fota import _HDR, _load, _save, _set, _put, _verify, _slots


def _text(m, v):
    r = C.Message(C.ACK, C.CONTENT, payload=str(v).encode())
    r.add(C.CONTENT_FORMAT, 0)
    return r


def handle(m, store, board, dev):
    """A server request under /5 (Read, Write, Execute, block-wise Write of the Package)."""
    st = _load(store)
    try:
        p = [int(x) for x in m.get_all(C.URI_PATH)]
    except ValueError:
        return C.Message(C.ACK, C.NOT_FOUND)
    if len(p) > 1 and p[1] != 0:
        return C.Message(C.ACK, C.NOT_FOUND)
    rid = p[2] if len(p) > 2 else None
    vals = {1: st.get("uri", ""), 3: st["st"], 5: st["res"], 6: "lwm2m-sleepy",
            7: st.get("ver", ""), 9: 2}
    if m.code == C.GET:
        if rid is None:
            from lwm2m import tlv
            out = bytearray()
            recs = [((5, 0, r), "s" if r in (1, 6, 7) else "i", vals[r]) for r in sorted(vals)]
            recs.append(((5, 0, 8, 0), "i", 0))
            recs.append(((5, 0, 8, 1), "i", 1))
            recs.sort(key=lambda x: x[0])
            tlv.encode_records(recs, 2, out)
            r = C.Message(C.ACK, C.CONTENT, payload=bytes(out))
            r.add(C.CONTENT_FORMAT, 11542)
            return r
        if rid in vals:
            return _text(m, vals[rid])
        return C.Message(C.ACK, C.NOT_FOUND if rid not in (0, 2, 8) else C.METHOD_NOT_ALLOWED)
    if m.code == C.PUT and rid == 1:
        uri = bytes(m.payload).decode() if m.payload else ""
        if not uri:
            _set(store, st, 0, 0)           # an empty URI cancels (State Idle)
            return C.Message(C.ACK, C.CHANGED)
        if st["st"] in (1, 3) and uri == st.get("uri"):
            return C.Message(C.ACK, C.CHANGED)     # the same download: carry on
        _set(store, st, 0, 0)
        if not (uri.startswith("coap://") or uri.startswith("coaps://")) or "/" not in uri[8:]:
            _set(store, st, 0, 7 if "://" not in uri else 9)
            return C.Message(C.ACK, C.CHANGED if "://" in uri else C.BAD_REQUEST)
        st["uri"] = uri
        st["pos"] = 0
        _set(store, st, 1, 0)
        log("fota: Package URI written: downloading from the next wakes on")
        return C.Message(C.ACK, C.CHANGED)
    if m.code == C.PUT and rid in (0, 1) and _slots(board) is None:
        _set(store, st, 0, 2)               # no spare slot on this board: not enough flash
        return C.Message(C.ACK, C.CHANGED)
    if m.code == C.PUT and rid == 0:
        return _push(m, store, _slots(board), st)
    if m.code == C.POST and rid == 2:
        if st["st"] != 2:
            return C.Message(C.ACK, C.METHOD_NOT_ALLOWED)
        st["tries"] = 0
        _set(store, st, 3)
        _slots(board).activate()
        dev.request_reboot()
        log("fota: Update: slot activated on trial, rebooting")
        return C.Message(C.ACK, C.CHANGED)
    return C.Message(C.ACK, C.METHOD_NOT_ALLOWED)


def _push(m, store, sl, st):
    """Package push: a block-wise Write (Block1), each block at its offset; the last one
    verifies the image. Blocks out of order get 4.08 Request Entity Incomplete."""
    b1 = m.get_uint(C.BLOCK1)
    data = bytes(m.payload)
    if b1 is None:
        num, more, size = 0, 0, len(data)
    else:
        num, more, size = b1 >> 4, (b1 >> 3) & 1, 16 << (b1 & 7)
    pos = num * size
    if num == 0:
        _set(store, st, 0, 0)
        st["push"] = 1
        st["pos"] = 0
        _set(store, st, 1)
    elif st.get("push") != 1 or st.get("pos") != pos:
        return C.Message(C.ACK, C.REQUEST_ENTITY_INCOMPLETE)
    if not _put(sl, store, st, pos, data):
        return C.Message(C.ACK, C.CHANGED)        # State Idle, Update Result 6
    st["pos"] = pos + len(data)
    if more:
        _save(store, st)
        r = C.Message(C.ACK, C.CONTINUE)
        r.add(C.BLOCK1, b1)
        return r
    if st["pos"] != _HDR + st["size"]:
        _set(store, st, 0, 5)
    else:
        _verify(sl, store, st)
    r = C.Message(C.ACK, C.CHANGED)
    if b1 is not None:
        r.add(C.BLOCK1, b1)
    return r


