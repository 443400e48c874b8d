"""Harness LwM2M server (CPython, asyncio, 127.0.0.1): registrations, queue mode, DM requests.

What it does: one UDP socket; each datagram goes to the first security plugin that claims it
(DTLS, OSCORE, then NoSec); authentic CoAP messages come back through deliver(peer, msg).
Register / Update / De-register / Send (POST /dp) are handled here; a registration follows the
address of its latest authentic Register/Update; lifetimes expire on the scenario's virtual
clock; requests for a queue-mode client wait until its next Register/Update, then go out while
it listens. Every DM operation (Read, Write, Execute, Discover, Write-Attributes, Create, Delete,
Observe and its cancellation) and the composite ones (read_composite, write_composite,
observe_composite, cancel_composite: FETCH / iPATCH with SenML) is offered as a request returning
a future (tests, console), in any content format; notifications and Send payloads are decoded
(SenML resolved to absolute names and times) and kept per registration (`observations`,
`sends`, `samples`). An independent oracle: CoAP with harness/coap.py, TLV with harness/tlv.py
(values typed by harness/objects.py), SenML and CBOR with json and cbor2; no firmware code
decodes what the device sends (the DTLS and OSCORE plugins reuse the firmware's record layers).
What it does not do: bootstrap, or any security itself (plugins in tools/harness/*_server.py).
"""
import asyncio
import json
import os
import random
import time

from harness import coap as C      # the harness's own CoAP codec, not the firmware's
from harness import tlv            # and its own TLV codec
from harness.objects import path_type

CF_TEXT, CF_LINK, CF_OPAQUE, CF_CBOR, CF_SENML_JSON, CF_SENML_CBOR, CF_TLV = 0, 40, 42, 60, 110, 112, 11542
EXCHANGE_LIFETIME = 247.0   # s, RFC 7252 4.8.2 (defaults): how long a MID is remembered


class NoSecPeer:
    mode = "nosec"

    def __init__(self, plugin, addr):
        self.plugin = plugin
        self.addr = addr
        self.identity = "%s:%d" % addr


class NoSecPlugin:
    """Plain CoAP. Claims CoAP datagrams without an OSCORE option."""
    name = "nosec"

    def __init__(self, server, **_cfg):
        self.server = server

    def claims(self, data):
        return len(data) >= 4 and data[0] >> 6 == 1

    def datagram_received(self, data, addr):
        try:
            m = C.decode(data)
        except C.CoapError as e:
            self.server.log("drop", why="malformed CoAP: %s" % e, src=addr)
            if e.mtype == C.CON and e.mid is not None:
                self.server.sendto(C.encode(C.Message(C.RST, C.EMPTY, e.mid)), addr)
            return
        if m.get(C.OSCORE) is not None:
            # OSCORE-protected but no OSCORE plugin: 4.02 Bad Option (RFC 8613 8.2)
            self.server.log("drop", why="OSCORE message, no OSCORE plugin", src=addr)
            if m.mtype == C.CON:
                r = C.Message(C.ACK, C.BAD_OPTION, m.mid, m.token)
                self.server.sendto(C.encode(r), addr)
            return
        self.server.deliver(NoSecPeer(self, addr), m)

    def send_message(self, peer, msg):
        self.server.sendto(C.encode(msg), peer.addr)


class Registration:
    def __init__(self, ep, loc, peer, now):
        self.ep = ep
        self.loc = loc
        self.peer = peer
        self.lifetime = 86400
        self.binding = "U"
        self.queue = False
        self.links = ""
        self.version = "1.1"
        self.registered_at = now
        self.last_seen = now
        self.updates = 0
        self.sends = []        # decoded Send payloads
        self.samples = []      # (name, t, value) of every Send record, in arrival order,
        self.sample_keys = set()  # each once: (name, time) already received (dedup)
        self.observations = {} # token -> Observation
        self.queued = []       # [(Message, future)] waiting for the client to wake
        self.pending = {}      # token -> (Message, future) sent, awaiting the response

    def expired(self, now):
        return now > self.last_seen + self.lifetime

    def summary(self):
        return {"ep": self.ep, "loc": self.loc, "lt": self.lifetime, "b": self.binding,
                "queue": self.queue, "mode": self.peer.mode, "identity": self.peer.identity,
                "addr": "%s:%d" % self.peer.addr, "links": self.links, "updates": self.updates,
                "observations": [o.summary() for o in self.observations.values()],
                "samples": len(self.samples)}


