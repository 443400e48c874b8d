"""The security-channel contract (firmware/sec/base.py, docs/interfaces.md), one suite that every
channel passes: NoSec, DTLS, OSCORE and DTLS run by an nRF9160 modem (sec/modem_dtls.py).

Offline: each channel runs over a fake network that stays silent or delivers garbage, on a fake
board (RTC memory, flash, a clock that moves with every look). What goes over the wire with a
real server is the e2e tests' work (test_e2e_nosec/dtls/oscore/nrf9160); this suite checks what
the wake cycle relies on without probing: the members exist, a path set up says which path it
took, a failed set-up raises a typed outcome, garbage is dropped and counted, what save() gives
restore() takes, and forget/forget_path/settle never raise.
"""
import pytest

from coap import codec as C
from errors import LwError
from fakes import Counter, FakeBoard
from net.slm import _SECOPEN
from state import Store

PSK = {"psk_identity": "dev", "psk_key": "00112233445566778899aabbccddeeff"}
OSC = {"oscore": {"master_secret": "01" * 16, "master_salt": "9e7ca92223786340",
                  "sender_id": "01", "recipient_id": "02"}}


def Board():
    # the clock moves 50 ms with every look: no loop waits for real
    return FakeBoard(rand=Counter(), tick_ms=50, epoch=1798761600)


class Net:
    """A datagram socket to one server that answers nothing, or what `inbox` holds."""

    def __init__(self, board):
        self.board = board
        self.inbox = []
        self.sent = []
        self.up = self.down = self.dg_up = self.dg_down = 0

    def send(self, b):
        self.sent.append(bytes(b))
        self.up += len(b)
        self.dg_up += 1

    def recv(self, timeout_ms):
        if self.inbox:
            d = self.inbox.pop(0)
            self.down += len(d)
            self.dg_down += 1
            return d
        self.board.ms += max(int(timeout_ms), 1)
        return None

    def close(self):
        pass


class ModemNet(Net):
    """net/slm.py as sec/modem_dtls.py sees it: AT commands, a secure socket handle."""

    A = 0
    host = "127.0.0.1"
    port = 5684
    secure = (16,)
    sec = (16,)         # the PSK credentials in the modem (sec_tag), apart from the socket in use

    def __init__(self, board, alive=True):
        Net.__init__(self, board)
        self.h = 3 if alive else -1
        self.flags = _SECOPEN if alive else 0
        self.events = []
        self.armed = 0
        self.cmds = []

    def cmd(self, at, timeout=0, soft=0):
        self.cmds.append(at)
        if at == "AT#XSSOCKET?":
            return [b"%d,2,0,16,0" % self.h] if self.h >= 0 else []
        if at.startswith("AT#XSSOCKET="):
            return [b"4,2,0"]
        if at.startswith("AT#XCONNECT"):
            return None            # the modem's handshake fails: no server
        return []

    def _save(self):
        pass


def _nosec(board, store, net):
    from sec.nosec import NoSecChannel
    return NoSecChannel(net, store, board, {}, {})


def _dtls(board, store, net):
    from sec.dtls_channel import DtlsChannel
    return DtlsChannel(net, store, board, {"retransmit_ms": 100, "max_tries": 1, "cid": "rfc9146"}, PSK)


def _oscore(board, store, net):
    from sec.oscore_channel import OscoreChannel
    return OscoreChannel(net, store, board, {"b2_timeout_ms": 100, "b2_tries": 1}, OSC)


def _oscore_static(board, store, net):
    from sec.oscore_channel import OscoreChannel     # a static context: no B.2, keys derived here
    return OscoreChannel(net, store, board, {"rederive": False}, OSC)


def _modem(board, store, net):
    from sec.modem_dtls import ModemDtlsChannel
    return ModemDtlsChannel(net, store, board, {"handshake_ms": 100}, {})


# (name, factory, net class, a path set up without the network, a path that needs the server)
CHANNELS = [
    ("nosec", _nosec, Net, "nosec", None),
    ("dtls", _dtls, Net, None, "full-handshake"),
    ("oscore", _oscore, Net, None, "oscore-b2"),
    ("oscore-static", _oscore_static, Net, "oscore", None),
    ("modem-dtls", _modem, ModemNet, "modem-cid", "modem-full-handshake"),
]
IDS = [c[0] for c in CHANNELS]


def _make(spec):
    board = Board()
    store = Store(board)
    store.load()
    net = spec[2](board)
    return spec[1](board, store, net), net, board, store


@pytest.fixture(params=CHANNELS, ids=IDS)
def spec(request):
    return request.param


def test_every_member_of_the_contract_is_there(spec):
    ch = _make(spec)[0]
    for m in ("paths", "connect", "send", "recv", "save", "restore", "forget", "forget_path",
              "estimate", "settle"):
        assert callable(getattr(ch, m)), m
    assert isinstance(ch.kind, str) and ch.kind
    assert ch.path_taken is None
    assert ch.dropped == 0 and ch.last_error is None


def test_paths_and_their_estimates(spec):
    ch = _make(spec)[0]
    ps = ch.paths()
    assert ps and all(isinstance(p, str) for p in ps)
    for p in ps:
        e = ch.estimate(p)
        assert len(e) == 4 and all(isinstance(x, int) and x >= 0 for x in e), (p, e)
    assert ch.estimate(ps[-1])[0] >= ch.estimate(ps[0])[0]     # cheapest first


def test_connect_says_which_path_it_took(spec):
    if spec[3] is None:
        pytest.skip("every path of this channel needs the server (the e2e tests)")
    ch, net, _b, _s = _make(spec)
    assert spec[3] in ch.paths()
    ch.connect(spec[3])
    assert ch.path_taken == spec[3]


def test_a_failed_set_up_is_a_typed_outcome(spec):
    if spec[4] is None:
        pytest.skip("no set-up: nothing can fail before the first request")
    ch, net, _b, _s = _make(spec)
    with pytest.raises(LwError) as e:
        ch.connect(spec[4])
    assert e.value.outcome
    ch.forget_path(spec[4])         # what the cycle does next, then falls back


def test_garbage_is_dropped_and_counted(spec):
    ch, net, _b, _s = _make(spec)
    if spec[3]:
        ch.connect(spec[3])
    net.inbox.append(b"\xff\x00garbage")
    assert ch.recv(500) is None
    assert ch.dropped >= 1 and ch.last_error is not None


def test_silence_is_none(spec):
    ch, net, _b, _s = _make(spec)
    if spec[3]:
        ch.connect(spec[3])
    assert ch.recv(300) is None


def test_send_puts_one_datagram_on_the_net(spec):
    if spec[3] is None:
        pytest.skip("sending needs a session set up with the server (the e2e tests)")
    ch, net, _b, _s = _make(spec)
    ch.connect(spec[3])
    ch.send(C.Message(C.CON, C.POST, 1, b"\x01"))
    assert len(net.sent) == 1 and net.up > 0


def test_save_restore_forget_settle(spec):
    ch, net, board, store = _make(spec)
    s = ch.save()
    assert s is None or isinstance(s, (bytes, bytearray))
    assert ch.restore(None) in (True, False)
    assert ch.restore(s) in (True, False)
    for p in ch.paths():
        ch.forget_path(p)
    ch.forget()
    ch.settle()
    s = ch.save()
    if s is not None:
        store.put("sec", s)        # the cycle writes the section; it fits the store
        store.commit()
