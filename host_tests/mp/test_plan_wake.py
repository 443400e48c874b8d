"""Wake planner, issue 13: the bearer's cost model, the wake around the path (wake/plan_wake.py:
listen window, sleep against the NAT bound and the lifetime), the soft prior NAT bound and its
learn probe, the prior's weight, measurements on lossy wakes, the plan section, the config keys.
Under CPython and the micropython binary."""
import fakes
from state import Store
from wake.planner import Planner
from wake import plan_wake as pw

COAP = {"ack_timeout_ms": 2000, "max_retransmit": 4}


def FakeBoard():
    return fakes.FakeBoard(flash=False)          # the planner's state lives in RTC memory only


FakeChan = fakes.PathChan


def _same_port_planner(cfg):
    """A planner whose last wake used local port 5000, as this one does."""
    b = FakeBoard()
    s = Store(b)
    Planner(s, cfg, 5000).save()
    s.commit()
    s = Store(b)
    s.load()
    return Planner(s, cfg, 5000), s, b



WIFI = {"wake_uJ": 480000, "tx_uJ_per_byte": 1.5, "rx_uJ_per_byte": 0.8, "datagram_uJ": 300, "rtt_ms": 30,
        "rx_mW": 300, "idle_mW": 300, "tail_ms": 0, "nat_timeout_prior_s": [60, 300]}
LTEM = {"wake_uJ": 105000, "tx_uJ_per_byte": 18.09, "rx_uJ_per_byte": 3.95, "datagram_uJ": 0, "rtt_ms": 100,
        "rx_mW": 22.2, "idle_mW": 22.2, "tail_ms": 10000, "rai_tail_ms": 200, "nat_timeout_prior_s": [60, 300]}
NBIOT = {"wake_uJ": 550000, "tx_uJ_per_byte": 53.28, "rx_uJ_per_byte": 47.36, "datagram_uJ": 0, "rtt_ms": 1000,
         "rx_mW": 18.5, "idle_mW": 18.5, "tail_ms": 20000, "rai_tail_ms": 500, "nat_timeout_prior_s": [60, 300]}
SCHED = {"sleep_s": 3600, "listen_ms": 1500, "listen_max_ms": 10000}


def _cfg(radio=None, sch=None, **kw):
    c = {"radio": dict(radio or WIFI), "coap": dict(COAP), "schedule": dict(SCHED, **(sch or {}))}
    c.update(kw)
    return c


def _merged(raw, path="config"):
    # cfgcheck takes config.py's defaults, merge and mode from its caller (no import loop)
    import cfgcheck
    import config
    return cfgcheck.merged(raw, path, config.DEFAULTS, config._merge, config.mode)


def test_the_prior_upper_nat_bound_is_not_evidence():
    p, _s, _b = _same_port_planner(_cfg())
    assert p.p_ok("dtls-reuse", 30) > 0.99               # under the prior's lower bound
    assert 0.3 < p.p_ok("dtls-reuse", 305) < 0.6          # past the prior's upper bound: maybe
    assert p.p_ok("dtls-reuse", 3600) < 0.06              # an hour: hardly
    p.record("dtls-reuse", "no-answer", 305, 400)         # an expiry seen: the bound is learned
    p.save()
    assert p.flags & 1 and p.nat_hi == 300
    assert p.p_ok("dtls-reuse", 305) < 0.05


