"""Wake planner: fallback chains from the channel's paths, the cost model, what it learns."""
from state import Store
from wake.planner import Planner

RADIO = {"tx_uJ_per_byte": 2.0, "rx_uJ_per_byte": 1.0, "datagram_uJ": 500, "rtt_ms": 200,
         "rx_mW": 150, "nat_timeout_prior_s": [30, 120]}
COAP = {"ack_timeout_ms": 2000, "max_retransmit": 4}


class FakeBoard:
    def __init__(self):
        self.rtc = b""

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, b):
        self.rtc = bytes(b)

    def flash_read(self, k):
        return None

    def flash_write(self, k, v):
        pass


class FakeChan:
    def __init__(self, paths):
        self._p = paths

    def paths(self):
        return self._p

    def estimate(self, path):
        return {"dtls-reuse": (42, 34, 2, 1), "cid": (47, 34, 2, 1), "resume": (208, 196, 4, 2),
                "full-handshake": (400, 300, 8, 4), "oscore": (27, 16, 2, 1),
                "oscore-b2": (80, 50, 4, 2), "nosec": (13, 5, 2, 1)}[path]


def _planner():
    return Planner(Store(FakeBoard()), {"radio": RADIO, "coap": COAP})


def test_required_fallbacks_always_kept_in_order():
    p = _planner()
    assert p.chain(FakeChan(["cid", "resume", "full-handshake"]), 3600) == ["cid", "resume", "full-handshake"]
    assert p.chain(FakeChan(["oscore", "oscore-b2"]), 3600) == ["oscore", "oscore-b2"]
    assert p.chain(FakeChan([]), 10) == []


def test_optimistic_reuse_only_when_nat_mapping_likely_alive():
    p = _planner()
    ch = FakeChan(["dtls-reuse", "resume", "full-handshake"])
    assert p.chain(ch, 10)[0] == "dtls-reuse"          # slept 10 s < 30 s lower bound
    assert p.chain(ch, 3600) == ["resume", "full-handshake"]   # an hour: the NAT forgot us


def test_learns_nat_bounds_and_persists_them():
    b = FakeBoard()
    s = Store(b)
    p = Planner(s, {"radio": RADIO, "coap": COAP})
    p.record("dtls-reuse", "ok", asleep_s=90)
    assert p.nat_lo == 90
    p.record("dtls-reuse", "no-answer", asleep_s=200)
    assert p.nat_hi == 120                              # prior upper bound already lower
    p.record("dtls-reuse", "no-answer", asleep_s=100)
    assert p.nat_hi == 100 and p.nat_lo == 90
    p.save()
    s.commit()
    s2 = Store(b)
    assert s2.load()
    q = Planner(s2, {"radio": RADIO, "coap": COAP})
    assert (q.nat_lo, q.nat_hi) == (90, 100)
    assert q.stats[4][0] == 1 and q.stats[4][1] == 2     # dtls-reuse: 1 success, 2 failures kept


def test_measured_bytes_replace_static_estimate():
    p = _planner()
    ch = FakeChan(["resume", "full-handshake"])
    assert sum(p.estimate(ch, "resume")[:2]) == 404
    p.record("resume", "ok", nbytes=430)
    assert sum(p.estimate(ch, "resume")[:2]) == 430
    p.record("resume", "ok", nbytes=450)
    assert sum(p.estimate(ch, "resume")[:2]) == 435     # moving average (3 old + 1 new) / 4


def test_success_rate_from_counts():
    p = _planner()
    for _ in range(8):
        p.record("cid", "session-unknown")
    assert p.p_ok("cid", 3600) < 0.2
    for _ in range(300):
        p.record("cid", "ok")
    ok, fail, _b = p.stats[3]
    assert ok + fail <= 200 and p.p_ok("cid", 3600) > 0.9   # counts halve: recent weighs more


def test_failed_wakes_in_a_row_persist_and_double_the_backoff():
    b = FakeBoard()
    s = Store(b)
    p = Planner(s, {"radio": RADIO, "coap": COAP})
    p.fails = 3
    p.save()
    s.commit()
    s2 = Store(b)
    assert s2.load()
    assert Planner(s2, {"radio": RADIO, "coap": COAP}).fails == 3
    from wake.rescue import _backoff
    sch = {"sleep_s": 3600, "error_backoff_s": 300}
    # transient failures: sooner than the schedule, doubling back up to it
    assert [_backoff(sch, "no-answer", k) for k in (1, 2, 3, 4, 5, 6)] == [300, 600, 1200, 2400, 3600, 3600]
    # wrong credentials: never sooner than the schedule, doubling up to a day
    assert [_backoff(sch, "auth-failed", k) for k in (1, 2, 3, 5, 9)] == [3600, 7200, 14400, 57600, 86400]
    assert _backoff(dict(sch, sleep_s=60), "auth-failed", 1) == 300
    assert _backoff(dict(sch, max_backoff_s=7200), "auth-failed", 4) == 7200



def test_register_bytes_counted_for_a_path_that_registers():
    # server.register_after_handshake: after a full handshake the wake sends a Register, not
    # the channel's 13-byte Update; the planner's estimate carries its bytes (until measured)
    p = _planner()
    ch = FakeChan(["resume", "full-handshake"])
    assert p.estimate(ch, "full-handshake") == (400, 300, 8, 4)
    p.reg = (("full-handshake",), 150)
    assert p.estimate(ch, "full-handshake") == (550, 300, 8, 4)
    assert p.estimate(ch, "resume") == (208, 196, 4, 2)
    p.record("full-handshake", "ok", 3600, 1000)       # measured (with the Register) wins
    assert p.estimate(ch, "full-handshake")[0] + p.estimate(ch, "full-handshake")[1] == 1000
