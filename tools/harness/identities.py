"""Several identities of one endpoint, one registration (the harness server's knob
`bind_identities`; issue 13, docs/planner.md "Several mechanisms").

A device may reach the server with more than one security mechanism: its DTLS PSK identity
("Client_identity") and its OSCORE Sender ID (kid "01") are two identities of the same
endpoint. Without binding (the default, and what a server that keeps one security record per
endpoint does), a registration answers only the identity that made it: an Update or a Send
from the other one is 4.03 Forbidden, and switching mechanism costs the device a Register.
With binding, the registration store maps every identity bound to an endpoint to that
endpoint's registration: an Update from any of them keeps the registration (same location,
queued requests, observations), and the registration follows the identity that spoke last
(its mechanism carries the server's requests).

    Identities(spec)   spec: None/False (no binding); True (an identity that once registered
                       an endpoint, by Register with ep=, is bound to it: learned); or a dict
                       {endpoint: [identity, ...]} (provisioned, as a server's security store)
    same(reg, peer)    may `peer` act for registration `reg`? (logs 'bound' when an identity
                       other than the registration's takes it over)
    learn(ep, peer)    a Register of `ep` by `peer`
    endpoint(peer)     the endpoint `peer` is bound to, or None (a Register without ep=)

harness/registry.py calls these at three points (the identity check of /rd/<loc>, the Send
lookup, Register); harness/server.py builds it (LwServer(bind_identities=...)).
"""


class Identities:
    def __init__(self, spec=None):
        self.learning = spec is True
        self.ep_of = {}              # identity -> endpoint
        if isinstance(spec, dict):
            for ep, ids in spec.items():
                for i in ids:
                    self.ep_of[i] = ep
        self.on = bool(spec)
        self.log = None              # server.log, set by the server

    def same(self, reg, peer):
        if reg.peer.identity == peer.identity:
            return True
        if not self.on or self.ep_of.get(peer.identity) != reg.ep:
            return False
        if self.log:
            self.log("bound", ep=reg.ep, old=reg.peer.identity, new=peer.identity,
                     old_mode=reg.peer.mode, mode=peer.mode)
        return True

    def learn(self, ep, peer):
        if self.learning and peer.mode != "nosec":
            self.ep_of[peer.identity] = ep

    def endpoint(self, peer):
        return self.ep_of.get(peer.identity) if self.on else None
