"""Wake planner: fallback chains from the channel's paths, the cost model, what it learns."""
import fakes
from state import Store
from wake.planner import Planner

RADIO = {"tx_uJ_per_byte": 2.0, "rx_uJ_per_byte": 1.0, "datagram_uJ": 500, "rtt_ms": 200,
         "rx_mW": 150, "nat_timeout_prior_s": [30, 120]}
COAP = {"ack_timeout_ms": 2000, "max_retransmit": 4}


def FakeBoard():
    return fakes.FakeBoard(flash=False)          # the planner's state lives in RTC memory only


FakeChan = fakes.PathChan


def _planner():
    return Planner(Store(FakeBoard()), {"radio": RADIO, "coap": COAP})


def test_required_fallbacks_always_kept_in_order():
    p = _planner()
    assert p.chain(FakeChan(["cid", "resume", "full-handshake"]), 3600) == ["cid", "resume", "full-handshake"]
    assert p.chain(FakeChan(["oscore", "oscore-b2"]), 3600) == ["oscore", "oscore-b2"]
    assert p.chain(FakeChan([]), 10) == []


def _same_port_planner(b=None, cfg=None):
    """A planner whose last wake used local port 5000, as this one does."""
    b = b or FakeBoard()
    s = Store(b)
    c = cfg or {"radio": RADIO, "coap": COAP}
    Planner(s, c, 5000).save()
    s.commit()
    s = Store(b)
    s.load()
    return Planner(s, c, 5000), s, b


def test_optimistic_reuse_only_when_nat_mapping_likely_alive():
    p, _s, _b = _same_port_planner()
    ch = FakeChan(["dtls-reuse", "resume", "full-handshake"])
    assert p.chain(ch, 10)[0] == "dtls-reuse"          # slept 10 s < 30 s lower bound
    assert p.chain(ch, 3600) == ["resume", "full-handshake"]   # an hour: the NAT forgot us


def test_no_reuse_on_a_new_local_port():
    ch = FakeChan(["dtls-reuse", "resume", "full-handshake"])
    assert _planner().chain(ch, 10) == ["resume", "full-handshake"]     # port 0: a new one each wake
    b = FakeBoard()
    s = Store(b)
    Planner(s, {"radio": RADIO, "coap": COAP}, 5000).save()
    s.commit()
    s = Store(b)
    s.load()
    p = Planner(s, {"radio": RADIO, "coap": COAP}, 5001)              # another port than last wake
    assert p.chain(ch, 10) == ["resume", "full-handshake"]
    p.record("dtls-reuse", "no-answer", 10, 600)       # (if it was tried anyway) not the NAT's fault
    p.save()
    assert p.nat_hi == 120


def test_learns_nat_bounds_and_persists_them():
    p, s, b = _same_port_planner()
    p.record("dtls-reuse", "ok", 90)
    assert p.nat_lo == 90
    p.save()
    p.record("dtls-reuse", "no-answer", 200)
    p.save()
    assert p.nat_hi == 120                              # prior upper bound already lower
    p.tried = []
    p.record("dtls-reuse", "no-answer", 100)
    p.record("resume", "ok", 100, 400)                  # the server still had the session: the NAT
    p.save()
    assert p.nat_hi == 100 and p.nat_lo == 90
    s.commit()
    s2 = Store(b)
    assert s2.load()
    q = Planner(s2, {"radio": RADIO, "coap": COAP}, 5000)
    assert (q.nat_lo, q.nat_hi) == (90, 100)
    c = q.stats[4][0][1]                                # dtls-reuse, sleep bin 90-900 s
    assert c >> 4 == 1 and c & 15 == 0                  # 1 success; the expiries are the NAT
                                                        # bounds' (not counted twice)


def test_server_lost_state_is_not_booked_on_the_nat():
    p, _s, _b = _same_port_planner()
    p.record("dtls-reuse", "no-answer", 100, 900)
    p.record("resume", "session-unknown", 100)          # resumption refused: the server restarted
    p.record("full-handshake", "ok", 100, 800)
    p.save()
    assert (p.nat_lo, p.nat_hi) == (30, 120)
    assert p.stats[4][0][1] == 0x01                     # dtls-reuse's own record: one failure


def test_measured_failure_time_is_the_detection_cost():
    p = _planner()
    d0 = p.detect_uJ("cid")
    assert d0 == 2000 * 1.25 * 7 * 150                  # the probe budget at the board's timers
    p.coap["probe_retransmit"] = 0
    assert p.detect_uJ("cid") == 2000 * 150             # one ACK timeout, not randomized
    p.record("cid", "no-answer", 3600, 1000)            # measured: 1 s of listening
    assert p.detect_uJ("cid") == 1000 * 150


def test_measured_bytes_replace_static_estimate():
    p = _planner()
    ch = FakeChan(["resume", "full-handshake"])
    assert sum(p.estimate(ch, "resume")[:2]) == 404
    p.record("resume", "ok", 3600, 430)
    assert sum(p.estimate(ch, "resume")[:2]) == 430
    p.record("resume", "ok", 3600, 450)
    assert sum(p.estimate(ch, "resume")[:2]) == 435     # moving average (3 old + 1 new) / 4


