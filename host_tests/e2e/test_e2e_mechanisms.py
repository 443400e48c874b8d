"""Several mechanisms for one server (security.modes ["oscore", "psk"], issue 13) end to end:
the firmware under micropython (ROMFS, the device's heap budget), the NAT simulator, the harness
server with its DTLS and OSCORE plugins. What the server received is asserted: which identity
and mechanism registered or updated, under which registration, and every sample delivered.

- the server loses its OSCORE records (B.2 cannot restore them): the wake falls back to DTLS
  in the same wake and delivers its sample; without identity binding it Registers again;
- the reverse: the server stops answering DTLS: the wake falls back to OSCORE; with the
  server binding both identities of the endpoint it is an Update under the same registration,
  without binding a Register;
- every wake, the cross-mechanism fallbacks included, within the heap budget."""
import scenario_util
from scenario_util import run, events, runner

EP = "urn:dev:unix-0001"
# the DTLS handshake's own timers, short: a silent server costs each handshake path ~1 s
FAST_DTLS = {"cid": "rfc9146", "retransmit_ms": 300, "max_tries": 2}


def _sc(wakes, security=None, **kw):
    return scenario_util.base(wakes=wakes, mode="oscore", modes=["oscore", "psk"],
                              plugins=["dtls", "oscore", "nosec"], security=security or dict(FAST_DTLS), **kw)


def _ok(rep):
    bad = [(w["wake"], w.get("result"), w.get("error"), w.get("log", [])[-8:]) for w in rep["wakes"]
           if w.get("result") != "ok"]
    assert not bad, bad
    peaks = [w["heap_peak"] for w in rep["wakes"]]
    assert max(peaks) <= runner.HEAP_BUDGET, peaks
    s = rep["summary"]["samples"]
    # every sample taken reached the server (its log of Sends), none waits
    assert s["delivered"] == s["taken"] == len(rep["wakes"]) and s["waiting"] == 0, s


def _at(rep, i):
    """The server events of wake i (between its start and the next wake's)."""
    t0 = runner.T0 + rep["wakes"][i]["vt"] - 1
    t1 = runner.T0 + rep["wakes"][i + 1]["vt"] - 1 if i + 1 < len(rep["wakes"]) else 1e30
    return [e for e in rep["server_events"] if t0 <= e["t"] < t1 and e["ev"] != "server-drop"]


def _lw(evs):
    return [(e["ev"], e.get("mode")) for e in evs if e["ev"] in ("register", "update", "replaced", "bound", "forbidden")]


def test_oscore_lost_falls_back_to_dtls_and_registers_again():
    rep = run(_sc(4, server_drop={2: ["oscore"]}), timeout=400)
    _ok(rep)
    w = rep["wakes"]
    assert w[0]["path"] == "oscore-b2+register" and w[0]["kind"] == "oscore", w[0]
    assert w[1]["path"] == "oscore+update"
    # wake 2: the server answers the OSCORE Update with an unprotected 4.01 and refuses B.2;
    # the same wake goes on with DTLS and, another identity for the server, Registers
    assert w[2]["kind"] == "oscore>dtls" and w[2]["path"] == "full-handshake+register", w[2]
    assert [t[0] for t in w[2]["tried"]] == ["oscore", "oscore-b2", "full-handshake"], w[2]["tried"]
    assert [t[1] for t in w[2]["tried"]][-1] == "ok"
    assert _lw(_at(rep, 0))[0] == ("register", "oscore")
    assert ("update", "oscore") in _lw(_at(rep, 1))
    assert _lw(_at(rep, 2)) == [("replaced", None), ("register", "dtls-cid")], _at(rep, 2)
    sends = [e for e in _at(rep, 2) if e["ev"] == "send"]
    assert sends, _at(rep, 2)           # wake 2's sample went out over DTLS
    # wake 3 stays on DTLS (its CID), an Update under the new registration
    assert w[3]["path"] == "cid+update" and _lw(_at(rep, 3)) == [("update", "dtls-cid")]
    regs = rep["registrations"]
    assert regs[EP]["mode"] == "dtls-cid" and regs[EP]["identity"] == "Client_identity", regs


