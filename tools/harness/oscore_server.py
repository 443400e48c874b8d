"""OSCORE plugin of the harness LwM2M server (RFC 8613), independent of the firmware's OSCORE code.

What it does: claims CoAP datagrams that carry an OSCORE option (9); finds the client by kid
(and kid context); verifies requests with a 32-entry replay window; hands the inner CoAP
message to server.deliver(peer, msg) with peer.mode = 'oscore', peer.identity = kid hex, and
moves peer.addr only after an authentic request newer than any seen (NAT rebinding). It
protects responses with the request nonce (notifications with their own Partial IV) and
server-initiated requests with its own Sender Sequence Number, and verifies their responses.
App. B.2 server side (steps 2 and 4): a request whose kid context is unknown is request #1:
it is verified with ID Context = kid context, answered with a 4.01 protected with R2||ID1 and
kid context R2 (no Partial IV: the request nonce under the new context), R2 cached; a later
request whose kid context starts with a cached R2 derives the context R2||R3, which replaces
the old one once it verifies. App. B.1.2: restart() drops every replay window; the first
request then gets a protected 4.01 with an Echo option and the server's own Partial IV, and
the request that echoes it back sets the new lower edge of the window.
A byte-identical retransmission of a request is answered with the same protected bytes.
The outer CoAP message is read and written with the harness's own codec (harness/coap.py);
key derivation, protect/unprotect and the replay window are the harness's own too
(harness/oscore_wire.py, written from RFC 8613; nothing from firmware/ is imported), checked
against the RFC 8613 Appendix C vectors (host_tests/unit/test_harness_independent.py) and an
aiocoap client (host_tests/interop/test_harness_peers.py).
What it does not do: LwM2M (server.py does), Block-wise, group OSCORE.

Config (LwServer plugin_cfg["oscore"]): clients = [ {master_secret, master_salt, sender_id,
recipient_id, id_context?} ] in the *client's* view (the device secrets' "oscore" section; the
server's Sender ID is the client's Recipient ID), or secrets = one such dict; wrap = True for a
CBOR-bstr kid context (Californium style); r2_ttl (s, default 300) for cached R2 values;
restart_loses_contexts = True: restart() also drops the contexts B.2 derived.
Keys are never logged.
"""
import os

from harness import coap as C      # outer CoAP: the harness's own codec
from harness import oscore_wire as O
from harness.oscore_wire import OscoreError, option_of, protect, unprotect

_R_LEN = 8


def _unprotect_request(ctx, m, opt, replay=True):
    inner, req_id, piv = unprotect(ctx, m, opt, None, replay)
    return inner, req_id, int.from_bytes(piv, "big")


class OscorePeer:
    mode = "oscore"

    def __init__(self, plugin, client, addr):
        self.plugin = plugin
        self.client = client
        self.addr = addr
        self.identity = client.kid.hex()
        self.top = -1               # highest request PIV accepted (address updates)
        self.reqs = {}              # token -> req_id of requests we answer
        self.out = {}               # token -> req_id of our requests (server-initiated)
        self.cache = {}             # mid -> (request bytes, response bytes)


class Client:
    """One provisioned client: the immutable inputs and the current server-side context."""

    def __init__(self, d, wrap):
        h = bytes.fromhex
        self.ms = h(d["master_secret"])
        self.salt = h(d.get("master_salt") or "")
        self.kid = h(d["sender_id"])          # client's Sender ID = our Recipient ID
        self.sid = h(d["recipient_id"])       # client's Recipient ID = our Sender ID
        idc = d.get("id_context")
        self.idc0 = h(idc) if idc else None
        self.wrap = wrap
        self.ctx = self.derive(self.idc0)     # the provisioned context (no B.2 needed)
        self.ssn = 0                           # our Sender Sequence Number
        self.pending = {}                      # R2 -> time issued (B.2 step 2)
        self.lost = False                      # replay window lost (B.1.2)
        self.echo = None
        self.peer = None

    def derive(self, idc):
        return O.Context(self.ms, self.salt, self.sid, self.kid, idc)

    def take_ssn(self):
        v = self.ssn
        self.ssn += 1
        return v


