"""Harness OSCORE plugin against the firmware OSCORE channel (both in CPython, no sockets):
B.2 full exchange, steady state, retransmission, replay and tamper rejection, NAT rebind,
Echo recovery after a server restart, a server-initiated request, unknown kid."""
from coap import codec as C
from errors import SessionUnknown
from fakes import FakeBoard, FakeServer
from harness.oscore_server import OscorePlugin
from oscore import option_of, protect
from oscore.kdf import context
from sec.oscore_channel import OscoreChannel
from state import Store

CLIENT = {"master_secret": "0102030405060708090a0b0c0d0e0f10", "master_salt": "9e7ca92223786340",
          "sender_id": "01", "recipient_id": "00"}
ADDR = ("127.0.0.1", 40000)


class Net:
    """Datagrams from the channel go straight to the plugin; its answers queue here."""

    def __init__(self, plugin, server, addr=ADDR):
        self.plugin = plugin
        self.server = server
        self.addr = addr
        self.sent = []
        self.got = []

    def send(self, d):
        self.sent.append(bytes(d))
        if self.plugin is not None and self.plugin.claims(d):
            self.plugin.datagram_received(bytes(d), self.addr)

    def recv(self, timeout_ms):
        q = self.server.sent
        while q:
            d, a = q.pop(0)
            if a == self.addr:
                self.got.append(d)
                return d
        return None


def _setup(cfg=None, wrap=False):
    srv = FakeServer(t=1000.0)
    plug = OscorePlugin(srv, clients=[CLIENT], wrap=wrap)
    board = FakeBoard(tick_ms=0)
    net = Net(plug, srv)
    st = Store(board)
    ch = OscoreChannel(net, st, board, dict(cfg or {}, kid_context_cbor_wrap=wrap),
                       {"oscore": CLIENT})
    return srv, plug, net, ch


def _update(ch, mid, path="rd/5a3f"):
    ch.send(C.Message(C.CON, C.POST, mid, b"\x7a").set_path(path))
    return ch.recv(100)


def test_b2_full_exchange_then_steady_state_sizes():
    srv, plug, net, ch = _setup()
    assert ch.paths() == ["oscore-b2"]
    ch.connect("oscore-b2")
    assert plug.stats["b2"] == 1 and srv.delivered == []          # request #1 not executed
    assert [len(d) for d in net.sent] == [28] and [len(d) for d in net.got] == [26]
    r = _update(ch, 1)
    assert r.code == C.CHANGED
    assert len(net.sent[1]) == 45 and len(net.got[1]) == 16        # request #2 / response #2
    peer, inner = srv.delivered[-1]
    assert inner.path() == "rd/5a3f" and peer.mode == "oscore" and peer.identity == "01"
    assert plug.clients[b"\x01"].ctx.idc == ch.idc and len(ch.idc) == 16
    assert option_of(C.decode(net.got[1])) == (None, None, None)   # response #2: no kid ctx
    r = _update(ch, 2)
    assert r.code == C.CHANGED and len(net.sent[2]) == 27 and len(net.got[2]) == 16


def test_b2_with_cbor_wrapped_kid_context():
    srv, plug, net, ch = _setup(wrap=True)
    ch.connect("oscore-b2")
    assert _update(ch, 1).code == C.CHANGED
    # +1 byte of CBOR head per kid context; request #1's option (13 B) also needs an extended
    # option length byte: 28 -> 30, 26 -> 27, 45 -> 46
    assert [len(d) for d in net.sent] == [30, 46] and len(net.got[0]) == 27
    o = C.decode(net.sent[1]).get(C.OSCORE)
    assert o[2] == 17 and o[3] == 0x50 and o[4:20] == ch.idc      # s = 17: bstr head + R2||R3