def test_success_rate_by_sleep_bin_with_forgetting():
    p = _planner()
    for _ in range(8):
        p.record("cid", "session-unknown", 3600)
    assert p.p_ok("cid", 3600) < 0.85
    assert p.p_ok("cid", 60) > 0.95                     # another sleep bin: no evidence against
    for _ in range(300):
        p.record("cid", "ok", 3600)
        del p.tried[:]          # one record a wake: a wake's list of tries (4 KiB at 300)
    c = p.stats[3][0][2]
    assert c >> 4 <= 15 and p.p_ok("cid", 3600) > 0.9   # counts halve: recent weighs more


def test_every_fallible_path_is_weighed():
    # a CID the server keeps losing: straight to the full handshake; resumption refused: skipped
    p = _planner()
    ch = FakeChan(["cid", "resume", "full-handshake"])
    assert p.chain(ch, 3600) == ["cid", "resume", "full-handshake"]
    for _ in range(12):
        p.tried = []                                    # a wake: resumption tried first, refused
        p.record("resume", "session-unknown", 3600)
        p.record("full-handshake", "ok", 3600, 900)
        p.tried = []
        p.record("cid", "no-answer", 3600, 8000)
    assert p.chain(ch, 3600) == ["full-handshake"]
    assert p.chain(ch, 60) == ["cid", "resume", "full-handshake"]     # other sleeps: no evidence


def test_correlated_failures_condition_the_rest_of_the_chain():
    # a server restart fails cid and resume together: resumption refused right after a CID
    # silence is booked apart (P(ok | the path before failed)), not as resumption's own rate
    cfg = {"radio": RADIO, "coap": COAP, "planner": {"explore": 0}}
    p = Planner(Store(FakeBoard()), cfg)
    ch = FakeChan(["cid", "resume", "full-handshake"])
    for k in range(10):
        p.tried = []
        if k % 5 == 4:                                  # a restart every fifth wake
            p.record("cid", "no-answer", 3600, 600)
            p.record("resume", "session-unknown", 3600)
            p.record("full-handshake", "ok", 3600, 900)
        else:
            p.record("cid", "ok", 3600, 81)
    assert p.stats[5][0][3] == 0                        # resumption's own record: untouched
    assert p.stats[5][0][4] == 0x02 and p.stats[6][0][4] == 0x20    # after a failure: refused, worked
    assert p.p_ok("resume", 3600) > 0.99
    # independent, a CID silence would cost one resumption more and cid would stay first;
    # with the correlation it costs a resumption refused and a full handshake
    assert p.chain(ch, 3600) == ["resume", "full-handshake"]
    q = Planner(Store(FakeBoard()), cfg)
    for k in range(10):
        q.tried = []
        if k % 5 == 4:                                  # the NAT, not the server: resumption works
            q.record("cid", "no-answer", 3600, 600)
            q.record("resume", "ok", 3600, 400)
        else:
            q.record("cid", "ok", 3600, 81)
    assert q.stats[5][0][4] == 0x20
    assert q.chain(ch, 3600) == ["cid", "resume", "full-handshake"]
    b = FakeBoard()                                     # persisted with the plan section
    s = Store(b)
    p2 = Planner(s, cfg)
    p2.stats = p.stats
    p2.save()
    s.commit()
    s2 = Store(b)
    assert s2.load()
    assert Planner(s2, cfg).stats[5][0][4] == 0x02


def test_exploration_budget_probes_a_dropped_path_again():
    cfg = {"radio": RADIO, "coap": dict(COAP), "planner": {"explore": 50}}
    p = Planner(Store(FakeBoard()), cfg)
    ch = FakeChan(["cid", "resume", "full-handshake"])
    for _ in range(12):
        p.record("cid", "no-answer", 3600, 8000)
    chains = [p.chain(ch, 3600) for _ in range(12)]
    assert chains[0][0] != "cid"
    k = [c[0] for c in chains].index("cid")            # paid for by the wakes before it
    assert 0 < k < 11 and p.probing == "cid"
    assert cfg["coap"]["probe_retransmit"] == 0          # the probe listens one ACK timeout
    p.record("cid", "no-answer", 3600, 8000)            # the probe failed: the price doubles
    assert p.pexp == 1
    p2 = Planner(Store(FakeBoard()), {"radio": RADIO, "coap": dict(COAP), "planner": {"explore": 0}})
    for _ in range(12):
        p2.record("cid", "no-answer", 3600, 8000)
    assert all(p2.chain(ch, 3600)[0] != "cid" for _ in range(50))   # explore 0: never