def test_a_seen_nat_bound_fades_and_is_looked_past_again():
    # an expiry at 305 s sets the upper bound; as evidence it fades over planner.nat_memory_s
    # (default a day): fresh, a mapping past it is hopeless and no probe looks; a day later
    # the mapping may live again (a NAT re-configured) and the learn probe may look for it
    ch = FakeChan(["dtls-reuse", "resume", "full-handshake"])
    T = 1800000000
    p, _s, _b = _same_port_planner(_cfg(sch={"sleep_s": 600}, planner={"explore": 5}))
    p.last_wake = p.last_exchange = T
    p.record("dtls-reuse", "ok", 200, 76)
    p.record("dtls-reuse", "no-answer", 305, 400)
    p.save()
    assert (p.nat_lo, p.nat_hi, p.flags, p.nat_t) == (200, 300, 1, T)
    fresh = p.p_ok("dtls-reuse", 600)
    assert fresh < 0.02 and p.learn("dtls-reuse", 600, 1000, 20000) == 0
    p.last_exchange = T + 2 * 86400                     # two days later
    assert p.p_ok("dtls-reuse", 600) > 0.1 > fresh
    assert p.learn("dtls-reuse", 600, 1000, 20000) > 0
    assert p.p_ok("dtls-reuse", 150) > 0.99             # the proven lower bound does not fade
    # persisted, with when it was seen; a short memory fades within the hour
    q, _s, _b = _same_port_planner(_cfg(planner={"nat_memory_s": 600}))
    q.last_wake = q.last_exchange = T
    q.record("dtls-reuse", "no-answer", 305, 400)
    q.save()
    q.last_exchange = T + 3600
    assert q.p_ok("dtls-reuse", 600) > 0.1
    _s.commit()
    s2 = Store(_b)
    assert s2.load()
    r = Planner(s2, _cfg(planner={"nat_memory_s": 600}), 5000)
    assert (r.nat_hi, r.flags, r.nat_t) == (300, 1, T)


def test_a_success_past_the_lower_bound_is_worth_a_probe_when_it_teaches_a_day_of_reuse():
    ch = FakeChan(["dtls-reuse", "resume", "full-handshake"])
    p, _s, _b = _same_port_planner(_cfg(sch={"sleep_s": 300}, planner={"explore": 5}))
    p.clean = 3
    assert p.chain(ch, 302)[0] == "dtls-reuse" and p.probing == "dtls-reuse"
    assert p.coap["probe_retransmit"] == 0                # one ACK timeout of listening
    p.record("dtls-reuse", "ok", 302, 76)
    assert p.nat_lo == 302 and p.pexp == 0
    # hourly: a day of reuse at this sleep is worth less than the probe's expected failure
    q, _s, _b = _same_port_planner(_cfg(planner={"explore": 5}))
    assert q.chain(ch, 3600)[0] == "resume"
    # explore 0: never
    r, _s, _b = _same_port_planner(_cfg(sch={"sleep_s": 300}, planner={"explore": 0}))
    assert r.chain(ch, 302)[0] == "resume"


def test_a_path_failing_one_wake_in_three_is_dropped_one_in_nine_is_not():
    # a server that loses its CIDs every third wake (restarts): after the first restart the next
    # wake resumes; one restart in nine wakes keeps CID. The costs (Wi-Fi, 30 ms RTT): a CID
    # Update ~9.7 mJ, a resumption ~19.7 mJ, a silence of 0.15 s (a short probe on a fast link)
    # 45 mJ: CID pays while it fails less than 10 / (45 + 19.7) = 0.15 of its wakes (the
    # estimate after 1 in 9: 0.09; after 1 in 3: 0.2). With 0.4 s of silence (120 mJ) one
    # restart in nine already costs more than CID saves: resumption
    ch = FakeChan(["cid", "resume", "full-handshake"])
    for seq, ms, first in ((("ok",) * 8 + ("no-answer",), 150, "cid"),
                           (("ok", "ok", "no-answer"), 150, "resume"),
                           (("ok",) * 8 + ("no-answer",), 400, "resume")):
        p = Planner(Store(FakeBoard()), _cfg(planner={"explore": 0}))
        p.clean = 3
        assert p.chain(ch, 3600)[0] == "cid"
        for o in seq:
            p.record("cid", o, 3600, 81 if o == "ok" else ms)
        assert p.chain(ch, 3600)[0] == first, seq