def test_retransmission_replay_and_tamper():
    srv, plug, net, ch = _setup()
    ch.connect("oscore-b2")
    _update(ch, 1)
    m = C.Message(C.CON, C.POST, 7, b"\x7b").set_path("rd/5a3f")
    ch.send(m)
    first = net.got and ch.recv(10)
    n = len(srv.delivered)
    ch.send(m)                                   # CoAP retransmission: same bytes
    assert net.sent[-1] == net.sent[-2]
    again = ch.recv(10)
    assert first.code == again.code == C.CHANGED and len(srv.delivered) == n
    assert net.got[-1] == net.got[-2]             # the plugin answered with the same bytes
    # a replay of the same protected request under another MID is refused
    raw = bytearray(net.sent[-1])
    raw[3] ^= 0x55
    plug.datagram_received(bytes(raw), ADDR)
    assert plug.stats["replay"] == 1 and len(srv.delivered) == n
    # tampered ciphertext of a fresh request: not delivered, unprotected 4.00 back
    net.plugin = None
    ch.send(C.Message(C.CON, C.POST, 8, b"\x7c").set_path("rd/5a3f"))
    net.plugin = plug
    raw = bytearray(net.sent[-1])
    raw[-2] ^= 1
    srv.sent.clear()
    plug.datagram_received(bytes(raw), ADDR)
    assert plug.stats["verify_failed"] == 1 and len(srv.delivered) == n
    assert C.decode(srv.sent[-1][0]).code == C.BAD_REQUEST


def test_address_moves_only_on_newer_authentic_request():
    srv, plug, net, ch = _setup()
    ch.connect("oscore-b2")
    _update(ch, 1)
    peer = plug.clients[b"\x01"].peer
    old = net.sent[-1]
    net.addr = ("127.0.0.1", 40001)               # NAT rebinding
    assert _update(ch, 2).code == C.CHANGED
    assert peer.addr == ("127.0.0.1", 40001)
    plug.datagram_received(old, ("127.0.0.1", 40002))   # an old request from elsewhere
    assert peer.addr == ("127.0.0.1", 40001)


def test_echo_recovery_after_server_restart():
    srv, plug, net, ch = _setup()
    ch.connect("oscore-b2")
    _update(ch, 1)
    plug.restart()
    n = len(srv.delivered)
    r = _update(ch, 2)
    assert r.code == C.UNAUTHORIZED and r.get(C.ECHO) is not None and len(srv.delivered) == n
    piv = option_of(C.decode(net.got[-1]))[0]
    # 4.01 + Echo(8) with the server's own Partial IV: 27 + |PIV| (wire-budget 2.4: 28 for
    # a 1-byte PIV; the restarted server skipped 1024 numbers, B.1.1, so its PIV is 2 bytes)
    assert piv is not None and len(net.got[-1]) == 27 + len(piv)
    r = _update(ch, 3)                             # the caller repeats; the channel adds Echo
    assert r.code == C.CHANGED and len(net.sent[-1]) == 37
    assert srv.delivered[-1][1].get(C.ECHO) == plug.clients[b"\x01"].echo
    assert _update(ch, 4).code == C.CHANGED and len(net.sent[-1]) == 27


def test_server_initiated_request_and_client_response():
    srv, plug, net, ch = _setup()
    ch.connect("oscore-b2")
    _update(ch, 1)
    peer = plug.clients[b"\x01"].peer
    rd = C.Message(C.CON, C.GET, 0x4000, b"\x01\x02").set_path("3/0")
    plug.send_message(peer, rd)
    got = ch.recv(10)
    assert got.code == C.GET and got.path() == "3/0"
    ch.send(C.Message(C.ACK, C.CONTENT, 0x4000, b"\x01\x02", b"device"))
    peer2, resp = srv.delivered[-1]
    assert peer2 is peer and resp.code == C.CONTENT and resp.payload == b"device"


def test_unknown_kid_and_lost_context():
    srv, plug, net, ch = _setup()
    other = context(bytes(16), b"", b"\x09", b"\x00")
    prot, _ = protect(other, C.Message(C.CON, C.GET, 5, b"\x01").set_path("x"), 0)
    plug.datagram_received(C.encode(prot), ADDR)
    assert plug.stats["unknown"] == 1 and C.decode(srv.sent[-1][0]).code == C.UNAUTHORIZED
    # the client keeps a context the server no longer has (server re-provisioned: B.2 state
    # gone) -> 4.00 unprotected -> SessionUnknown
    ch.connect("oscore-b2")
    _update(ch, 1)
    plug.clients[b"\x01"].ctx = plug.clients[b"\x01"].derive(None)
    srv.sent.clear()
    try:
        _update(ch, 2)
        raise AssertionError("context loss not reported")
    except SessionUnknown:
        pass
    ch.forget()
    assert ch.paths() == ["oscore-b2"]
    ch.connect("oscore-b2")
    assert _update(ch, 3).code == C.CHANGED
