"""The harness server's duplicate detection (issue #11): a CON request's MID is remembered for
EXCHANGE_LIFETIME (247 s, RFC 7252 4.8.2) and then forgotten, and Send records are taken once
per (endpoint, name, time) although Send is at-least-once on the wire."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from harness.server import LwServer as Server, EXCHANGE_LIFETIME  # noqa: E402
from coap import codec as C  # noqa: E402
import cbor2  # noqa: E402


class Clock:
    def __init__(self):
        self.t = 1798761600.0

    def now(self):
        return self.t


class Plugin:
    name = "nosec"

    def __init__(self):
        self.out = []

    def send_message(self, peer, msg):
        self.out.append(msg)


class Peer:
    mode = "nosec"
    identity = "127.0.0.1:5000"
    addr = ("127.0.0.1", 5000)

    def __init__(self):
        self.plugin = Plugin()


def _req(mid, code, path, payload=b"", cf=None, query=()):
    m = C.Message(C.CON, code, mid, b"\x01", payload)
    m.set_path(path)
    for q in query:
        m.add(C.URI_QUERY, q)
    if cf is not None:
        m.add(C.CONTENT_FORMAT, cf)
    return m


def test_mid_forgotten_after_exchange_lifetime_and_send_records_once():
    clock = Clock()
    srv = Server(clock)
    peer = Peer()
    srv.deliver(peer, _req(7, C.POST, "rd", b"</3303/0>", 40, ["ep=dev1", "lt=86400"]))
    assert peer.plugin.out[-1].code == C.CREATED
    loc = "/".join(x.decode() for x in peer.plugin.out[-1].get_all(C.LOCATION_PATH))
    t0 = int(clock.t)
    rec = cbor2.dumps([{-2: "/3303/0/", 0: "5700", 2: 21.5, -3: t0}])
    srv.deliver(peer, _req(100, C.POST, "dp", rec, 112))
    assert peer.plugin.out[-1].code == C.CHANGED
    # the same CON again within 247 s: the stored answer, not a second Send
    clock.t += 30
    srv.deliver(peer, _req(100, C.POST, "dp", rec, 112))
    assert sum(1 for e in srv.events if e["ev"] == "dup") == 1
    # the device's ACK was lost, it sends the batch again as a new exchange: one sample kept
    srv.deliver(peer, _req(101, C.POST, "dp", rec, 112))
    reg = srv.regs["dev1"]
    assert len(reg.sends) == 2 and len(reg.samples) == 1
    assert [e for e in srv.events if e["ev"] == "send"][-1]["dup"] == 1
    # after EXCHANGE_LIFETIME the MID is forgotten: an Update reusing MID 100 is processed
    clock.t += EXCHANGE_LIFETIME + 1
    n_up = reg.updates
    srv.deliver(peer, _req(100, C.POST, loc))
    assert peer.plugin.out[-1].code == C.CHANGED and srv.regs["dev1"].updates == n_up + 1
    assert sum(1 for e in srv.events if e["ev"] == "dup") == 1
    # a new sample (other time) is kept
    rec2 = cbor2.dumps([{-2: "/3303/0/", 0: "5700", 2: 21.7, -3: t0 + 3600}])
    srv.deliver(peer, _req(102, C.POST, "dp", rec2, 112))
    assert [s[2] for s in srv.regs["dev1"].samples] == [21.5, 21.7]