def _reverse(bind):
    # DTLS first (planner.force "cid": the fixed strategy), then the server stops DTLS
    sc = _sc(3, server_drop={2: ["dtls"]}, board={"planner": {"force": "cid"}})
    if bind:
        sc["bind_identities"] = {EP: ["Client_identity", "01"]}      # the server's side
        sc["board"]["server"] = {"bind_identities": True}             # the device knows it
    else:
        sc["board"]["server"] = {"bind_identities": False}            # (not "auto": no probe)
    rep = run(sc, timeout=400)
    _ok(rep)
    w = rep["wakes"]
    assert w[0]["path"] == "full-handshake+register" and w[0]["kind"] == "dtls", w[0]
    assert w[1]["path"] == "cid+update"
    assert w[2]["kind"] == "dtls>oscore", w[2]
    tried = w[2]["tried"]
    assert [t[0] for t in tried][:1] == ["cid"] and tried[-1] == ["oscore-b2", "ok"], tried
    assert all(t[1] == "no-answer" for t in tried[:-1]), tried       # DTLS silent
    assert _lw(_at(rep, 0))[0] == ("register", "dtls-cid")
    return rep, w, _lw(_at(rep, 2))


def test_dtls_silent_falls_back_to_oscore_and_registers_without_binding():
    rep, w, lw = _reverse(False)
    assert w[2]["path"] == "oscore-b2+register", w[2]
    assert lw == [("replaced", None), ("register", "oscore")], lw
    assert rep["registrations"][EP]["identity"] == "01"


def test_dtls_silent_falls_back_to_oscore_update_under_bound_registration():
    rep, w, lw = _reverse(True)
    assert w[2]["path"] == "oscore-b2+update", w[2]
    # the same registration (no Register after wake 0), now answered through OSCORE
    assert lw == [("bound", "oscore"), ("update", "oscore")], lw
    assert len(events(rep, "register")) == 1
    loc = events(rep, "register")[0]["loc"]
    reg = rep["registrations"][EP]
    assert reg["loc"] == loc and reg["mode"] == "oscore" and reg["identity"] == "01", reg
    b = events(rep, "bound")[0]
    assert (b["old"], b["new"]) == ("Client_identity", "01"), b


def test_oscore_lost_bound_server_keeps_the_registration():
    # the server binds both identities; a new DTLS session is an Update here
    # (server.register_after_handshake "never": else LwM2M asks a Register after a handshake)
    sc = _sc(3, server_drop={2: ["oscore"]}, bind_identities={EP: ["Client_identity", "01"]})
    sc["board"]["server"] = {"bind_identities": True, "register_after_handshake": "never"}
    rep = run(sc, timeout=400)
    _ok(rep)
    w = rep["wakes"]
    assert w[2]["kind"] == "oscore>dtls" and w[2]["path"] == "full-handshake+update", w[2]
    assert _lw(_at(rep, 2)) == [("bound", "dtls-cid"), ("update", "dtls-cid")], _at(rep, 2)
    assert len(events(rep, "register")) == 1
    reg = rep["registrations"][EP]
    assert reg["loc"] == events(rep, "register")[0]["loc"] and reg["identity"] == "Client_identity", reg


