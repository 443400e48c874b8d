"""Harness LwM2M bootstrap server (CPython, asyncio, 127.0.0.1, plain CoAP), independent of the
firmware: CoAP with harness/coap.py, TLV with harness/tlv.py.

On a Bootstrap-Request (POST /bs?ep=NAME) it answers 2.04 and then, while the client listens,
runs the endpoint's script of bootstrap operations (default: `account_script`): Bootstrap-Delete
/, Bootstrap-Discover /, Bootstrap-Write /0/1 (the LwM2M server's Security instance), /1/0
(Server), /21/0 (OSCORE, for oscore), Bootstrap-Read /1/0, Bootstrap-Finish (POST /bs). Each
request is a CON retransmitted until answered (ack_timeout, max_retransmit). What the client
answered is in `events` and `sessions[ep]` (ops with code and decoded payload).

    bs = BootstrapServer(clock); await bs.start(); bs.script(ep, account_script(...))
    attach(server, bs, mode, dm_uri, creds)   # the DM server's plugins learn the credentials
"""
import asyncio
import random

if __name__ == "__main__":      # run as a script: tools/ on the path
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import coap as C  # noqa: E402
from harness import tlv  # noqa: E402

CF_LINK, CF_TLV = 40, 11542


def account_script(uri, mode="nosec", ssid=1, lifetime=86400, psk_identity=None, psk_key=None,
                   oscore=None, bs_on_fail=True, read=True, discover=True):
    """The operations that provision one LwM2M server account."""
    sec = [((0, 1, 0), uri), ((0, 1, 1), False), ((0, 1, 2), 0 if mode == "psk" else 3),
           ((0, 1, 10), ssid)]
    if mode == "psk":
        sec += [((0, 1, 3), psk_identity.encode()), ((0, 1, 5), bytes.fromhex(psk_key))]
    if mode == "oscore":
        sec += [((0, 1, 17), (21, 0))]
    ops = [("delete", "/")]
    if discover:
        ops.append(("discover", "/"))
    ops.append(("write", "/0/1", tlv.encode(sec, 1)[3:] if False else _inst(sec)))
    srv = [((1, 0, 0), ssid), ((1, 0, 1), lifetime), ((1, 0, 6), True), ((1, 0, 7), "U"),
           ((1, 0, 16), bs_on_fail)]
    ops.append(("write", "/1/0", _inst(srv)))
    if mode == "oscore":
        o = [((21, 0, 0), bytes.fromhex(oscore["master_secret"])),
             ((21, 0, 1), bytes.fromhex(oscore["sender_id"])),
             ((21, 0, 2), bytes.fromhex(oscore["recipient_id"])), ((21, 0, 3), 10), ((21, 0, 4), 5)]
        if oscore.get("master_salt"):
            o.append(((21, 0, 5), bytes.fromhex(oscore["master_salt"])))
        ops.append(("write", "/21/0", _inst(o)))
    if read:
        ops.append(("read", "/1/0"))
    ops.append(("finish",))
    return ops


def _inst(recs):
    """TLV of one instance's resources (the payload of a Write to /oid/iid)."""
    return tlv.encode(recs, 2)