class Observation:
    """A server observation: the notifications that came for one token."""

    def __init__(self, uri, token, first):
        self.uri = uri
        self.token = token
        self.notifications = [first]   # Response objects, the 2.05 to the Observe first
        self.mids = set()
        self.duplicates = 0

    def summary(self):
        return {"uri": self.uri, "n": len(self.notifications),
                "seq": [r.observe for r in self.notifications], "dups": self.duplicates}


def req_uri(req):
    """What a request is about: its path, or for a composite operation (FETCH/iPATCH at the
    root) "composite:" and the names it lists."""
    names = getattr(req, "composite", None)
    if names is not None:
        return "composite:" + ",".join(names)
    return req.path()


def op_name(req):
    """The LwM2M operation a server request is (for logs and reports): read, observe, cancel,
    discover, write, write-attributes, execute, create, delete, read-composite, write-composite,
    observe-composite, cancel-composite."""
    obs = req.get_uint(C.OBSERVE)
    q = req.get_all(C.URI_QUERY)
    n = len(req.get_all(C.URI_PATH))
    if req.code == C.GET:
        if obs is not None:
            return "observe" if obs == 0 else "cancel"
        return "discover" if req.get_uint(C.ACCEPT) == CF_LINK else "read"
    if req.code == C.FETCH:
        if obs is not None:
            return "observe-composite" if obs == 0 else "cancel-composite"
        return "read-composite"
    if req.code == C.IPATCH:
        return "write-composite"
    if req.code == C.PUT:
        return "write-attributes" if q and not req.payload and req.get(C.CONTENT_FORMAT) is None else "write"
    if req.code == C.POST:
        if n == 1:
            return "create"
        return "write" if req.get(C.CONTENT_FORMAT) is not None else "execute"
    if req.code == C.DELETE:
        return "delete"
    return C.code_str(req.code)


class Response:
    """A client's answer to a server request, decoded where the format is known; `op` names the
    operation of the request it answers."""
    op = "notify"

    def __init__(self, msg, uri=None):
        self.msg = msg
        self.uri = uri          # the request's path (types TLV values by the object model)
        self.code = msg.code
        self.cf = msg.get_uint(C.CONTENT_FORMAT)
        self.payload = msg.payload
        self.observe = msg.get_uint(C.OBSERVE)
        self.t = None

    @property
    def ok(self):
        return 64 <= self.code < 96

    def decoded(self):
        return decode_payload(self.cf, self.payload, self.uri)

    def __repr__(self):
        return "<%s cf=%s %r>" % (C.code_str(self.code), self.cf, self.decoded())


def decode_payload(cf, payload, uri=None):
    """A payload as Python data: text as str, TLV as {id: ...}, SenML as resolved records
    (RFC 8428 4.6: absolute names and times; CBOR keeps the integer labels 0 n, 2 v, 3 vs,
    4 vb, 8 vd, 6 t), LwM2M CBOR as nested maps, link format as str, opaque as hex. `uri`: the
    request's path; TLV values are then typed by the object model (harness/objects.py)."""
    if not payload:
        return None
    try:
        if cf in (CF_TEXT, None):
            return payload.decode()
        if cf == CF_TLV:
            try:
                ids = tuple(int(x) for x in uri.strip("/").split("/") if x) if uri else ()
            except ValueError:      # a composite ("composite:/3/0/9,...") carries no TLV
                ids = ()
            return tlv.tree(payload, path_type if ids else None, ids)
        if cf == CF_LINK:
            return payload.decode()
        if cf == CF_SENML_JSON:
            return resolve_senml(json.loads(payload), "bn", "bt", "n", "t")
        if cf == CF_SENML_CBOR:
            import cbor2
            return resolve_senml(cbor2.loads(payload), -2, -3, 0, 6)
        if cf in (CF_CBOR, 11544) or cf == 50:
            import cbor2
            return cbor2.loads(payload) if cf != 50 else json.loads(payload)
    except Exception as e:  # a report, not a crash
        return "undecodable %s: %s" % (cf, e)
    return payload.hex()