def test_bench_planner_scenario_with_both_mechanisms(tmp_path, monkeypatch):
    import json
    import bench_planner as bp
    multi = [n for n in bp.SUITE if bp.SUITE[n].get("modes")]
    assert {"multi-oscore-lost", "multi-oscore-lost-bound", "multi-no-dtls", "multi-dtls-lost"} <= set(multi)
    assert any(bp.SUITE[n].get("bind_identities") for n in multi)
    # the suite runs a day (24 wakes); 7 keep this test short
    monkeypatch.setitem(bp.SUITE, "multi-oscore-lost", dict(bp.SUITE["multi-oscore-lost"], wakes=7))
    bp.main(["--only", "multi-oscore-lost", "--out", str(tmp_path)])
    with open(tmp_path / "bench-planner.json") as f:
        (row,) = json.load(f)["rows"]
    assert set(row["fixed"]) == {"oscore", "oscore-b2", "cid", "resume", "full-handshake"}
    # the fixed DTLS strategies stayed on DTLS: its first handshake, then CID / resumption
    assert set(row["fixed"]["cid"]["paths"]) == {"full-handshake+register", "cid+update"}
    assert row["fixed"]["resume"]["paths"].get("resume+update", 0) >= 5
    # the planner: OSCORE until the server lost it, then DTLS (one Register), every wake ok
    p = row["planner"]
    assert p["ok"] == p["wakes"] == 7 and p["paths"].get("oscore+update") == 2, p["paths"]
    assert p["paths"].get("full-handshake+register") == 1 and p["paths"].get("cid+update") == 3, p["paths"]
    assert 0 < row["ratio"] < 1.2


def test_nrf9160_host_dtls_and_oscore_over_the_modem_socket():
    # the nRF9160 behind the Serial LTE Modem (tools/modem_emu): both mechanisms run on the
    # host over the modem's UDP socket; OSCORE lost at wake 2 -> DTLS in the same wake
    from scenarios import _nrf
    sc = _nrf("nRF9160, OSCORE + host DTLS", "oscore", ["dtls", "oscore", "nosec"], wakes=3)
    sc["modes"] = ["oscore", "psk"]
    sc["security"] = {"cid": "rfc9146", "retransmit_ms": 1500, "max_tries": 2}
    sc["server_drop"] = {2: ["oscore"]}
    rep = run(sc, timeout=400)
    _ok(rep)
    w = rep["wakes"]
    assert [x["path"] for x in w] == ["oscore-b2+register", "oscore+update", "full-handshake+register"], w
    assert w[2]["kind"] == "oscore>dtls" and w[2]["tried"][-1] == ["full-handshake", "ok"]
    assert _lw(_at(rep, 2)) == [("replaced", None), ("register", "dtls-cid")], _at(rep, 2)


def _nrf_modem_dtls(wakes, **kw):
    # the nRF9160 with OSCORE on the host and DTLS run by the modem (#XSSOCKET): one socket
    # in the modem at a time, the dropped mechanism's closed on a switch (net/slm.py use())
    from scenarios import _nrf
    sc = _nrf("nRF9160, OSCORE + modem DTLS", "oscore", ["dtls", "oscore", "nosec"], wakes=wakes, **kw)
    sc["modes"] = ["oscore", "psk"]
    sc["security"] = {"modem": True, "cid": "rfc9146"}
    return sc


def _socks(rep, i):
    """The modem's socket opens and closes during wake i (the emulator's log): [(what, kind)]
    (a wake's vt is the virtual time at its end)."""
    t0 = runner.T0 + rep["wakes"][i - 1]["vt"] if i else 0
    t1 = runner.T0 + rep["wakes"][i]["vt"]
    k = {"socket-open": "udp", "ssocket-open": "dtls"}
    return [(e["kind"], e.get("sock") or k[e["kind"]]) for e in rep["modem"]["events"]
            if t0 <= e["t"] < t1 and e["kind"] in ("socket-open", "ssocket-open", "socket-close")]