def test_listen_window_is_the_boards_unless_a_minimum_lets_the_planner_shorten_it():
    p = Planner(Store(FakeBoard()), _cfg())
    assert pw.listen_ms(p) == 1500
    p.served(300)
    assert pw.listen_ms(p) == 1500                          # no listen_min_ms: the board's window
    q = Planner(Store(FakeBoard()), _cfg(sch={"listen_min_ms": 200}))
    assert pw.listen_ms(q) == 200                           # nothing heard: 4 round trips, at least the minimum
    q.served(300)
    assert pw.listen_ms(q) == 2 * 310                       # twice the slowest reaction heard
    q.served(5000)
    assert pw.listen_ms(q) == 1500                          # never past the board's window
    b = FakeBoard()
    s = Store(b)
    q.save()
    s2 = Store(b)
    q.store = s
    q.save()
    s.commit()
    assert s2.load() and Planner(s2, _cfg(sch={"listen_min_ms": 200})).lag == q.lag


def test_fixed_cost_per_wake_of_the_bearer():
    p = Planner(Store(FakeBoard()), _cfg())
    assert pw.fixed_uJ(p) == 480000 + 1500 * 300            # association + listen window
    c = Planner(Store(FakeBoard()), _cfg(radio=LTEM, modem={"rai": True}))
    assert abs(pw.fixed_uJ(c) - (105000 + (1500 + 200) * 22.2)) < 1e-6     # RRC set-up, RAI tail
    c = Planner(Store(FakeBoard()), _cfg(radio=LTEM, modem={"rai": False}))
    assert abs(pw.fixed_uJ(c) - (105000 + (1500 + 10000) * 22.2)) < 1e-6   # the inactivity timer


def test_sleep_plan_lifetime_reachability_and_keepalive():
    ch = FakeChan(["dtls-reuse", "resume", "full-handshake"])
    p, _s, _b = _same_port_planner(_cfg())
    assert pw.sleep_s(p, ch, 3600) == 3600                     # Wi-Fi: the association dwarfs a resumption
    assert pw.sleep_s(p, ch, 3600, 900) == 900                 # never past the registration renewal
    r, _s, _b = _same_port_planner(_cfg(sch={"reachable": True}))
    assert pw.sleep_s(r, ch, 3600) == 60 - 5                   # just under the proven NAT lower bound
    assert pw.sleep_s(r, ch, 30) == 30
    r.record("dtls-reuse", "ok", 240, 76)                  # a longer mapping proven: sleep longer
    assert pw.sleep_s(r, ch, 3600) == 240 - 17
    # NB-IoT (a set-up of 550 mJ) against a NAT known to keep 1000 s but not 1100 s, a server
    # without session cache (a full handshake after an expiry): a keep-alive at 936 s costs less
    # per day than a wake every 1020 s that finds the mapping gone, on LTE-M too (a handshake's
    # round trips); on Wi-Fi (an association of 480 mJ a wake) it does not
    ch2 = FakeChan(["dtls-reuse", "full-handshake"])
    for radio, want in ((NBIOT, 1000 - 2 - 62), (LTEM, 1000 - 2 - 62), (WIFI, 1020)):
        c, _s, _b = _same_port_planner(_cfg(radio=radio, sch={"sleep_s": 1020, "listen_ms": 300}, modem={}))
        c.record("dtls-reuse", "ok", 1000, 76)
        c.record("dtls-reuse", "no-answer", 1100, 400)
        c.save()
        assert (c.nat_lo, c.nat_hi, c.flags) == (1000, 1001, 1)
        assert pw.sleep_s(c, ch2, 1020) == want, radio
    assert pw.sleep_s(c, ch2, 990) == 990                  # under the bound anyway
    assert pw.sleep_s(c, FakeChan(["resume", "full-handshake"]), 1020) == 1020     # nothing to keep alive
    c.radio, c.force = NBIOT, "full-handshake"
    assert pw.sleep_s(c, ch2, 1020) == 1020                # a fixed strategy keeps the schedule


def test_plan_section_is_small_versioned_and_checked_on_load():
    b = FakeBoard()
    s = Store(b)
    p = Planner(s, _cfg(), 5000)
    p.flags, p.lag, p.nat_lo = 1, 7, 90
    p.save()
    assert len(s.get("plan")) == 107                      # (the registry allows 160)
    s.commit()
    s2 = Store(b)
    assert s2.load()
    q = Planner(s2, _cfg(), 5000)
    assert (q.flags, q.lag, q.nat_lo, q.same_port) == (1, 7, 90, True)
    for bad in (b"\x07" + bytes(102), b"\x08" + bytes(10), b"\x09" + bytes(106)):   # old, short, future
        s3 = Store(FakeBoard())
        s3.put("plan", bad)
        q = Planner(s3, _cfg(), 5000)
        assert (q.nat_lo, q.nat_hi, q.flags, q.same_port) == (60, 300, 0, False)


