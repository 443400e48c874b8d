"""LwM2M Object 5 (Firmware Update) for a sleeping device: loaded only when the server touches
/5 or a download is under way, dropped after (wake/cycle.py). docs/fota.md.

Resources: 0 Package (W, push: block-wise Write, RFC 7959 Block1), 1 Package URI (RW: pull over
CoAP or CoAPS, Block2), 2 Update (E), 3 State (0 Idle, 1 Downloading, 2 Downloaded, 3 Updating),
5 Update Result (0 initial, 1 success, 2 not enough flash, 4 connection lost, 5 integrity check
failure, 6 unsupported package type, 7 invalid URI, 8 update failed, 9 unsupported protocol),
6 PkgName, 7 PkgVersion, 8 Protocol Support (0 CoAP, 1 CoAPS), 9 Delivery Method (2 both).

Package: a 48-byte header, b"LWFW" | image size (4, big-endian) | SHA-256 of the image (32) |
version (8, NUL-padded), then the image (a ROMFS image). The image goes to the board's spare
slot (_slots(board): board/unix_slots.py), the header and the progress to flash key 'fw' (JSON), so a download
resumes where it stopped after a deep sleep or a power cut (what was received is in the slot;
progress is persisted every `_EVERY` blocks and at the end of each wake: at most that many
blocks are fetched again). When the last byte is in, the slot is read back and its size and
SHA-256 checked: Downloaded, or Idle with Update Result 5. Update (/5/0/2) activates the slot on
trial and reboots; the new image confirms it when it completes a wake (Update Result 1); an
image that does not within the bootloader's trials is rolled back (Update Result 8).
"""
import json

from coap import codec as C
from log import log

_HDR = 48
_EVERY = 4           # blocks between flash writes of the progress


def _slots(board):
    """The board's A/B slots: its own `slots()` (a board port that has them), or the unix port's
    model (board/unix_slots.py); None when there is no spare slot (Update Result 2)."""
    f = getattr(board, "slots", None)
    if f:
        return f()
    if board.name == "unix":
        from board.unix_slots import Slots
        return Slots(board.dir)
    return None


def _load(store):
    s = store.flash_get("fw")
    try:
        st = json.loads(s) if s else None
    except ValueError:
        st = None
    if not isinstance(st, dict) or st.get("st") not in (0, 1, 2, 3) or not isinstance(st.get("res"), int):
        st = {"st": 0, "res": 0}
    elif st["st"] == 1 and not (isinstance(st.get("pos"), int) and st["pos"] >= 0 and (
            st.get("push") or isinstance(st.get("uri"), str))):
        st = {"st": 0, "res": 4}      # a download state that does not hold together: start again
    return st


def _save(store, st):
    store.flash_put("fw", json.dumps(st).encode())


def _set(store, st, state, res=None):
    st["st"] = state
    if res is not None:
        st["res"] = res
    if state == 0:
        for k in ("uri", "pos", "size", "sha", "push"):
            st.pop(k, None)
    _save(store, st)
    # 'fota': work for the next wakes, the one key wake/cycle.py looks at before loading this
    # module: b"d" a download goes on, b"u" an image to confirm (or a rollback to report)
    w = b"d" if state == 1 and not st.get("push") else b"u" if state == 3 else None
    if w:
        if store.flash_get("fota") != w:
            store.flash_put("fota", w)
    elif store.flash_get("fota"):
        store.board.flash_erase("fota")


def _header(st, b):
    """Parse the package header into st; False when it is not one of ours."""
    if len(b) < _HDR or b[:4] != b"LWFW":
        return False
    st["size"] = int.from_bytes(b[4:8], "big")
    st["sha"] = bytes(b[8:40]).hex()
    st["ver"] = bytes(b[40:48]).rstrip(b"\0").decode()
    return 0 < st["size"] <= 1 << 20


def _put(sl, store, st, pos, data):
    """Package bytes [pos, pos+len) into the slot (the header into st). Returns False when the
    package is not ours (st then says why)."""
    if pos < _HDR:
        if pos != 0 or len(data) < _HDR or not _header(st, data):
            _set(store, st, 0, 6)
            return False
        sl.erase()
        data = data[_HDR:]
        pos = _HDR
    sl.write(pos - _HDR, data)
    return True


def _verify(sl, store, st):
    """Read the slot back: size and SHA-256 of what is in flash. Downloaded, or Idle + 5."""
    import hashlib
    h = hashlib.sha256()
    n = st["size"]
    off = 0
    while off < n:
        b = sl.read(off, min(512, n - off))
        if not b:
            break
        h.update(b)
        off += len(b)
    ok = off == n and h.digest().hex() == st["sha"]
    log("fota: image %d B, SHA-256 %s" % (off, "ok" if ok else "MISMATCH"), "I" if ok else "W")
    if ok:
        _set(store, st, 2, 0)
    else:
        _set(store, st, 0, 5)
    return ok


def handle(m, store, board, dev):
    """A server request under /5: lwm2m/fotareq.py (loaded for requests only: a download wake
    needs less heap)."""
    from lwm2m import fotareq
    return fotareq.handle(m, store, board, dev)