def resolve_senml(recs, kbn, kbt, kn, kt):
    """Resolved SenML records: base name and base time folded into each record's n and t."""
    out = []
    bn, bt = "", 0
    for r in recs:
        bn = r.get(kbn, bn)
        bt = r.get(kbt, bt)
        d = {k: v for k, v in r.items() if k not in (kbn, kbt, kn, kt)}
        d[kn] = bn + r.get(kn, "")
        if kt in r or bt:
            d[kt] = bt + r.get(kt, 0)
        out.append(dict(sorted(d.items(), key=lambda kv: str(kv[0]))))
    return out


class LwServer(asyncio.DatagramProtocol):
    def __init__(self, clock, host="127.0.0.1", port=0, plugins=("nosec",), plugin_cfg=None,
                 loc_len=4, ack_timeout=1.0, max_retransmit=3, verbose=False, log_path=None,
                 bind_identities=None):
        from harness.identities import Identities
        self.ids = Identities(bind_identities)    # several identities, one registration
        self.ids.log = self.log
        self.clock = clock
        self.host = host
        self.port = port
        self.plugin_cfg = plugin_cfg or {}
        self.plugins = []
        self._plugin_names = list(plugins)
        self.loc_len = loc_len
        self.ack_timeout = ack_timeout
        self.max_retransmit = max_retransmit
        self.verbose = verbose
        self.log_path = log_path
        self.regs = {}          # ep -> Registration
        self.by_loc = {}        # loc -> ep
        self.events = []
        self.dedup = {}         # (identity, mid) -> (time, response): for EXCHANGE_LIFETIME
        self.transport = None
        self.mid = random.randrange(65536)
        self.tok = random.randrange(65536)
        self.rng = random.Random()
        self.retries_503 = {}   # id(future) -> times the client answered 5.03
        self.files = {}         # path -> bytes served by GET with Block2 (harness/blockserve.py)

    # -- plumbing -------------------------------------------------------------------------------
    def _make_plugins(self):
        for name in self._plugin_names:
            cfg = self.plugin_cfg.get(name, {})
            if name == "nosec":
                self.plugins.append(NoSecPlugin(self, **cfg))
            elif name == "dtls":
                from harness.dtls_server import DtlsPlugin
                self.plugins.append(DtlsPlugin(self, **cfg))
            elif name == "oscore":
                from harness.oscore_server import OscorePlugin
                self.plugins.append(OscorePlugin(self, **cfg))
            else:
                raise ValueError("unknown plugin " + name)
        # most specific first: DTLS by first byte, OSCORE by option, then plain CoAP
        order = {"dtls": 0, "oscore": 1, "nosec": 2}
        self.plugins.sort(key=lambda p: order.get(p.name, 9))

    def plugin(self, name):
        for p in self.plugins:
            if p.name == name:
                return p
        return None

    async def start(self):
        self._make_plugins()
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, self.port))
        self.port = self.transport.get_extra_info("sockname")[1]
        self.log("start", addr="%s:%d" % (self.host, self.port), plugins=",".join(p.name for p in self.plugins))
        return self.host, self.port

    def close(self):
        if self.transport:
            self.transport.close()

    def datagram_received(self, data, addr):
        for p in self.plugins:
            if p.claims(data):
                try:
                    p.datagram_received(data, addr)
                except Exception as e:  # a bad datagram must never stop the server
                    self.log("error", plugin=p.name, why="%s: %s" % (type(e).__name__, e), src=addr)
                return
        self.log("drop", why="no plugin claims it", src=addr, size=len(data))

    def sendto(self, data, addr):
        if self.transport:
            self.transport.sendto(data, addr)

    def log(self, kind, **f):
        ev = {"t": round(self.clock.now(), 3), "ev": kind}
        ev.update({k: (v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v)) for k, v in f.items()})
        self.events.append(ev)
        if self.verbose:
            print("server %8.1f %-10s %s" % (ev["t"], kind, " ".join("%s=%s" % (k, v) for k, v in f.items())))
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(ev) + "\n")

    def _next_mid(self):
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def _next_token(self):
        self.tok = (self.tok + 1) & 0xFFFF
        return self.tok.to_bytes(2, "big")

    def reply(self, peer, req, code, payload=b"", opts=()):
        r = C.Message(C.ACK if req.mtype == C.CON else C.NON, code,
                      req.mid if req.mtype == C.CON else self._next_mid(), req.token, payload)
        for n, v in opts:
            r.add(n, v)
        now = self.clock.now()
        self.dedup.pop((peer.identity, req.mid), None)
        self.dedup[(peer.identity, req.mid)] = (now, r)
        # RFC 7252 4.8.2: a message ID is remembered for EXCHANGE_LIFETIME (247 s), then
        # forgotten: a device that lost its MID counter (power cut) may reuse it later
        while self.dedup:
            k = next(iter(self.dedup))
            if now - self.dedup[k][0] <= EXCHANGE_LIFETIME and len(self.dedup) <= 4096:
                break
            self.dedup.pop(k)
        peer.plugin.send_message(peer, r)
        return r

    # -- inbound --------------------------------------------------------------------------------
    def deliver(self, peer, m):
        self._expire()
        if m.is_request():
            key = (peer.identity, m.mid)
            hit = self.dedup.get(key)
            if m.mtype == C.CON and hit and self.clock.now() - hit[0] <= EXCHANGE_LIFETIME:
                self.log("dup", mid=m.mid, ident=peer.identity)
                peer.plugin.send_message(peer, hit[1])
                return
            self._request(peer, m)
        elif m.code == C.EMPTY:
            if m.mtype == C.RST:
                for reg in self.regs.values():
                    for tok, (req, fut) in list(reg.pending.items()):
                        if req.mid == m.mid and not fut.done():
                            fut.set_exception(ConnectionResetError("client reset the request"))
                            del reg.pending[tok]
        else:
            self._response(peer, m)

    def _request(self, peer, m):
        path = m.get_all(C.URI_PATH)
        if path == [b"rd"] and m.code == C.POST:
            return self._register(peer, m)
        if len(path) >= 2 and path[0] == b"rd":
            loc = "/".join(p.decode() for p in path)
            ep = self.by_loc.get(loc)
            reg = self.regs.get(ep) if ep else None
            if reg is None:
                self.log("unknown-loc", loc=loc, src=peer.identity)
                return self.reply(peer, m, C.NOT_FOUND)
            if peer.mode != "nosec" and not self.ids.same(reg, peer):
                self.log("forbidden", loc=loc, ident=peer.identity)
                return self.reply(peer, m, C.FORBIDDEN)
            if m.code == C.POST:
                return self._update(peer, m, reg)
            if m.code == C.DELETE:
                self._drop(reg, "deregistered")
                return self.reply(peer, m, C.DELETED)
            return self.reply(peer, m, C.METHOD_NOT_ALLOWED)
        if path == [b"dp"] and m.code == C.POST:
            reg = self._reg_for_peer(peer)
            if reg is None:
                return self.reply(peer, m, C.FORBIDDEN if peer.mode != "nosec" else C.NOT_FOUND)
            data = decode_payload(m.get_uint(C.CONTENT_FORMAT), m.payload)
            reg.sends.append({"t": self.clock.now(), "data": data, "size": len(m.payload)})
            dup = 0
            if isinstance(data, list):
                for r in data:
                    if isinstance(r, dict):
                        n = r.get(0, r.get("n"))
                        v = next((r[k] for k in (2, 3, 4, 8, "v", "vs", "vb", "vd") if k in r), None)
                        t = r.get(6, r.get("t"))
                        # Send is at-least-once (a lost 2.04 makes the device send the batch
                        # again): a record is the same sample if (endpoint, name, time) match
                        key = (n, repr(t))
                        if t is not None and key in reg.sample_keys:
                            dup += 1
                            continue
                        reg.sample_keys.add(key)
                        reg.samples.append((n, t, v))
            reg.last_seen = self.clock.now()
            self.log("send", ep=reg.ep, mid=m.mid, data=data, dup=dup)
            return self.reply(peer, m, C.CHANGED)
        if m.code == C.GET and m.path() in self.files:    # firmware packages, block-wise
            from harness import blockserve
            return blockserve.serve(self, peer, m, self.files[m.path()])
        return self.reply(peer, m, C.NOT_FOUND)

    def _reg_for_peer(self, peer):
        for reg in self.regs.values():
            if reg.peer.identity == peer.identity or reg.peer.addr == peer.addr:
                return reg
        for reg in self.regs.values():
            if self.ids.same(reg, peer):
                return reg
        return None

    def _query(self, m):
        q = {}
        for v in m.get_all(C.URI_QUERY):
            s = v.decode()
            k, _, val = s.partition("=")
            q[k] = val
        return q

    def _register(self, peer, m):
        q = self._query(m)
        ep = q.get("ep") or self.ids.endpoint(peer) or (peer.identity if peer.mode != "nosec" else None)
        if not ep:
            return self.reply(peer, m, C.BAD_REQUEST)
        if m.get_uint(C.CONTENT_FORMAT, CF_LINK) != CF_LINK:
            return self.reply(peer, m, C.UNSUPPORTED_FORMAT)
        now = self.clock.now()
        self.ids.learn(ep, peer)
        old = self.regs.get(ep)
        if old:
            self._drop(old, "replaced")
        loc = "rd/" + "".join(self.rng.choice("0123456789abcdef") for _ in range(self.loc_len))
        reg = Registration(ep, loc, peer, now)
        if old:
            reg.queued = old.queued
            reg.sends = old.sends
            reg.samples = old.samples   # observations end with the old registration
            reg.sample_keys = old.sample_keys
        reg.lifetime = int(q.get("lt", 86400))
        reg.binding = q.get("b", "U")
        reg.queue = "Q" in q or "Q" in reg.binding
        reg.version = q.get("lwm2m", "1.0")
        reg.links = m.payload.decode()
        self.regs[ep] = reg
        self.by_loc[loc] = ep
        self.log("register", ep=ep, loc=loc, mid=m.mid, lt=reg.lifetime, q=reg.queue, mode=peer.mode,
                 src="%s:%d" % peer.addr, links=reg.links)
        self.reply(peer, m, C.CREATED, opts=[(C.LOCATION_PATH, s) for s in loc.split("/")])
        self._flush_queue(reg)

    def _update(self, peer, m, reg):
        q = self._query(m)
        if "lt" in q:
            reg.lifetime = int(q["lt"])
        if "b" in q:
            reg.binding = q["b"]
        if m.payload:
            reg.links = m.payload.decode()
        moved = reg.peer.addr != peer.addr
        if moved:
            self.log("rebind", ep=reg.ep, old="%s:%d" % reg.peer.addr, new="%s:%d" % peer.addr)
        reg.peer = peer
        reg.last_seen = self.clock.now()
        reg.updates += 1
        self.log("update", ep=reg.ep, mid=m.mid, src="%s:%d" % peer.addr, mode=peer.mode,
                 params=",".join(sorted(q)) or "-", payload=len(m.payload))
        self.reply(peer, m, C.CHANGED)
        self._flush_queue(reg)

    def _drop(self, reg, why):
        self.regs.pop(reg.ep, None)
        self.by_loc.pop(reg.loc, None)
        self.log(why, ep=reg.ep, loc=reg.loc)

    def _expire(self):
        now = self.clock.now()
        for reg in list(self.regs.values()):
            if reg.expired(now):
                self._drop(reg, "expired")

    def _response(self, peer, m):
        for reg in self.regs.values():
            ent = reg.pending.get(m.token)
            if ent:
                req, fut = ent
                if m.mtype == C.CON:
                    peer.plugin.send_message(peer, C.Message(C.ACK, C.EMPTY, m.mid))
                del reg.pending[m.token]
                if m.code == 163 and reg.queue and self.retries_503.get(id(fut), 0) < 3:
                    # 5.03 Service Unavailable (the device is short of heap): ask again at its
                    # next wake, as queue mode does for a client that went back to sleep
                    self.retries_503[id(fut)] = self.retries_503.get(id(fut), 0) + 1
                    reg.queued.append((req, fut))
                    self.log("requeue", ep=reg.ep, uri=req.path(), why="5.03")
                    return
                uri = req_uri(req)
                r = Response(m, uri)
                r.t = self.clock.now()
                r.op = op_name(req)
                if req.get(C.OBSERVE) == b"" and r.observe is not None and r.ok:
                    reg.observations[m.token] = Observation(uri, m.token, r)
                    self.log("observing", ep=reg.ep, uri=uri, token=m.token.hex())
                elif req.get(C.OBSERVE) is not None:
                    reg.observations = {t: o for t, o in reg.observations.items() if o.uri != uri}
                if not fut.done():
                    fut.set_result(r)
                self.log("response", ep=reg.ep, op=r.op, code=C.code_str(m.code), size=len(m.payload))
                return
            ob = reg.observations.get(m.token)
            if ob is not None:
                if m.mtype == C.CON:
                    peer.plugin.send_message(peer, C.Message(C.ACK, C.EMPTY, m.mid))
                if m.mid in ob.mids:          # a retransmission or a duplicated datagram
                    ob.duplicates += 1
                    self.log("notify-dup", ep=reg.ep, uri=ob.uri, mid=m.mid)
                    return
                ob.mids.add(m.mid)
                r = Response(m, ob.uri)
                r.t = self.clock.now()
                ob.notifications.append(r)
                reg.last_seen = self.clock.now()
                self.log("notify", ep=reg.ep, uri=ob.uri, seq=r.observe, mtype=("CON", "NON")[m.mtype],
                         size=len(C.encode(m)), value=r.decoded())
                return
        if m.mtype == C.CON:
            peer.plugin.send_message(peer, C.Message(C.RST, C.EMPTY, m.mid))

    # -- outbound (server-initiated requests) --------------------------------------------------
    def _flush_queue(self, reg):
        q, reg.queued = reg.queued, []
        for msg, fut in q:
            self._send_request(reg, msg, fut)

    def _send_request(self, reg, msg, fut):
        msg.mid = self._next_mid()
        msg.token = self._next_token()
        msg.mtype = C.CON
        reg.pending[msg.token] = (msg, fut)
        self.log("request", ep=reg.ep, code=C.code_str(msg.code), uri=msg.path())
        asyncio.get_running_loop().create_task(self._retransmit(reg, msg, fut))

    async def _retransmit(self, reg, msg, fut):
        t = self.ack_timeout * (1 + 0.5 * random.random())
        for i in range(self.max_retransmit + 1):
            if fut.done():
                return
            reg.peer.plugin.send_message(reg.peer, msg)
            try:
                await asyncio.wait_for(asyncio.shield(fut), t)
                return
            except asyncio.TimeoutError:
                t *= 2
            except Exception:
                return
        if not fut.done():
            reg.pending.pop(msg.token, None)
            # the client went back to sleep: queue it again for the next wake
            if reg.queue and reg.ep in self.regs:
                self.log("requeue", ep=reg.ep, uri=msg.path())
                reg.queued.append((msg, fut))
            else:
                fut.set_exception(TimeoutError("no answer from %s" % reg.ep))

    def request(self, ep, code, uri, payload=b"", cf=None, accept=None, observe=None, now=False, query=(),
                composite=None):
        """Queue or send a request; returns a future resolving to a Response. `now` sends at
        once even to a queue-mode client (what a naive server does: lost if it sleeps)."""
        reg = self.regs.get(ep)
        if reg is None:
            raise KeyError("no registration for %s" % ep)
        m = C.Message(C.CON, code)
        m.set_path(uri)
        if composite is not None:
            m.composite = list(composite)     # the names of a composite operation (req_uri)
        for q in query:
            m.add(C.URI_QUERY, q)
        if observe is not None:
            m.add(C.OBSERVE, observe)
        if cf is not None:
            m.add(C.CONTENT_FORMAT, cf)
        if accept is not None:
            m.add(C.ACCEPT, accept)
        m.payload = payload
        fut = asyncio.get_running_loop().create_future()
        if reg.queue and not now:
            reg.queued.append((m, fut))
            self.log("queued", ep=ep, code=C.code_str(code), uri=uri)
        else:
            self._send_request(reg, m, fut)
        return fut

    def read(self, ep, uri, accept=None, now=False):
        return self.request(ep, C.GET, uri, accept=accept, now=now)

    def write(self, ep, uri, value, cf=CF_TEXT, replace=True):
        """Write (PUT: replace; POST: partial update). value: bytes/str in format cf, or Python
        data encoded here: {rid: v} or [(path, v)] for TLV/SenML/LwM2M CBOR (see encode_values)."""
        if isinstance(value, str):
            value = value.encode()
        elif not isinstance(value, bytes):
            value = encode_values(cf, uri, value)
        return self.request(ep, C.PUT if replace else C.POST, uri, payload=value, cf=cf)

    def execute(self, ep, uri, args=b""):
        return self.request(ep, C.POST, uri, payload=args if isinstance(args, bytes) else args.encode())

    def discover(self, ep, uri):
        return self.request(ep, C.GET, uri, accept=CF_LINK)

    def write_attrs(self, ep, uri, **attrs):
        """Write-Attributes: PUT with pmin/pmax/gt/lt/st (None: remove that attribute)."""
        q = ["%s=%s" % (k, "" if v is None else v) for k, v in sorted(attrs.items())]
        return self.request(ep, C.PUT, uri, query=q)

    def create(self, ep, uri, value, cf=CF_TLV):
        if not isinstance(value, bytes):
            value = encode_values(cf, uri, value)
        return self.request(ep, C.POST, uri, payload=value, cf=cf)

    def delete(self, ep, uri):
        return self.request(ep, C.DELETE, uri)

    def observe(self, ep, uri, accept=None):
        """Observe (GET, Observe 0); the future gives the first 2.05, later notifications go to
        regs[ep].observations[token].notifications."""
        return self.request(ep, C.GET, uri, accept=accept, observe=0)

    def cancel(self, ep, uri):
        """Cancel an observation actively (GET, Observe 1)."""
        return self.request(ep, C.GET, uri, observe=1)

    def observation(self, ep, uri):
        """The observation of uri (a path, or a list of paths for an Observe-Composite)."""
        if isinstance(uri, (list, tuple)):
            uri = "composite:" + ",".join(_names(uri))
        reg = self.regs.get(ep)
        for o in (reg.observations.values() if reg else ()):
            if o.uri == uri.strip("/"):
                return o
        return None

    # -- composite operations (LwM2M 1.1 Core 6.3.8/6.3.9/6.4.5): FETCH / iPATCH at the root --
    def read_composite(self, ep, paths, cf=CF_SENML_CBOR, accept=None, now=False):
        """Read-Composite: FETCH with the names of `paths` (["/3/0/9", "/3303/0"]) as SenML
        (cf 110 or 112); the answer in `accept` (default cf), decoded to resolved records."""
        return self.request(ep, C.FETCH, "", payload=composite_names(cf, paths), cf=cf,
                            accept=accept, now=now, composite=_names(paths))

    def observe_composite(self, ep, paths, cf=CF_SENML_CBOR, accept=None):
        """Observe-Composite: FETCH with Observe 0; notifications go to
        observation(ep, paths).notifications, each the whole composite."""
        return self.request(ep, C.FETCH, "", payload=composite_names(cf, paths), cf=cf,
                            accept=accept, observe=0, composite=_names(paths))

    def cancel_composite(self, ep, paths, cf=CF_SENML_CBOR):
        """Cancel Observation-Composite: FETCH with Observe 1 and the same names."""
        return self.request(ep, C.FETCH, "", payload=composite_names(cf, paths), cf=cf,
                            observe=1, composite=_names(paths))

    def write_composite(self, ep, values, cf=CF_SENML_CBOR):
        """Write-Composite: iPATCH with SenML records {"/1/0/1": 7200, "/1/0/7": "UQ"} (or a
        list of (path, value)); the device changes all of them or none."""
        if isinstance(values, bytes):           # a payload as given (malformed-input tests)
            return self.request(ep, C.IPATCH, "", payload=values, cf=cf, composite=[])
        items = sorted(values.items()) if isinstance(values, dict) else list(values)
        return self.request(ep, C.IPATCH, "", payload=encode_values(cf, "/", items), cf=cf,
                            composite=_names([p for p, _ in items]))