class OscorePlugin:
    name = "oscore"

    def __init__(self, server, clients=None, secrets=None, wrap=False, r2_ttl=300,
                 restart_loses_contexts=False, **_cfg):
        self.server = server
        self.restart_loses_contexts = restart_loses_contexts
        self.wrap = bool(wrap)
        self.r2_ttl = r2_ttl
        self.clients = {}
        for d in list(clients or []) + ([secrets] if secrets else []):
            c = Client(d, self.wrap)
            self.clients[c.kid] = c
        self.stats = {"b2": 0, "echo": 0, "replay": 0, "verify_failed": 0, "unknown": 0}

    # -- seam -----------------------------------------------------------------------------
    def claims(self, data):
        if len(data) < 4 or data[0] >> 6 != 1:
            return False
        try:
            return C.decode(data).get(C.OSCORE) is not None
        except C.CoapError:
            return False

    def restart(self, lose_contexts=None):
        """Simulated server reboot (App. B.1.2): replay windows and cached R2 are gone; our
        SSN resumes above what was used (B.1.1 with K + F). lose_contexts (default: the
        plugin's `restart_loses_contexts` config): the contexts derived by B.2 are gone too,
        only the provisioned ones (id_context in the secrets) survive; a client then gets an
        unprotected 4.01 and must run B.2 again."""
        if lose_contexts is None:
            lose_contexts = self.restart_loses_contexts
        for c in self.clients.values():
            if lose_contexts and (c.ctx is None or c.ctx.idc != c.idc0):
                c.ctx = c.derive(c.idc0) if c.idc0 is not None else None
            if c.ctx is not None:
                c.ctx.window.lost = True    # window lost: refuse until Echo (B.1.2)
            c.lost = True
            c.echo = os.urandom(_R_LEN)
            c.pending = {}
            c.ssn += 1024
            if c.peer is not None:
                c.peer.cache = {}
                c.peer.reqs = {}
        self.server.log("oscore-restart")

    def datagram_received(self, data, addr):
        try:
            m = C.decode(data)
            opt = option_of(m)
        except (C.CoapError, OscoreError) as e:
            self.server.log("drop", why="OSCORE: %s" % e, src=addr)
            return
        if m.is_request():
            self._request(m, opt, data, addr)
        elif m.is_response():
            self._response(m, opt, addr)
        else:
            self.server.log("drop", why="OSCORE option on an empty message", src=addr)

    def send_message(self, peer, msg):
        c = peer.client
        msg = C.from_any(msg)
        if msg.code == C.EMPTY:
            self.server.sendto(C.encode(msg), peer.addr)
            return
        if msg.is_request():
            prot, req_id = protect(c.ctx, msg, c.take_ssn())
            peer.out[msg.token] = req_id
            if len(peer.out) > 64:       # requests outstanding at once (a queue-mode burst: 50)
                peer.out.pop(next(iter(peer.out)))
            data = C.encode(prot)
        else:
            req_id = peer.reqs.get(msg.token)
            if req_id is None:
                self.server.log("drop", why="OSCORE: response to no verified request", ident=peer.identity)
                return
            ssn = c.take_ssn() if msg.get(C.OBSERVE) is not None else None   # notifications
            data = C.encode(protect(c.ctx, msg, ssn, req_id)[0])
            if msg.mtype == C.ACK:
                ent = peer.cache.get(msg.mid)
                if ent:
                    peer.cache[msg.mid] = (ent[0], data)
        self.server.sendto(data, peer.addr)

    # -- requests -------------------------------------------------------------------------
    def _refuse(self, m, code, addr, why):
        self.server.log("drop", why="OSCORE: " + why, src=addr)
        if m.mtype == C.CON:
            self.server.sendto(C.encode(C.Message(C.ACK, code, m.mid, m.token)), addr)

    def _request(self, m, opt, data, addr):
        piv, kc, kid = opt
        c = self.clients.get(kid) if kid is not None else None
        if c is None:
            self.stats["unknown"] += 1
            return self._refuse(m, C.UNAUTHORIZED, addr, "no context for kid %s" %
                                (kid.hex() if kid is not None else "-"))
        peer = c.peer
        if peer is not None and m.mtype == C.CON:
            ent = peer.cache.get(m.mid)
            if ent and ent[0] == data:
                if ent[1] is not None:
                    self.server.sendto(ent[1], addr)     # retransmission: same answer
                self.server.log("dup", mid=m.mid, ident=peer.identity)
                return
        if kc is not None and c.wrap:
            kc = option_of(m, True)[1]
        try:
            if kc is not None and (c.ctx is None or kc != c.ctx.idc):
                r2 = kc[:_R_LEN]
                t = c.pending.get(r2)
                if t is not None and len(kc) > _R_LEN and self.server.clock.now() - t <= self.r2_ttl:
                    return self._b2_request2(c, m, opt, kc, data, addr)
                return self._b2_request1(c, m, opt, kc, addr)
            if c.ctx is None:
                return self._refuse(m, C.UNAUTHORIZED, addr, "no context")
            if c.lost:
                return self._echo_check(c, m, opt, data, addr)
            inner, req_id, seq = _unprotect_request(c.ctx, m, opt)
        except OscoreError as e:
            if str(e) == "replay":
                self.stats["replay"] += 1
                self.server.log("drop", why="OSCORE replay", src=addr, ident=kid.hex())
                return
            if str(e) == "verify":
                self.stats["verify_failed"] += 1
                return self._refuse(m, C.BAD_REQUEST, addr, "decryption failed (kid %s)" % kid.hex())
            return self._refuse(m, C.BAD_OPTION, addr, str(e))
        self._accept(c, m, inner, req_id, seq, data, addr)

    def _accept(self, c, m, inner, req_id, seq, data, addr):
        peer = c.peer
        if peer is None:
            peer = c.peer = OscorePeer(self, c, addr)
        if seq > peer.top:
            if peer.addr != addr:
                self.server.log("rebind", ident=peer.identity, old="%s:%d" % peer.addr, new="%s:%d" % addr)
            peer.addr = addr
            peer.top = seq
        peer.reqs[m.token] = req_id
        if len(peer.reqs) > 16:
            peer.reqs.pop(next(iter(peer.reqs)))
        if m.mtype == C.CON:
            peer.cache[m.mid] = (data, None)
            if len(peer.cache) > 32:
                peer.cache.pop(next(iter(peer.cache)))
        self.server.deliver(peer, inner)

    def _b2_request1(self, c, m, opt, kc, addr):
        # step 2: verify with ID1 = kid context; answer 4.01 protected with R2||ID1, kid ctx R2
        c1 = c.derive(kc)
        _inner, req_id, _seq = _unprotect_request(c1, m, opt, replay=False)
        r2 = os.urandom(_R_LEN)
        c.pending[r2] = self.server.clock.now()
        if len(c.pending) > 8:
            c.pending.pop(next(iter(c.pending)))
        c2 = c.derive(r2 + kc)
        r = C.Message(C.ACK if m.mtype == C.CON else C.NON, C.UNAUTHORIZED, m.mid, m.token)
        data = C.encode(protect(c2, r, None, req_id, r2, c.wrap)[0])
        self.stats["b2"] += 1
        self.server.log("oscore-b2", step="response#1", ident=c.kid.hex(), size=len(data))
        self.server.sendto(data, addr)

    def _b2_request2(self, c, m, opt, kc, data, addr):
        # step 4: kid context R2||R3 with an R2 we issued: a new context, fresh replay window
        c3 = c.derive(kc)
        inner, req_id, seq = _unprotect_request(c3, m, opt)
        del c.pending[kc[:_R_LEN]]
        c.ctx = c3
        c.ssn = 0
        c.lost = False
        c.pending = {}
        if c.peer is not None:
            c.peer.top = -1
            c.peer.reqs = {}
            c.peer.out = {}
        self.server.log("oscore-b2", step="request#2", ident=c.kid.hex())
        self._accept(c, m, inner, req_id, seq, data, addr)

    def _echo_check(self, c, m, opt, data, addr):
        # B.1.2: window lost; verify without it; fresh only if the request echoes our value
        inner, req_id, seq = _unprotect_request(c.ctx, m, opt, replay=False)
        if inner.get(C.ECHO) == c.echo:
            c.ctx.window.restart_at(seq)       # the new lower edge of the window
            c.lost = False
            self.server.log("oscore-echo", step="verified", ident=c.kid.hex())
            return self._accept(c, m, inner, req_id, seq, data, addr)
        r = C.Message(C.ACK if m.mtype == C.CON else C.NON, C.UNAUTHORIZED, m.mid, m.token)
        r.add(C.ECHO, c.echo)
        out = C.encode(protect(c.ctx, r, c.take_ssn(), req_id)[0])
        self.stats["echo"] += 1
        self.server.log("oscore-echo", step="4.01+Echo", ident=c.kid.hex(), size=len(out))
        self.server.sendto(out, addr)

    # -- responses to our requests --------------------------------------------------------
    def _response(self, m, opt, addr):
        for c in self.clients.values():
            p = c.peer
            if p is None or m.token not in p.out:
                continue
            try:
                inner = unprotect(c.ctx, m, opt, p.out[m.token])[0]
            except OscoreError as e:
                self.server.log("drop", why="OSCORE response: %s" % e, src=addr)
                return
            if m.get(C.OBSERVE) is None:
                p.out.pop(m.token, None)
            self.server.deliver(p, inner)
            return
        self.server.log("drop", why="OSCORE response to no request of ours", src=addr)
