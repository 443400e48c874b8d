"""OSCORE channel cases: B.2 from scratch, steady-state sizes, SSN persistence across deep sleep
and power cuts, retransmission by MID, a static context, Echo recovery (B.1.2), server requests
answered with the request nonce, duplicates, context loss (unprotected 4.01), tampered input.

Not collected by itself: host_tests/unit/test_oscore_channel.py runs every case_* under CPython and,
in one micropython process, with the firmware from a ROMFS image within the 64 KiB budget
(compiled from source, channel + state + codec + oscore exceed what mp_run.py can hold).
"""
import gc

from coap import codec as C
from errors import ConfigError, ProtocolError, SessionUnknown
from fakes import Counter, FakeBoard
from oscore import option_of, protect, unprotect
from oscore.kdf import context as Context
from sec.oscore_channel import OscoreChannel
from state import Store

MS = b"\x01" * 16
SALT = b"\x9e\x7c\xa9\x22\x23\x78\x63\x40"
SECRETS = {"oscore": {"master_secret": "01" * 16, "master_salt": "9e7ca92223786340",
                      "sender_id": "01", "recipient_id": "02"}}


def Board():
    return FakeBoard(rand=Counter(), tick_ms=0)


class Server:
    """A minimal OSCORE server (B.2 responder, replay window, Echo after restart)."""

    def __init__(self):
        self.ctx = None
        self.pending = {}       # R2 -> issued
        self.lost = False       # replay window lost (restart)
        self.echo = b"\xEC" * 8
        self.ssn = 0
        self.sizes = []
        self.last = None        # the last inner request verified

    def handle(self, d):
        self.sizes.append(len(d))
        m = C.decode(d)
        piv, kc, kid = option_of(m)
        if kc is not None and self.ctx is not None and kc == self.ctx.idc:
            kc = None
        if kc is not None and kc[:8] in self.pending:          # request #2
            self.ctx = Context(MS, SALT, b"\x02", kid, kc)
            del self.pending[kc[:8]]
        elif kc is not None:                                     # request #1
            c1 = Context(MS, SALT, b"\x02", kid, kc)
            inner, rid, _ = unprotect(c1, m)
            r2 = bytes(b"\xA2" * 7 + bytes((len(self.pending),)))
            self.pending[r2] = True
            c2 = Context(MS, SALT, b"\x02", kid, r2 + kc)
            r = C.Message(C.ACK, C.UNAUTHORIZED, m.mid, m.token)
            return [C.encode(protect(c2, r, None, rid, r2)[0])]
        if self.ctx is None:
            return [C.encode(C.Message(C.ACK, C.UNAUTHORIZED, m.mid, m.token))]
        inner, rid, piv = unprotect(self.ctx, m, None, None, not self.lost)
        self.last = inner
        if self.lost:
            if inner.get(C.ECHO) != self.echo:
                r = C.Message(C.ACK, C.UNAUTHORIZED, m.mid, m.token).add(C.ECHO, self.echo)
                self.ssn += 1
                return [C.encode(protect(self.ctx, r, self.ssn, rid)[0])]
            self.ctx.top, self.ctx.bits = int.from_bytes(piv, "big"), 1
            self.lost = False
        r = C.Message(C.ACK, C.CHANGED, m.mid, m.token)
        return [C.encode(protect(self.ctx, r, None, rid)[0])]


class Net:
    def __init__(self, server):
        self.server = server
        self.q = []
        self.sent = []
        self.rx = []

    def send(self, d):
        self.sent.append(bytes(d))
        if self.server:
            r = self.server.handle(d)
            self.q.extend(r)
            self.rx.extend(r)

    def recv(self, timeout_ms):
        return self.q.pop(0) if self.q else None


def _chan(board, net, cfg=None):
    s = Store(board)
    s.load()
    ch = OscoreChannel(net, s, board, cfg or {}, SECRETS)
    ch.restore(s.get("sec"))
    return ch


def _update(ch, mid, echo=False):
    m = C.Message(C.CON, C.POST, mid, b"\x7a").set_path("rd/5a3f")
    ch.send(m)
    return ch.recv(1000)


def _sleep(ch):
    ch.settle()
    ch.store.put("sec", ch.save())        # what wake/cycle.py does at the end of a wake
    ch.store.commit()


