"""coap/exchange.py built directly over a fake channel (no socket, no security, a virtual
clock): the randomized first timeout of RFC 7252 4.2 for every CON (requests and
notifications), the per-call retransmission budget, server requests served while the exchange
waits for its ACK, and NON notifications sent once. Runs under CPython and micropython."""
from coap import codec as C
from coap.exchange import Exchange, Reset
from errors import NoAnswer

ACK_MS = 1000
FACTOR = 1.5


class Board:
    """A clock that only moves while the channel waits, and a chosen random byte."""

    def __init__(self, rnd=0):
        self.t = 0
        self.rnd = rnd

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def urandom(self, n):
        return bytes([self.rnd] * n)


class Store:
    def __init__(self):
        self.s = {}

    def get(self, k):
        return self.s.get(k)

    def put(self, k, v):
        self.s[k] = v


class Chan:
    """Answers are scripted per transmission: answers[i] is a list of functions of the i-th
    message sent (each returns the Message the server sends back); a missing entry is a lost
    datagram. recv(timeout) advances the clock by the whole timeout when nothing is queued."""

    def __init__(self, board, answers=None):
        self.b = board
        self.answers = answers or {}
        self.sent = []
        self.waits = []        # the timeout of each recv() that found nothing (the clock moved)
        self.q = []

    def send(self, m):
        self.sent.append(C.decode(C.encode(m)))      # a copy, as on the wire
        for f in self.answers.get(len(self.sent) - 1, ()):
            self.q.append(f(self.sent[-1]))

    def recv(self, timeout_ms):
        if self.q:
            self.b.t += 1
            return self.q.pop(0)
        self.waits.append(timeout_ms)
        self.b.t += timeout_ms
        return None


def _ex(answers=None, rnd=0, handler=None, max_retransmit=3):
    b = Board(rnd)
    ch = Chan(b, answers)
    ex = Exchange(ch, Store(), b, {"ack_timeout_ms": ACK_MS, "ack_random_factor": FACTOR,
                                   "max_retransmit": max_retransmit, "separate_timeout_ms": 5000},
                  handler=handler)
    return ex, ch


def _update():
    m = C.Message(C.CON, C.POST)
    m.set_path("rd/x")
    return m


def _changed(req):
    return C.Message(C.ACK, C.CHANGED, req.mid, req.token)


def _notify(ex, m, con, retries=None):
    # what lwm2m/observe.py makes of Exchange.send: True acknowledged (or NON sent), False
    # the server reset it, None no answer
    try:
        return None if ex.send(m, con, retries) is None else True
    except Reset:
        return False


def _notification():
    m = C.Message(0, C.CONTENT, 0, b"\x07", b"21.5")
    m.add(C.OBSERVE, 3)
    return m


def test_a_con_without_retransmissions_gives_up_at_ack_timeout():
    # a path's probe (retries 0): the random factor spreads retransmissions, there is none
    for rnd in (0, 255):
        ex, ch = _ex({}, rnd)
        try:
            ex.request(_update(), True, 0)
            assert False
        except NoAnswer:
            pass
        assert len(ch.sent) == 1 and ch.waits == [ACK_MS]


def test_lost_ack_is_retransmitted_after_a_randomized_first_timeout():
    for rnd in (0, 128, 255):
        ex, ch = _ex({1: [_changed]}, rnd)       # the first datagram is lost
        r = ex.request(_update())
        assert r.code == C.CHANGED
        assert len(ch.sent) == 2 and ch.sent[0].mid == ch.sent[1].mid       # same message again
        assert ex.retransmissions == 1
        first = ch.waits[0]
        assert ACK_MS <= first <= ACK_MS * FACTOR, first
        assert first == int(ACK_MS * (1.0 + (FACTOR - 1.0) * rnd / 255.0))


def test_the_first_timeout_differs_with_the_random_byte():
    w = []
    for rnd in (0, 255):
        ex, ch = _ex({}, rnd)
        try:
            ex.request(_update(), True, 1)
        except NoAnswer:
            pass
        w.append(ch.waits[0])
    assert w[0] == ACK_MS and w[1] == int(ACK_MS * FACTOR)


