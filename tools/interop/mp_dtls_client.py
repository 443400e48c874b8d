"""Drive the firmware DTLS client under the micropython binary (interop and harness tests).

Usage: DTLS_OPTS='<json options>' micropython ... (see tools/interop/mpdev.py: runs from a ROMFS
image like the device), or micropython tools/interop/mp_dtls_client.py '<json options>'

Options (JSON object):
  host, port              server address (127.0.0.1 only in tests)
  mode                    "raw": firmware/dtls client, application data as bytes
                          "channel": sec/dtls_channel.py with a UnixBoard state dir ($LWM2M_STATE)
  identity, psk           PSK identity (str) and key (hex); never printed
  cid, ems, rto, tries    client options (cid: null | 54 | 53 | 254)
  session                 raw mode: file to load the session from / save it to
  resume                  raw mode: try the abbreviated handshake with the saved session
  send                    raw mode: list of strings sent as application records
  recv                    raw mode: number of application records to wait for
  wait_ms                 receive timeout per record
  close                   raw mode: send close_notify at the end (frees `openssl s_server`)
  path                    channel mode: path to connect ('auto' = first of paths())
  coap                    channel mode: list of [type, code, mid, token_hex, uri_path] to send
  local_port              bind to this local port (0: fresh)
  collect                 gc.collect() at each probe: heap_peak is then the live high-water mark
Prints one line 'RESULT <json>' with: ok, outcome, error, path, up, down, dg_up, dg_down,
received, heap_peak, heap_base, dropped, datagrams (sizes up/down).
"""
import sys
import json
import gc

if "/rom" not in sys.path:   # run from source: python path next to this file
    sys.path.insert(0, (sys.path[0] or ".") + "/../../firmware")

gc.collect()
_BASE = gc.mem_alloc()
_PEAK = [_BASE]


_COLLECT = [False]


def _probe():
    if _COLLECT[0]:
        gc.collect()   # live-memory high-water mark (slower, exact at the probe points)
    a = gc.mem_alloc()
    if a > _PEAK[0]:
        _PEAK[0] = a


from net.udp import Udp   # noqa: E402
from dtls import client as DC   # noqa: E402
from errors import LwError   # noqa: E402


class MeterNet:
    """Wraps Udp: records every datagram size in both directions and samples the heap."""

    def __init__(self, net):
        self.net = net
        self.sizes_up = []
        self.sizes_down = []

    def send(self, d):
        _probe()
        self.sizes_up.append(len(d))
        self.net.send(d)

    def recv(self, t):
        d = self.net.recv(t)
        _probe()
        if d is not None:
            self.sizes_down.append(len(d))
        return d


def _read(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError:
        return None


def _write(p, b):
    with open(p, "wb") as f:
        f.write(b)


class Counter:
    """In-memory write sequence counter (the channel plugs in a persisted SeqReserve)."""
    next = 0

    def start(self, v):
        self.next = v

    def take(self):
        self.next += 1
        return self.next - 1


def run_raw(o, net, res):
    import os
    c = DC.DtlsClient(net, os.urandom, o.get("identity", "Client_identity"),
                      bytes.fromhex(o["psk"]), o.get("cid"), o.get("ems", True),
                      o.get("rto", 1000), o.get("tries", 4))
    c.seq = Counter()
    sf = o.get("session")
    resume = False
    if sf and o.get("resume"):
        b = _read(sf)
        if b:
            c.session = b
            resume = True
    gc.collect()
    _PEAK[0] = gc.mem_alloc()
    res["heap_base"] = _PEAK[0]
    c.handshake(resume)      # (MeterNet samples the heap at every datagram both ways)
    res["heap_peak"] = _PEAK[0]
    res["path"] = c.path_taken
    res["cookie_len"] = c.cookie_len
    if sf:
        _write(sf, c.session)
    for s in o.get("send", []):
        c.send_app(s.encode())
    c.send_app()
    got = []
    for _ in range(o.get("recv", 0)):
        d = c.recv_app(o.get("wait_ms", 3000))
        if d is None:
            break
        got.append(d.decode())
    res["received"] = got
    res["dropped"] = c.dropped
    if o.get("close"):
        c._send([(21, 1, b"\x01\x00")])     # close_notify: frees single-client peers (s_server)


def run_channel(o, net, res):
    from board.unix import UnixBoard
    from state import Store
    from sec.dtls_channel import DtlsChannel
    from coap import codec as C
    board = UnixBoard()
    store = Store(board)
    store.load()
    cfg = o.get("cfg", {"mode": "dtls"})
    ch = DtlsChannel(net, store, board, cfg, {"psk_identity": o.get("identity", "Client_identity"),
                                              "psk_key": o["psk"]})
    ch.restore(store.get("dtls"))
    paths = ch.paths()
    res["paths"] = paths
    path = o.get("path", "auto")
    if path == "auto":
        path = paths[0]
    res["path"] = path
    gc.collect()
    _PEAK[0] = gc.mem_alloc()
    res["heap_base"] = _PEAK[0]
    ch.connect(path)         # (MeterNet samples the heap at every datagram both ways)
    res["heap_peak"] = _PEAK[0]
    res["path_taken"] = ch.path_taken
    got = []
    for t, code, mid, tok, uri in o.get("coap", []):
        m = C.Message(t, code, mid, bytes.fromhex(tok))
        if uri:
            m.set_path(uri)
        ch.send(m)
        r = ch.recv(o.get("wait_ms", 3000))
        got.append(None if r is None else [r.mtype, r.code, r.mid, r.payload.decode()])
    res["received"] = got
    res["dropped"] = ch.dropped
    if o.get("persist", True):
        store.put("dtls", ch.save())
        ch.settle()
        store.commit()


def main():
    import os
    o = json.loads(os.getenv("DTLS_OPTS") or sys.argv[1])
    _COLLECT[0] = bool(o.get("collect"))
    res = {"ok": False}
    udp = Udp(o.get("host", "127.0.0.1"), o["port"], o.get("local_port", 0))
    net = MeterNet(udp)
    try:
        if o.get("mode", "raw") == "raw":
            run_raw(o, net, res)
        else:
            run_channel(o, net, res)
        res["ok"] = True
    except MemoryError as e:
        import micropython
        res["outcome"] = "memory"
        res["error"] = "MemoryError: %s (free %d)" % (e, gc.mem_free())
        micropython.mem_info(1)
    except LwError as e:
        res["outcome"] = e.outcome
        res["error"] = "%s: %s" % (type(e).__name__, e)
    res["up"] = udp.up
    res["down"] = udp.down
    res["dg_up"] = udp.dg_up
    res["dg_down"] = udp.dg_down
    res["sizes_up"] = net.sizes_up
    res["sizes_down"] = net.sizes_down
    if "heap_peak" not in res:
        res["heap_peak"] = _PEAK[0]
    udp.close()
    print("RESULT " + json.dumps(res))


main()