def test_nrf9160_oscore_lost_falls_back_to_dtls_in_the_modem():
    # OSCORE over the modem's UDP socket; the server loses its OSCORE records at wake 2: the
    # same wake closes the UDP socket, the modem runs the DTLS handshake, the sample goes out
    rep = run(_nrf_modem_dtls(4, server_drop={2: ["oscore"]}), timeout=500)
    _ok(rep)
    w = rep["wakes"]
    assert [x["path"] for x in w] == ["oscore-b2+register", "oscore+update",
                                      "modem-full-handshake+register", "modem-cid+update"], \
        [(x["path"], x.get("tried")) for x in w]
    assert w[2]["kind"] == "oscore>modem-dtls" and w[2]["tried"][-1] == ["modem-full-handshake", "ok"], w[2]
    assert _socks(rep, 0) == [("socket-open", "udp")], _socks(rep, 0)
    assert _socks(rep, 1) == []
    assert _socks(rep, 2) == [("socket-close", "udp"), ("ssocket-open", "dtls")], _socks(rep, 2)
    assert _socks(rep, 3) == []                 # wake 3 starts on the modem's DTLS socket
    assert "to-dtls" in w[2]["net"]["ev"], w[2]["net"]
    # the server: the Register and the sample of wake 2 came through DTLS (the modem's session)
    assert _lw(_at(rep, 2)) == [("replaced", None), ("register", "dtls-cid")], _at(rep, 2)
    assert [e for e in _at(rep, 2) if e["ev"] == "send"], _at(rep, 2)
    assert _lw(_at(rep, 3)) == [("update", "dtls-cid")]
    assert rep["modem"]["stats"]["handshakes"] == 1
    _one_socket(rep)


def test_nrf9160_dtls_in_the_modem_silent_falls_back_to_oscore():
    # the reverse: modem DTLS first (planner.force "cid"); the server stops DTLS at wake 2:
    # the modem's CID record and its new handshake go unanswered, the DTLS socket is closed,
    # a UDP socket opened, OSCORE (B.2) delivers the sample
    rep = run(_force_cid(_nrf_modem_dtls(3, server_drop={2: ["dtls"]})), timeout=500)
    _ok(rep)
    w = rep["wakes"]
    assert [x["path"] for x in w] == ["modem-full-handshake+register", "modem-cid+update",
                                      "oscore-b2+register"], [(x["path"], x.get("tried")) for x in w]
    assert w[2]["kind"] == "modem-dtls>oscore", w[2]
    assert [t[0] for t in w[2]["tried"]] == ["modem-cid", "modem-full-handshake", "oscore-b2"], w[2]["tried"]
    # (wake 0 starts on security.mode's socket, OSCORE's: closed before the modem's handshake)
    assert _socks(rep, 0)[-2:] == [("socket-close", "udp"), ("ssocket-open", "dtls")], _socks(rep, 0)
    assert _socks(rep, 1) == []
    s2 = _socks(rep, 2)
    assert s2[-2:] == [("socket-close", "dtls"), ("socket-open", "udp")], s2
    assert "to-udp" in w[2]["net"]["ev"], w[2]["net"]
    # the server: OSCORE took over (bind_identities auto: the Update tried, 4.03, Register)
    assert _lw(_at(rep, 2))[-2:] == [("replaced", None), ("register", "oscore")], _at(rep, 2)
    assert [e for e in _at(rep, 2) if e["ev"] == "send"], _at(rep, 2)
    (reg,) = rep["registrations"].values()
    assert reg["identity"] == "01" and reg["mode"] == "oscore", reg
    _one_socket(rep)


def _one_socket(rep):
    """Never two sockets open in the modem at once (the emulator's log over the whole run)."""
    n = 0
    for e in rep["modem"]["events"]:
        n += {"socket-open": 1, "ssocket-open": 1, "socket-close": -1}.get(e["kind"], 0)
        assert 0 <= n <= 1, (e, rep["modem"]["events"])


def _force_cid(sc):
    sc["board"] = dict(sc["board"], planner={"force": "cid"})
    return sc


def test_device_told_binding_but_server_does_not_bind_registers_after_a_403():
    # server.bind_identities true on the device, a server that keeps one identity per
    # registration: the Update from the other identity is answered 4.03, then a Register
    sc = _sc(3, server_drop={2: ["dtls"]}, board={"planner": {"force": "cid"}})
    sc["board"]["server"] = {"bind_identities": True}
    rep = run(sc, timeout=400)
    _ok(rep)
    w = rep["wakes"]
    assert w[2]["kind"] == "dtls>oscore" and w[2]["path"] == "oscore-b2+register", w[2]
    assert _lw(_at(rep, 2)) == [("forbidden", None), ("replaced", None), ("register", "oscore")], _at(rep, 2)