def _names(paths):
    return ["/" + p.strip("/") for p in paths]


def composite_names(cf, paths):
    """The payload of a Read-/Observe-Composite: SenML records with a name only (RFC 8790)."""
    recs = [{"n": n} for n in _names(paths)]
    if cf == CF_SENML_JSON:
        return json.dumps(recs).encode()
    if cf == CF_SENML_CBOR:
        import cbor2
        return cbor2.dumps([{0: r["n"]} for r in recs])
    raise ValueError("composite operations use SenML JSON (110) or SenML CBOR (112)")


def encode_values(cf, uri, values):
    """Encode Python values for a Write or Create on uri: `values` is {rid: v} (for an
    instance; v a dict {riid: v} for a multiple resource) or [("/o/i/r", v), ...]. Types follow
    Python: bool, int, float, str, bytes (opaque), tuple (objlnk)."""
    ids = [int(x) for x in uri.strip("/").split("/") if x]
    recs = []
    if isinstance(values, dict):
        base = ids if len(ids) >= 2 else ids + [0]
        for rid, v in sorted(values.items()):
            if isinstance(v, dict):
                for riid, x in sorted(v.items()):
                    recs.append((tuple(base[:2]) + (rid, riid), x))
            else:
                recs.append((tuple(base[:2]) + (rid,), v))
    else:
        recs = [(tuple(int(x) for x in p.strip("/").split("/")), v) for p, v in values]
    if cf == CF_TLV:
        return tlv.encode(recs, max(1, len(ids) - (len(ids) > 2)))
    if cf in (CF_SENML_JSON, CF_SENML_CBOR):
        out = []
        for p, v in recs:
            r = {"n": "/" + "/".join(map(str, p))}
            if isinstance(v, bool):
                r["vb"] = v
            elif isinstance(v, (int, float)):
                r["v"] = v
            elif isinstance(v, bytes):
                r["vd"] = v
            elif isinstance(v, tuple):
                r["vlo"] = "%d:%d" % v
            else:
                r["vs"] = v
            out.append(r)
        if cf == CF_SENML_JSON:
            import base64
            for r in out:
                if "vd" in r:
                    r["vd"] = base64.urlsafe_b64encode(r["vd"]).decode().rstrip("=")
            return json.dumps(out).encode()
        import cbor2
        lab = {"n": 0, "v": 2, "vs": 3, "vb": 4, "vd": 8}
        return cbor2.dumps([{lab.get(k, k): v for k, v in r.items()} for r in out])
    if cf == 11544:
        import cbor2
        root = {}
        for p, v in recs:
            d = root
            for x in p[:-1]:
                d = d.setdefault(x, {})
            d[p[-1]] = "%d:%d" % v if isinstance(v, tuple) else v
        return cbor2.dumps(root)
    raise ValueError("cannot encode values as content format %s" % cf)


async def serve_forever(port=5683, host="127.0.0.1", plugins=("nosec",), plugin_cfg=None):
    from simclock import RealClock
    s = LwServer(RealClock(), host, port, plugins, plugin_cfg, verbose=True)
    await s.start()
    return s