class BootstrapServer(asyncio.DatagramProtocol):
    def __init__(self, clock, ack_timeout=0.5, max_retransmit=4):
        self.clock = clock
        self.ack_timeout = ack_timeout
        self.max_retransmit = max_retransmit
        self.scripts = {}       # ep -> [op]; "*" for any endpoint
        self.sessions = {}      # ep -> {"ops": [...], "done": bool, "finish": code}
        self.events = []
        self.pending = {}       # token -> future
        self.transport = None
        self.mid = random.randrange(65536)
        self.tok = random.randrange(65536)
        self.tasks = []
        self.running = {}       # ep -> (task, mid of its Bootstrap-Request)
        self.requests = 0

    def script(self, ep, ops):
        self.scripts[ep] = ops

    async def start(self, host="127.0.0.1"):
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        return self.transport.get_extra_info("sockname")[:2]

    def close(self):
        for t in self.tasks:
            t.cancel()
        if self.transport:
            self.transport.close()

    def log(self, kind, **f):
        ev = {"t": round(self.clock.now(), 3), "ev": kind}
        ev.update(f)
        self.events.append(ev)

    def _next(self):
        self.mid = (self.mid + 1) & 0xFFFF
        self.tok = (self.tok + 1) & 0xFFFF
        return self.mid, self.tok.to_bytes(2, "big")

    def datagram_received(self, data, addr):
        try:
            m = C.decode(data)
        except C.CoapError as e:
            self.log("drop", why=str(e))
            return
        if m.is_request():
            if m.code == C.POST and m.get_all(C.URI_PATH) == [b"bs"]:
                q = dict(v.decode().partition("=")[::2] for v in m.get_all(C.URI_QUERY))
                ep = q.get("ep")
                ops = self.scripts.get(ep, self.scripts.get("*"))
                if ops and isinstance(ops[0], list):     # a sequence: one per Bootstrap-Request
                    ops = ops.pop(0) if len(ops) > 1 else ops[0]
                code = C.CHANGED if ep and ops is not None else C.BAD_REQUEST
                self.transport.sendto(C.encode(C.Message(C.ACK, code, m.mid, m.token)), addr)
                self.requests += 1
                self.log("bootstrap-request", ep=ep, code=C.code_str(code), pct=q.get("pct"))
                if code == C.CHANGED:
                    # a new request from the endpoint restarts its bootstrap (the device reset
                    # in the middle of the previous one); a retransmitted request does not
                    old = self.running.get(ep)
                    if old and not old[0].done():
                        if old[1] == m.mid:
                            return
                        old[0].cancel()
                        self.log("bootstrap-restart", ep=ep)
                    t = asyncio.ensure_future(self._run(ep, ops, addr))
                    self.tasks.append(t)
                    self.running[ep] = (t, m.mid)
            elif m.mtype == C.CON:
                self.transport.sendto(C.encode(C.Message(C.ACK, C.NOT_FOUND, m.mid, m.token)), addr)
            return
        if m.mtype == C.CON:
            self.transport.sendto(C.encode(C.Message(C.ACK, C.EMPTY, m.mid)), addr)
        f = self.pending.pop(m.token, None)
        if f and not f.done() and m.code != C.EMPTY:
            f.set_result(m)

    async def _req(self, addr, code, path, payload=b"", cf=None, accept=None):
        mid, tok = self._next()
        m = C.Message(C.CON, code, mid, tok, payload)
        m.set_path(path)
        if cf is not None:
            m.add(C.CONTENT_FORMAT, cf)
        if accept is not None:
            m.add(C.ACCEPT, accept)
        fut = asyncio.get_running_loop().create_future()
        self.pending[tok] = fut
        data = C.encode(m)
        t = self.ack_timeout
        for _ in range(self.max_retransmit + 1):
            self.transport.sendto(data, addr)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), t)
            except asyncio.TimeoutError:
                t *= 2
        self.pending.pop(tok, None)
        return None

    async def _run(self, ep, ops, addr):
        s = self.sessions[ep] = {"ops": [], "done": False, "finish": None}
        await asyncio.sleep(0.05)
        for op in ops:
            kind = op[0]
            if kind == "delete":
                r = await self._req(addr, C.DELETE, op[1])
            elif kind == "discover":
                r = await self._req(addr, C.GET, op[1], accept=CF_LINK)
            elif kind == "write":
                r = await self._req(addr, C.PUT, op[1], op[2], cf=CF_TLV)
            elif kind == "read":
                r = await self._req(addr, C.GET, op[1], accept=CF_TLV)
            elif kind == "finish":
                r = await self._req(addr, C.POST, "/bs")
            else:
                raise ValueError(kind)
            rec = {"op": kind, "uri": op[1] if len(op) > 1 else "/bs",
                   "code": C.code_str(r.code) if r else None}
            if r is not None and r.payload:
                cf = r.get_uint(C.CONTENT_FORMAT)
                if cf == CF_LINK:
                    rec["value"] = r.payload.decode()
                elif cf == CF_TLV:
                    rec["value"] = tlv.tree(r.payload, None, tuple(int(x) for x in op[1].strip("/").split("/")))
            s["ops"].append(rec)
            self.log("bs-" + kind, ep=ep, uri=rec["uri"], code=rec["code"])
            if r is None:
                s["finish"] = None
                return
            if kind == "finish":
                s["finish"] = rec["code"]
        s["done"] = True