def case_b2_then_steady_state_sizes_and_heap():
    b = Board()
    srv = Server()
    net = Net(srv)
    ch = _chan(b, net)
    assert ch.paths() == ["oscore-b2"]
    ch.connect("oscore-b2")
    assert srv.sizes == [28]                       # request #1: empty POST, kid ctx R1
    assert len(net.q) == 0 and ch.idc[:8] in srv.pending
    r = _update(ch, 0x100)
    assert r.code == C.CHANGED
    sz = [len(x) for x in net.sent]
    # request #1 28 B; request #2 (Update with kid context R2||R3) 45 B
    assert sz == [28, 45], sz
    assert option_of(C.decode(net.sent[1]))[1] == ch.idc and srv.ctx.idc == ch.idc
    r = _update(ch, 0x101)
    assert r.code == C.CHANGED and len(net.sent[2]) == 27       # steady state, no kid context
    assert option_of(C.decode(net.sent[2]))[1] is None
    assert len(net.rx[-1]) == 16                                 # 2.04, empty OSCORE option
    # state stays bounded: caches by MID/token keep a few entries, nothing grows per exchange
    grow = []
    for k in range(2):
        for i in range(20):
            assert _update(ch, 0x200 + 20 * k + i).code == C.CHANGED
        del net.sent[:]
        del net.rx[:]
        gc.collect()
        if hasattr(gc, "mem_alloc"):
            grow.append(gc.mem_alloc())
    if grow:
        print("heap in use after 20 / 40 more exchanges:", grow)
        assert grow[1] - grow[0] < 512
    assert len(ch.out) <= 4 and len(ch.q) <= 8
    assert ch.paths()[0] == "oscore"


def case_ssn_persists_across_deep_sleep_and_power_cut():
    b = Board()
    srv = Server()
    ch = _chan(b, Net(srv))
    ch.connect("oscore-b2")
    used = []
    for wake in range(12):
        assert ch.paths()[0] == "oscore"
        ch.connect("oscore")
        for i in range(3):
            assert _update(ch, wake * 10 + i).code == C.CHANGED
            used.append(ch.seq.peek() - 1)
        if wake % 3 == 2:
            b.rtc = b""                              # power cut: RTC memory lost
        else:
            _sleep(ch)                               # deep sleep
        ch = _chan(b, Net(srv))
    assert len(set(used)) == len(used) == 36
    assert used == sorted(used)
    # flash written rarely: B.2 (idc + seq start) plus a block bump now and then
    assert b.flash.get("osc")[0] == 1


def case_retransmission_resends_same_bytes():
    b = Board()
    srv = Server()
    net = Net(srv)
    ch = _chan(b, net)
    ch.connect("oscore-b2")
    net.server = None                                # server silent: nothing answers
    m = C.Message(C.CON, C.POST, 0x200, b"\x01").set_path("rd/5a3f")
    ch.send(m)
    n = ch.seq.peek()
    ch.send(m)
    ch.send(m)
    assert net.sent[-1] == net.sent[-2] == net.sent[-3] and ch.seq.peek() == n


def case_static_context_without_b2():
    b = Board()
    ch = _chan(b, Net(None), {"rederive": False})
    assert ch.paths() == ["oscore"]
    ch.connect("oscore")
    srv = Context(MS, SALT, b"\x02", b"\x01")
    ch.send(C.Message(C.CON, C.GET, 1, b"\x01").set_path("x"))
    inner, _rid, piv = unprotect(srv, C.decode(ch.net.sent[-1]))
    assert inner.path() == "x" and piv == b"\x00"
    try:
        OscoreChannel(Net(None), Store(b), b, {}, {"oscore": {"master_secret": "zz"}})
        raise AssertionError("bad secrets accepted")
    except ConfigError:
        pass


def case_echo_recovery_after_server_restart():
    b = Board()
    srv = Server()
    net = Net(srv)
    ch = _chan(b, net)
    ch.connect("oscore-b2")
    assert _update(ch, 1).code == C.CHANGED
    srv.lost = True                                  # server restarted: replay window gone
    r = _update(ch, 2)
    assert r.code == C.UNAUTHORIZED and r.get(C.ECHO) == srv.echo and ch.echo == srv.echo
    assert option_of(C.decode(net.rx[-1]))[0] == b"\x01"       # the server's own Partial IV
    r = _update(ch, 3)                               # the caller repeats: Echo added
    assert r.code == C.CHANGED and srv.last.get(C.ECHO) == srv.echo
    assert ch.echo is None and _update(ch, 4).code == C.CHANGED
    assert srv.last.get(C.ECHO) is None


