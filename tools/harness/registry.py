"""The harness server's registration store (LwM2M 1.1 Core 6.2, Register / Update /
De-register) and Send (POST /dp): what each endpoint registered, from where, until when.

What it does: a Registration per endpoint, found by its location (rd/xxxx); it follows the
address of the latest authentic Register or Update (a NAT rebinding is logged); with a security
plugin only the registering identity may Update or De-register (4.03 otherwise), or one bound
to the same endpoint (the server's bind_identities, harness/identities.py); lifetimes
expire on the scenario's clock; Send records are decoded (harness/payloads.py) and kept once per
(name, time) although Send is at-least-once on the wire; a Register or Update flushes the
requests queued for a queue-mode client (harness/dm_client.py).
What it does not do: server-initiated requests and their answers (harness/dm_client.py),
datagrams, retransmission of answers and security (harness/server.py, harness/plugins.py).

RegistryMixin is a part of LwServer (harness/server.py): it uses the server's clock, rng,
loc_len, files, log, reply, _flush_queue and ids (harness/identities.py).
"""
from harness import coap as C      # the harness's own CoAP codec, not the firmware's
from harness.payloads import CF_LINK, decode_payload


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


class RegistryMixin:
    """regs (ep -> Registration) and by_loc (location -> ep), made by LwServer.__init__."""

    # -- inbound requests: the registration interface and Send ----------------------------------
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
            if peer.mode != "nosec" and not self.ids.same(reg, peer):   # (harness/identities.py)
                self.log("forbidden", loc=loc, ident=peer.identity)
                return self.reply(peer, m, C.FORBIDDEN)
            if m.code == C.POST:
                return self._update(peer, m, reg)
            if m.code == C.DELETE:
                self._drop(reg, "deregistered")
                return self.reply(peer, m, C.DELETED)
            return self.reply(peer, m, C.METHOD_NOT_ALLOWED)
        if path == [b"dp"] and m.code == C.POST:
            return self._send_data(peer, m)
        if m.code == C.GET and m.path() in self.files:    # firmware packages, block-wise
            from harness import blockserve
            return blockserve.serve(self, peer, m, self.files[m.path()])
        return self.reply(peer, m, C.NOT_FOUND)

    def _send_data(self, peer, m):
        """Send (POST /dp): the records kept once per (name, time) in the registration."""
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