def attach(server, mode, creds):
    """The DM server side of what the bootstrap server provisions: the PSK in the DTLS plugin's
    store, the OSCORE context in a new OSCORE plugin (harness/oscore_server.py)."""
    if mode == "psk" and server.plugin("dtls") is not None:
        server.plugin("dtls").psk[creds["psk_identity"]] = bytes.fromhex(creds["psk_key"])
    if mode == "oscore" and server.plugin("oscore") is not None:
        from harness.oscore_server import OscorePlugin
        server.plugins[server.plugins.index(server.plugin("oscore"))] = OscorePlugin(server, secrets=creds["oscore"])


async def setup(clock, server, sc, board, target):
    """For tools/runner.py: a scenario with "bootstrap": {"mode": nosec|psk|oscore, "secrets":
    {...} (default secrets/example.json), "board": {...} (merged into the device's `bootstrap`
    config), "dead_first": N (the first account points at a port nobody serves, then the right
    one: bootstrap after registration failure)}. Starts the bootstrap server, scripts the
    account for the DM server at `target`, teaches the DM server the credentials and puts
    bootstrap.uri into the board config."""
    import json
    import os
    b = sc["bootstrap"]
    mode = b.get("mode", "nosec")
    creds = b.get("secrets")
    if creds is None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "secrets", "example.json")) as f:
            creds = json.load(f)
    bs = BootstrapServer(clock)
    host, port = await bs.start()
    uri = "%s://%s:%d" % ("coaps" if mode == "psk" else "coap", target[0], target[1])
    kw = dict(mode=mode, lifetime=b.get("lifetime", 86400), psk_identity=creds.get("psk_identity"),
              psk_key=creds.get("psk_key"), oscore=creds.get("oscore"))
    good = account_script(uri, **kw)
    drop = b.get("drop_ops") or ()     # tests: leave out ops by kind or URI ("finish", "/1/0")
    good = [op for op in good if op[0] not in drop and (len(op) < 2 or op[1] not in drop)]
    if b.get("dead_first"):
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        dead = "%s://127.0.0.1:%d" % ("coaps" if mode == "psk" else "coap", s.getsockname()[1])
        s.close()
        bs.script("*", [account_script(dead, **kw), good])
    else:
        bs.script("*", good)
    attach(server, mode, creds)
    cfg = dict(b.get("board") or {})
    cfg["uri"] = "coap://%s:%d" % (host, port)
    board["bootstrap"] = cfg
    return bs


def main():
    """A bootstrap server on the real clock for a device you run (`make run`, a board):

        bootstrap_server.py --port 5693 --server coaps://HOST:5684 --mode psk --secrets FILE

    provisions every endpoint that asks with one account for the LwM2M server at --server
    (credentials from the secrets file: psk_identity/psk_key or oscore) and prints what
    happened. The device needs "bootstrap": {"uri": "coap://THIS-HOST:PORT"} in its config."""
    import argparse
    import json
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from simclock import RealClock
    ap = argparse.ArgumentParser(description=main.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5693)
    ap.add_argument("--server", required=True, help="the LwM2M server URI to provision")
    ap.add_argument("--mode", default="nosec", choices=("nosec", "psk", "oscore"))
    ap.add_argument("--secrets", help="JSON with psk_identity/psk_key or oscore (secrets/example.json)")
    ap.add_argument("--lifetime", type=int, default=86400)
    a = ap.parse_args()
    creds = {}
    if a.secrets:
        with open(a.secrets) as f:
            creds = json.load(f)

    async def run():
        bs = BootstrapServer(RealClock())
        h, p = await bs.start(a.host) if a.port == 0 else (None, None)
        if a.port:
            loop = asyncio.get_running_loop()
            bs.transport, _ = await loop.create_datagram_endpoint(lambda: bs, local_addr=(a.host, a.port))
            h, p = bs.transport.get_extra_info("sockname")[:2]
        bs.script("*", account_script(a.server, a.mode, lifetime=a.lifetime, psk_identity=creds.get("psk_identity"),
                                      psk_key=creds.get("psk_key"), oscore=creds.get("oscore")))
        print("bootstrap server on coap://%s:%d provisioning %s (%s)" % (h, p, a.server, a.mode), flush=True)
        n = 0
        while True:
            await asyncio.sleep(0.5)
            for ev in bs.events[n:]:
                print(" ".join("%s=%s" % kv for kv in ev.items()), flush=True)
            n = len(bs.events)
    asyncio.run(run())


if __name__ == "__main__":
    main()