def case_server_request_answered_with_request_nonce_and_duplicates():
    b = Board()
    srv = Server()
    net = Net(srv)
    ch = _chan(b, net)
    ch.connect("oscore-b2")
    assert _update(ch, 1).code == C.CHANGED
    rd = C.Message(C.CON, C.GET, 0x300, b"\x55").set_path("3/0")
    prot, rid = protect(srv.ctx, rd, 7)
    net.server = None
    net.q.append(C.encode(prot))
    got = ch.recv(100)
    assert got.code == C.GET and got.path() == "3/0"
    ch.send(C.Message(C.ACK, C.CONTENT, 0x300, b"\x55", b"dev"))
    ans = C.decode(net.sent[-1])
    assert option_of(ans) == (None, None, None)          # no PIV: request nonce reused
    inner, _r, piv = unprotect(srv.ctx, ans, None, rid)
    assert inner.payload == b"dev" and piv is None
    net.q.append(C.encode(prot))                         # the server retransmits its GET
    assert ch.recv(100) is None and net.sent[-1] == net.sent[-2]
    assert ch.dropped == 0


def case_notifications_carry_their_own_piv_also_after_a_deep_sleep():
    """RFC 8613 8.3: a response with Observe (the registration's, and every notification) has its
    own Partial IV, never the request's nonce again; the Observe request's id survives a deep
    sleep (RTC 'osq'), so a notification at a later wake verifies against it."""
    b = Board()
    srv = Server()
    net = Net(srv)
    ch = _chan(b, net)
    ch.connect("oscore-b2")
    assert _update(ch, 1).code == C.CHANGED
    ob = C.Message(C.CON, C.GET, 0x301, b"\x66").set_path("3303/0/5700")
    ob.add(C.OBSERVE, b"")
    prot, rid = protect(srv.ctx, ob, 9)
    net.server = None
    net.q.append(C.encode(prot))
    assert ch.recv(100).get(C.OBSERVE) == b""
    nonces = set()

    def notify(ch, mid, seq, mtype):
        m = C.Message(mtype, C.CONTENT, mid, b"\x66", b"21.5")
        m.add(C.OBSERVE, seq)
        ch.send(m)
        ans = C.decode(net.sent[-1])
        piv = option_of(ans)[0]
        assert piv, "a notification without its own Partial IV"
        inner, _r, p = unprotect(srv.ctx, ans, None, rid)
        assert inner.payload == b"21.5" and inner.get(C.OBSERVE) is not None and p == piv
        assert piv not in nonces
        nonces.add(piv)

    notify(ch, 0x301, 1, C.ACK)                           # the registration's answer
    notify(ch, 0x10, 2, C.CON)                            # a notification in the same wake
    _sleep(ch)
    ch = _chan(b, net)                                    # deep sleep: a new process
    ch.connect("oscore")
    notify(ch, 0x11, 3, C.CON)                            # a notification at a later wake
    try:
        ch.send(C.Message(C.CON, C.CONTENT, 0x12, b"\x67", b"x").add(C.OBSERVE, 4))
        assert False, "a notification for an unknown observation was protected"
    except ProtocolError:
        pass


def case_unprotected_401_is_session_unknown_and_forget_goes_b2():
    b = Board()
    srv = Server()
    net = Net(srv)
    ch = _chan(b, net)
    ch.connect("oscore-b2")
    _update(ch, 1)
    srv.ctx = None                                     # the server lost every context
    try:
        _update(ch, 2)
        raise AssertionError("unprotected 4.01 not reported")
    except SessionUnknown:
        pass
    ch.forget()
    _sleep(ch)
    ch = _chan(b, Net(srv))
    assert ch.paths() == ["oscore-b2"]


def case_tampered_and_foreign_responses_dropped():
    b = Board()
    srv = Server()
    net = Net(srv)
    ch = _chan(b, net)
    ch.connect("oscore-b2")
    net.server = None
    ch.send(C.Message(C.CON, C.POST, 9, b"\x7a").set_path("rd/5a3f"))
    bad = bytearray(C.encode(protect(srv.ctx or Context(MS, SALT, b"\x02", b"\x01", ch.idc),
                                     C.Message(C.ACK, C.CHANGED, 9, b"\x7a"), None,
                                     (b"\x01", b"\x00"))[0]))
    bad[-1] ^= 1
    net.q.append(bytes(bad))
    net.q.append(C.encode(C.Message(C.ACK, C.CHANGED, 9, b"\x7b")))   # other token
    assert ch.recv(100) is None and ch.dropped == 2