def test_config_keys_of_the_cost_model_are_checked_and_named():
    import cfgcheck
    from errors import ConfigError
    ok = _merged({"radio": {"idle_mW": 22.2, "tail_ms": 10000, "rai_tail_ms": 200},
                          "schedule": {"reachable": True, "listen_min_ms": 100},
                          "planner": {"nat_memory_s": 3600}})
    assert ok["schedule"]["reachable"] is True and ok["planner"]["nat_memory_s"] == 3600
    for raw, want in (({"radio": {"idle_mW": -1}}, "radio.idle_mW:"), ({"radio": {"tail_ms": "10s"}}, "radio.tail_ms:"),
                      ({"radio": {"rai_tail_ms": float("nan")}}, "radio.rai_tail_ms:"),
                      ({"radio": {"wake_uJ": True}}, "radio.wake_uJ:"),
                      ({"schedule": {"reachable": 1}}, "schedule.reachable:"),
                      ({"schedule": {"listen_min_ms": 1.5}}, "schedule.listen_min_ms:"),
                      ({"planner": {"nat_memory_s": 0}}, "planner.nat_memory_s:"),
                      ({"planner": {"nat_memory_s": "1d"}}, "planner.nat_memory_s:")):
        try:
            _merged(raw)
            assert False, raw
        except ConfigError as e:
            assert str(e).startswith(want), (str(e), want)


def test_a_wake_with_retransmissions_does_not_measure_its_path():
    # 10 % loss: a CID Update that needed a retransmission took 0.7 s and 193 B; the link's
    # losses, not the path's cost (a resumption would have paid them too)
    p = Planner(Store(FakeBoard()), _cfg())
    p.record("cid", "ok", 3600, 188, 300)
    p.save(0)
    assert (p.stats[3][1], p.stats[3][3]) == (188, 30)
    p.undo = None
    p.record("cid", "ok", 3600, 261, 700)
    p.save(1)
    assert (p.stats[3][1], p.stats[3][3]) == (188, 30)
    q = Planner(Store(FakeBoard()), _cfg())
    q.record("cid", "ok", 3600, 261, 700)               # nor a first figure: the channel's estimate stays
    q.save(1)
    assert (q.stats[3][1], q.stats[3][3]) == (0, 0) and q.stats[3][0][2] >> 4 == 1     # (a success all the same)


def test_slow_coap_timers_do_not_keep_a_fresh_cid_behind_resumption():
    # the board's timers (ACK 2 s: 7 x 2.5 s of silence before a CID is given up) and no clean
    # wake yet: the prior's expected silence stays under what CID saves on its first keep-alive
    cfg = _cfg(radio=dict(WIFI, rtt_ms=30))
    cfg["coap"] = {"ack_timeout_ms": 2000, "ack_random_factor": 1.5, "probe_retransmit": 2}
    p = Planner(Store(FakeBoard()), cfg)
    assert p.clean == 0
    assert p.chain(FakeChan(["cid", "resume", "full-handshake"]), 3600) == ["cid", "resume", "full-handshake"]


def test_an_expiry_within_the_proven_bound_says_the_nat_changed():
    p, _s, _b = _same_port_planner(_cfg())
    p.record("dtls-reuse", "ok", 300, 76)
    p.save()
    assert p.nat_lo == 300
    p.tried = []
    p.record("dtls-reuse", "no-answer", 301, 400)        # the NAT fell (600 -> 60 s)
    p.save()
    assert (p.nat_lo, p.nat_hi, p.flags) == (60, 301, 1)
    assert p.p_ok("dtls-reuse", 301) < 0.3               # (its record still says 1 of 2)