def test_clean_wakes_shorten_the_probe():
    cfg = {"radio": RADIO, "coap": dict(COAP, probe_retransmit=2)}
    p = Planner(Store(FakeBoard()), cfg)
    ch = FakeChan(["cid", "resume", "full-handshake"])
    for _ in range(3):
        p.chain(ch, 3600)
        assert cfg["coap"]["probe_retransmit"] == 2
        p.tried = []
        p.record("cid", "ok", 3600, 81)
        p.save(0)                                       # no retransmission: a clean wake
    p.chain(ch, 3600)
    assert cfg["coap"]["probe_retransmit"] == 0         # one ACK timeout before the fallback
    cfg["coap"]["probe_retransmit"] = 2
    p.save(1)                                           # a retransmission: the link loses datagrams
    p.chain(ch, 3600)
    assert cfg["coap"]["probe_retransmit"] == 2 and p.clean == 0


def test_force_knob_fixes_the_strategy():
    p = Planner(Store(FakeBoard()), {"radio": RADIO, "coap": COAP, "planner": {"force": "resume"}})
    assert p.chain(FakeChan(["cid", "resume", "full-handshake"]), 3600) == ["resume", "full-handshake"]
    p.force = "full-handshake"
    assert p.chain(FakeChan(["modem-cid", "modem-full-handshake"]), 3600) == ["modem-full-handshake"]


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


def test_a_path_not_measured_yet_is_costed_at_the_links_measured_time_per_round_trip():
    # on the nRF9160 a CID Update (1 round trip) took 280 ms, not the 100 ms of rtt_ms: a
    # resumption (2 round trips) not measured yet is costed at 560 ms, not 200 ms (it took 750)
    p = _planner()
    ch = FakeChan(["cid", "resume", "full-handshake"])
    p.chain(ch, 3600)
    before = p.cost(ch, "resume")
    assert before == p.energy(ch.estimate("resume"), 2 * RADIO["rtt_ms"])
    p.record("cid", "ok", 3600, 81, 1000)               # 1 s for one round trip
    p.chain(ch, 3600)
    assert p.rt == 1000
    assert p.cost(ch, "resume") == p.energy(ch.estimate("resume"), 2000) > before
    p.record("resume", "ok", 3600, 404, 1500)           # measured: its own time wins
    p.chain(ch, 3600)
    assert p.cost(ch, "resume") == p.energy(p.estimate(ch, "resume"), 1500)


def test_resumption_tried_first_tells_whether_cid_would_have_worked():
    # cid left out of the chain (a server that lost its CIDs): a resumption refused says the
    # server lost its state (cid would have failed too), one that works that it kept it;
    # so cid's record follows the server, and cid comes back once the restarts stop
    p = _planner()
    ch = FakeChan(["cid", "resume", "full-handshake"])
    for _ in range(3):
        p.tried = []
        p.record("cid", "no-answer", 3600, 400)
    assert p.chain(ch, 3600)[0] == "resume" and p.shadow
    p.tried = []
    p.record("resume", "session-unknown", 3600)
    p.record("full-handshake", "ok", 3600, 900)
    assert p.stats[3][0][2] == 0x04                     # cid: a fourth failure
    n = 0
    while p.chain(ch, 3600)[0] == "resume" and n < 40:
        p.tried = []
        p.record("resume", "ok", 3600, 404)             # the server keeps its state now
        n += 1
    assert p.chain(ch, 3600)[0] == "cid" and 3 <= n < 40
    assert p.stats[3][0][2] >> 4 == n                   # the successes booked on cid
    # cid in the chain (tried, or kept as the fallback's fallback): nothing booked for it
    q = _planner()
    assert q.chain(ch, 3600)[0] == "cid" and not q.shadow
    q.record("resume", "ok", 3600, 404)
    assert q.stats[3][0][2] == 0


def test_a_resumption_dropped_on_one_silence_comes_back_with_cids_answered():
    # a resumption handshake unanswered once (a loaded server, a lost flight) dropped it: the
    # chain went cid -> full-handshake, and every server restart cost a full handshake after
    # the CID silence. A CID Update answered says the server kept its state, so resumption
    # (which worked with this server before) would have worked: booked on it, it comes back
    p = _planner()
    ch = FakeChan(["cid", "resume", "full-handshake"])
    p.record("resume", "ok", 3600, 404, 700)             # it worked with this server once
    p.tried = []
    p.record("cid", "no-answer", 3600, 400)
    p.record("resume", "no-answer", 3600, 3000)          # after cid's silence: kept apart
    p.record("full-handshake", "ok", 3600, 900)
    for _ in range(2):
        p.tried = []
        p.record("resume", "no-answer", 3600, 3000)      # tried first, silent twice
    assert p.chain(ch, 3600) == ["cid", "full-handshake"] and p.shadow == ["resume"]
    n = 0
    while "resume" not in p.chain(ch, 3600) and n < 40:
        p.tried = []
        p.record("cid", "ok", 3600, 81, 280)
        n += 1
    assert "resume" in p.chain(ch, 3600) and 1 <= n < 40, n
    # a server that never resumed (no session cache): cid's answers say nothing of resumption
    q = _planner()
    for _ in range(3):
        q.tried = []
        q.record("resume", "no-answer", 3600, 3000)
    assert q.chain(ch, 3600) == ["cid", "full-handshake"]
    q.tried = []
    q.record("cid", "ok", 3600, 81, 280)
    assert q.stats[5][0][2] == 0x03