def test_device_learns_that_the_server_does_not_bind():
    # server.bind_identities "auto" (the default) and a server that keeps one identity per
    # registration. DTLS first (planner.force "cid"); register_after_handshake "never", so
    # that every DTLS path, a full handshake too, would be an Update but for the learning.
    # Wake 2: DTLS silent -> OSCORE: the Update is tried (binding unknown), 4.03, Register;
    # the device persists that the server does not bind. Wake 3 (DTLS back) and wake 4 (DTLS
    # silent again): each switch Registers directly, no Update answered 4.03 any more.
    sc = _sc(5, server_drop={2: ["dtls"], 3: ["+dtls"], 4: ["dtls"]},
             board={"planner": {"force": "cid"}})
    sc["board"]["server"] = {"register_after_handshake": "never"}
    rep = run(sc, timeout=500)
    _ok(rep)
    w = rep["wakes"]
    assert [x["kind"].split(">")[-1] for x in w] == ["dtls", "dtls", "oscore", "dtls", "oscore"], \
        [(x["kind"], x["path"]) for x in w]
    assert _lw(_at(rep, 0)) == [("register", "dtls-cid")] and _lw(_at(rep, 1)) == [("update", "dtls-cid")]
    # the first switch: the Update under the other identity refused, then the Register
    assert _lw(_at(rep, 2)) == [("forbidden", None), ("replaced", None), ("register", "oscore")], _at(rep, 2)
    assert any("does not bind" in x for x in w[2]["log"]), w[2]["log"]
    # the next switches: the Register at once
    assert _lw(_at(rep, 3)) == [("replaced", None), ("register", "dtls-cid")], _at(rep, 3)
    assert _lw(_at(rep, 4)) == [("replaced", None), ("register", "oscore")], _at(rep, 4)
    assert all(x["path"].endswith("+register") for x in w[2:]), [x["path"] for x in w]
    assert len(events(rep, "forbidden")) == 1
    print("heap peaks", [x["heap_peak"] for x in w])


def test_power_cuts_with_both_mechanisms_never_replay_a_nonce():
    # RTC memory lost before wakes 2 and 4 (flash kept): each mechanism resumes its own
    # counters from flash; the server sees no replayed OSCORE request and no DTLS record replay
    sc = _sc(6, power_cut_at=[2, 4], server_drop={3: ["oscore"]})
    rep = run(sc, timeout=400)
    _ok(rep)
    assert sum(1 for w in rep["wakes"] if w.get("power_cut")) == 2
    drops = [e for e in events(rep, "drop") if "replay" in str(e.get("why"))]
    assert not drops, drops
    assert {w["kind"].split(">")[-1] for w in rep["wakes"]} == {"oscore", "dtls"}


def test_dtls_refused_ends_only_dtls_and_the_wake_goes_on_with_oscore():
    # the server restarts DTLS without our PSK: the handshake is refused with an alert
    # (auth-failed, which ends a single-mechanism wake); OSCORE still works
    sc = _sc(3, server_drop={2: ["dtls-psk"]}, board={"planner": {"force": "resume"}},
             security=dict(FAST_DTLS, cid=None))
    rep = run(sc, timeout=400)
    _ok(rep)
    w = rep["wakes"]
    assert w[1]["path"] == "resume+update", w[1]
    # the server answers the resumption with a full handshake (it lost the session) and refuses
    # our PSK identity: auth-failed; DTLS's full handshake is skipped, OSCORE goes on
    assert w[2]["tried"] == [["resume", "auth-failed"], ["oscore-b2", "ok"]], w[2]["tried"]
    assert w[2]["kind"] == "dtls>oscore" and w[2]["path"] == "oscore-b2+register", w[2]
    assert _lw(_at(rep, 2))[-1] == ("register", "oscore"), _at(rep, 2)
