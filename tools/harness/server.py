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
decodes what the device sends (the DTLS and OSCORE plugins too: dtls_wire.py, oscore_wire.py).
What it does not do: bootstrap, or any security itself (plugins in tools/harness/*_server.py).

Where each part is (LwServer is this module's plumbing plus two mixins):
  server.py     the socket, plugin dispatch, the event log, answers and their MID dedup
                (EXCHANGE_LIFETIME), inbound dispatch; serve_forever (the console's server)
  plugins.py    NoSecPlugin and the plugin list (DTLS: dtls_server.py, OSCORE: oscore_server.py)
  registry.py   Registration, Observation, RegistryMixin: Register/Update/De-register, Send
  dm_client.py  Response, DmClientMixin: request() and the DM/composite operations, answers,
                notifications, retransmission, queue mode
  payloads.py   CF_* content formats, decode_payload, encode_values, composite_names
Every name importers used from this module is still importable from it.
"""
import asyncio
import json
import random

from harness import coap as C      # the harness's own CoAP codec, not the firmware's
from harness import plugins as _plugins
from harness.dm_client import DmClientMixin, Response, op_name, req_uri  # noqa: F401
from harness.payloads import (CF_CBOR, CF_LINK, CF_OPAQUE, CF_SENML_CBOR, CF_SENML_JSON,  # noqa: F401
                              CF_TEXT, CF_TLV, composite_names, decode_payload, encode_values,
                              resolve_senml)
from harness.plugins import NoSecPeer, NoSecPlugin  # noqa: F401
from harness.registry import Observation, Registration, RegistryMixin  # noqa: F401

EXCHANGE_LIFETIME = 247.0   # s, RFC 7252 4.8.2 (defaults): how long a MID is remembered


class LwServer(RegistryMixin, DmClientMixin, asyncio.DatagramProtocol):
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
        self.plugins.extend(_plugins.make(self, self._plugin_names, self.plugin_cfg))
        self.plugins.sort(key=lambda p: _plugins.ORDER.get(p.name, 9))

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


async def serve_forever(port=5683, host="127.0.0.1", plugins=("nosec",), plugin_cfg=None):
    from simclock import RealClock
    s = LwServer(RealClock(), host, port, plugins, plugin_cfg, verbose=True)
    await s.start()
    return s