def test_back_off_doubles_and_the_config_budget_is_the_default():
    ex, ch = _ex({}, 0, max_retransmit=3)
    try:
        ex.request(_update())
        assert False, "no answer expected"
    except NoAnswer:
        pass
    assert len(ch.sent) == 4                 # 1 + MAX_RETRANSMIT
    assert ex.retransmissions == 3
    assert ch.waits == [ACK_MS, 2 * ACK_MS, 4 * ACK_MS, 8 * ACK_MS]


def test_per_call_budget_is_respected_and_leaves_the_default_alone():
    ex, ch = _ex({}, 0, max_retransmit=3)
    try:
        ex.request(_update(), True, 1)
        assert False, "no answer expected"
    except NoAnswer:
        pass
    assert len(ch.sent) == 2 and ex.retransmissions == 1
    assert ex.max_retransmit == 3
    ex2, ch2 = _ex({}, 0, max_retransmit=3)
    try:
        ex2.request(_update(), True, 0)      # a probe: one transmission, one ACK timeout
    except NoAnswer:
        pass
    assert len(ch2.sent) == 1 and ex2.retransmissions == 0 and ch2.waits == [ACK_MS]


def test_server_request_is_served_while_waiting_for_the_ack():
    seen = []

    def handler(m):
        seen.append(m.path())
        return C.Message(C.ACK, C.CONTENT, payload=b"22")

    def server_read(req):
        r = C.Message(C.CON, C.GET, 0x4242, b"\x99")
        r.set_path("3303/0/5700")
        return r

    ex, ch = _ex({0: [server_read, _changed]}, 0, handler)
    r = ex.request(_update())
    assert r.code == C.CHANGED
    assert seen == ["3303/0/5700"]
    ans = [m for m in ch.sent if m.mtype == C.ACK]
    assert len(ans) == 1 and ans[0].mid == 0x4242 and ans[0].token == b"\x99"
    assert ans[0].code == C.CONTENT and ans[0].payload == b"22"
    assert ex.retransmissions == 0


def test_con_notify_lost_ack_retransmitted_with_randomized_timeout():
    ex, ch = _ex({1: [lambda n: C.Message(C.ACK, C.EMPTY, n.mid)]}, 255)
    m = _notification()
    assert _notify(ex, m, True) is True
    assert len(ch.sent) == 2 and ch.sent[0].mtype == C.CON and ch.sent[1].mid == ch.sent[0].mid
    assert ch.sent[0].token == b"\x07" and ch.sent[0].get_uint(C.OBSERVE) == 3
    assert ch.waits[0] == int(ACK_MS * FACTOR)
    assert ex.retransmissions == 1


def test_con_notify_budget_rst_and_requests_meanwhile():
    ex, ch = _ex({}, 0)
    assert _notify(ex, _notification(), True, 2) is None        # never acknowledged
    assert len(ch.sent) == 3 and ex.retransmissions == 2
    ex, ch = _ex({0: [lambda n: C.Message(C.RST, C.EMPTY, n.mid)]}, 0)
    assert _notify(ex, _notification(), True) is False          # the server cancelled
    served = []

    def handler(m):
        served.append(m.code)
        return C.Message(C.ACK, C.CHANGED)

    def write(n):
        w = C.Message(C.CON, C.PUT, 7, b"\x01", b"1")
        w.set_path("1/0/3")
        return w

    ex, ch = _ex({0: [write, lambda n: C.Message(C.ACK, C.EMPTY, n.mid)]}, 0, handler)
    assert _notify(ex, _notification(), True) is True
    assert served == [C.PUT]


def test_non_notify_is_sent_once_and_not_awaited():
    ex, ch = _ex({}, 0)
    assert _notify(ex, _notification(), False) is True
    assert len(ch.sent) == 1 and ch.sent[0].mtype == C.NON
    assert ch.waits == [] and ex.retransmissions == 0


def test_reset_and_separate_response():
    ex, ch = _ex({0: [lambda r: C.Message(C.RST, C.EMPTY, r.mid)]}, 0)
    try:
        ex.request(_update())
        assert False, "Reset expected"
    except Reset:
        pass

    def sep(r):
        return C.Message(C.CON, C.CHANGED, 0x1111, r.token)

    ex, ch = _ex({0: [lambda r: C.Message(C.ACK, C.EMPTY, r.mid), sep]}, 0)
    r = ex.request(_update())
    assert r.code == C.CHANGED and len([m for m in ch.sent if m.mtype == C.CON]) == 1
    assert ch.sent[-1].mtype == C.ACK and ch.sent[-1].mid == 0x1111   # the separate one ACKed
