"""The harness server's DM client: the requests a test or the console sends to a registered
device (LwM2M 1.1 Core 6.3/6.4: Read, Write, Execute, Discover, Write-Attributes, Create, Delete,
Observe and its cancellation, and the composite operations over FETCH / iPATCH with SenML), and
the device's answers and notifications.

What it does: request() and its wrappers return a future that resolves to a Response (decoded
with harness/payloads.py); a queue-mode client's requests wait until its next Register or
Update (harness/registry.py flushes them) and go out while it listens; a confirmable request is
retransmitted with RFC 7252's exponential back-off from a randomised first timeout; a request
unanswered while the client sleeps, or answered 5.03 (up to 3 times), is queued again for its
next wake; notifications are kept per observation (a duplicated MID counted, not kept).
What it does not do: block-wise transfers (harness/blockserve.py), registration (registry.py).

DmClientMixin is a part of LwServer (harness/server.py): it uses the server's regs, clock,
ack_timeout, max_retransmit, retries_503, log and _next_mid/_next_token.
"""
import asyncio
import random

from harness import coap as C      # the harness's own CoAP codec, not the firmware's
from harness.payloads import (CF_LINK, CF_SENML_CBOR, CF_TEXT, CF_TLV, abs_names, composite_names,
                              decode_payload, encode_values)
from harness.registry import Observation


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


class DmClientMixin:
    """Requests to registered devices; pending and queued ones live in each Registration."""

    # -- inbound: answers to server requests, notifications ------------------------------------
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
            uri = "composite:" + ",".join(abs_names(uri))
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
                            accept=accept, now=now, composite=abs_names(paths))

    def observe_composite(self, ep, paths, cf=CF_SENML_CBOR, accept=None):
        """Observe-Composite: FETCH with Observe 0; notifications go to
        observation(ep, paths).notifications, each the whole composite."""
        return self.request(ep, C.FETCH, "", payload=composite_names(cf, paths), cf=cf,
                            accept=accept, observe=0, composite=abs_names(paths))

    def cancel_composite(self, ep, paths, cf=CF_SENML_CBOR):
        """Cancel Observation-Composite: FETCH with Observe 1 and the same names."""
        return self.request(ep, C.FETCH, "", payload=composite_names(cf, paths), cf=cf,
                            observe=1, composite=abs_names(paths))

    def write_composite(self, ep, values, cf=CF_SENML_CBOR):
        """Write-Composite: iPATCH with SenML records {"/1/0/1": 7200, "/1/0/7": "UQ"} (or a
        list of (path, value)); the device changes all of them or none."""
        if isinstance(values, bytes):           # a payload as given (malformed-input tests)
            return self.request(ep, C.IPATCH, "", payload=values, cf=cf, composite=[])
        items = sorted(values.items()) if isinstance(values, dict) else list(values)
        return self.request(ep, C.IPATCH, "", payload=encode_values(cf, "/", items), cf=cf,
                            composite=abs_names([p for p, _ in items]))