def _source(ex, store, board, cfg, st):
    """Where the package comes from: (exchange, own socket or None, path). The wake's exchange
    when the URI names the LwM2M server over this wake's security, else plain CoAP to the host
    it names over a socket of its own; (None, None, None) for CoAPS to another host (result 9,
    unsupported protocol)."""
    scheme, rest = st["uri"].split("://", 1)
    hp, path = (rest.split("/", 1) + [""])[:2]
    host, port = hp.rsplit(":", 1) if ":" in hp else (hp, "5684" if scheme == "coaps" else "5683")
    port = int(port)
    own = scheme == ("coaps" if cfg["security"]["mode"] == "psk" else "coap")
    if (host, port) == (cfg["_host"], cfg["_port"]) and own:
        return ex, None, path
    if scheme != "coap":
        _set(store, st, 0, 9)        # CoAPS to another host: unsupported protocol
        return None, None, None
    from net.udp import Udp
    from sec.nosec import NoSecChannel
    from coap.exchange import Exchange
    net = Udp(host, port, 0)
    return Exchange(NoSecChannel(net, store, board, {}, {}), store, board, cfg["coap"]), net, path


def pull(ex, store, board, cfg, blocks):
    """Fetch up to `blocks` blocks of the package (Block2) over this wake's exchange when the
    URI names the LwM2M server (coaps:// then rides the DTLS session), else over plain CoAP to
    the host it names. Returns (blocks fetched, package bytes received, state)."""
    st = _load(store)
    if st["st"] != 1 or st.get("push"):
        return 0, 0, st["st"]
    ex, net, path = _source(ex, store, board, cfg, st)
    if ex is None:
        return 0, 0, 0
    szx = int((cfg.get("fota") or {}).get("szx", 5))      # 512-byte blocks
    sl = _slots(board)
    pos = st.get("pos", 0)
    got = 0
    n = 0
    primed = 0
    from errors import LwError
    try:
        while n < blocks:
            bs = 16 << szx
            if pos % bs:
                bs = pos & -pos if pos & -pos < bs else bs
                szx = 0
                while (16 << szx) < bs:
                    szx += 1
            req = C.Message(C.CON, C.GET)
            req.set_path(path)
            req.add(C.BLOCK2, ((pos // bs) << 4) | szx)
            r = ex.request(req)
            if r.code == C.REQUEST_ENTITY_INCOMPLETE and pos >= _HDR and not primed:
                # 4.08 to a later block from a new address: a server that serves those only after
                # block 0 of the same representation (aiocoap). Fetch block 0 once, check it is
                # still our package (size and digest in its header), then ask again.
                primed = 1
                q = C.Message(C.CON, C.GET)
                q.set_path(path)
                q.add(C.BLOCK2, szx)
                r0 = ex.request(q)
                if r0.code != C.CONTENT or bytes(r0.payload[4:40]) != st["size"].to_bytes(4, "big") + bytes.fromhex(st["sha"]):
                    _set(store, st, 0, 4)
                    break
                continue
            if r.code != C.CONTENT:
                _set(store, st, 0, 7 if r.code == C.NOT_FOUND else 4)
                break
            b2 = r.get_uint(C.BLOCK2)
            data = r.payload
            if b2 is not None:
                rs = b2 & 7
                if (b2 >> 4) * (16 << rs) != pos:
                    _set(store, st, 0, 4)
                    break
                szx = min(szx, rs)
                more = (b2 >> 3) & 1
            else:
                more = 0
            if not _put(sl, store, st, pos, data):
                break
            pos += len(data)
            got += len(data)
            n += 1
            st["pos"] = pos
            if not more or pos >= _HDR + st["size"]:
                if pos != _HDR + st["size"]:
                    _set(store, st, 0, 5)
                else:
                    _verify(sl, store, st)
                break
            if n % _EVERY == 0:
                _save(store, st)
    except LwError as e:
        log("fota: download paused at %d B: %s" % (pos, e), "W")
    if st["st"] == 1:
        _save(store, st)
    if net:
        net.close()
    return n, got, st["st"]


def confirm(store, board):
    """After a wake that completed with the server: the image we run is the new one (trial:
    confirm, Update Result 1) or the bootloader went back (Update Result 8)."""
    st = _load(store)
    sl = _slots(board)
    s = sl.state()
    if s == "pending":
        return st["res"]        # activated in this very wake: the new image confirms itself
    if s == "trial":
        sl.confirm()
        _set(store, st, 0, 1)
        log("fota: new image confirmed (Update Result 1)")
    elif s == "rolled-back":
        sl.confirm()
        _set(store, st, 0, 8)
        log("fota: the new image failed; rolled back (Update Result 8)", "W")
    else:
        _set(store, st, 0, 8 if st["st"] == 3 else st["res"])
    return st["res"]


def wake(ex, store, board, cfg, planner):
    """After the wake's own work (wake/cycle.py, when flash key 'fota' is set): confirm a new
    image, or this wake's share of a download: as many blocks as the energy budget per wake
    allows (fota.wake_uJ, the planner's cost model), at least one."""
    if store.flash_get("fota") == b"u":
        r = "update result %d" % confirm(store, board)
        return {"fota": r, "notes": ["fota: " + r]}
    try:
        f = cfg.get("fota") or {}
        szx = int(f.get("szx", 5))
        # the planner's cost model: a GET of ~30 B and the block back, one round trip each
        blocks = max(1, int(int(f.get("wake_uJ", 150000)) // planner.energy((30, (16 << szx) + 20, 2, 1))))
        n, got, state = pull(ex, store, board, cfg, blocks)
        st = _load(store)
        out = {"fota": "%s %d blocks %d B, at %d/%d B" % (("idle", "downloading", "downloaded", "updating")[state],
                                                          n, got, st.get("pos", 0), _HDR + st.get("size", 0))}
        if state != 1:
            out["fota"] += ", result %d" % st["res"]
        out["notes"] = ["fota: " + out["fota"]]
        return out
    except MemoryError:
        return {"fota": "no heap: next wake"}
