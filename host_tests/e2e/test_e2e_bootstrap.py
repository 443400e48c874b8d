"""End to end: LwM2M 1.1 client-initiated bootstrap (docs/bootstrap.md), firmware under
micropython at the harness heap budget, the harness bootstrap server (its own CoAP and TLV
codecs) and the harness LwM2M server behind a NAT.

What the servers received is asserted: the bootstrap server's operations and the client's
answers, then a registration in the provisioned security mode."""
import json
import os

from scenario_util import base, run, events

SECRETS = {"psk_identity": "bs-provisioned", "psk_key": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
           "oscore": {"master_secret": "1112131415161718191a1b1c1d1e1f20",
                      "master_salt": "0102030405060708", "sender_id": "0a", "recipient_id": "0b"}}


def _bs(mode, wakes=3, **kw):
    b = {"mode": mode, "secrets": SECRETS}
    b.update(kw)
    plugins = {"nosec": ["nosec"], "psk": ["dtls", "nosec"], "oscore": ["oscore", "nosec"]}[mode]
    sc = base(wakes=wakes, plugins=plugins, bootstrap=b)
    if mode == "psk":
        sc["plugin_cfg"] = {"dtls": {"psk": {}}}    # only what the bootstrap server provisions
    return sc


def _check_bootstrap(rep, mode):
    sess = rep["bootstrap"]["sessions"]
    assert len(sess) == 1
    ops = list(sess.values())[0]["ops"]
    codes = [(o["op"], o["uri"], o["code"]) for o in ops]
    assert codes[0] == ("delete", "/", "2.02"), codes
    assert codes[1] == ("discover", "/", "2.05"), codes
    disc = ops[1]["value"]
    assert disc.startswith('lwm2m="1.1"') and "</0/0>" in disc and "</3/0>" in disc, disc
    assert ("write", "/0/1", "2.04") in codes and ("write", "/1/0", "2.04") in codes
    if mode == "oscore":
        assert ("write", "/21/0", "2.04") in codes
    rd = [o for o in ops if o["op"] == "read"][0]
    assert rd["code"] == "2.05" and rd["value"][1] == 86400, rd     # /1/0/1 lifetime back
    assert codes[-1] == ("finish", "/bs", "2.04"), codes


def _no_secret_in_logs(rep):
    text = json.dumps([w.get("log") for w in rep["wakes"]]) + json.dumps(rep["wakes"], default=str)
    for s in (SECRETS["psk_key"], SECRETS["oscore"]["master_secret"]):
        assert s not in text


def _bootstrap_then_register(mode, path, budget=None):
    sc = _bs(mode)
    if budget:
        sc["heap_budget"] = {i: budget for i in range(3)}
    rep = run(sc)
    w = rep["wakes"]
    assert [x["result"] for x in w] == ["ok", "ok", "ok"], [(x["result"], x.get("error"), x.get("log")) for x in w]
    assert w[0]["path"] == "bootstrap" and w[0]["bootstrap"] == "ok" and w[0]["bs_mode"] == mode
    assert w[1]["path"] == path + "+register", w[1]["path"]
    assert w[0]["sleep_ms"] <= 1000          # the Register follows at once
    _check_bootstrap(rep, mode)
    regs = events(rep, "register")
    assert len(regs) == 1 and regs[0]["mode"].startswith({"psk": "dtls"}.get(mode, mode))
    if mode == "psk":
        assert list(rep["registrations"].values())[0]["identity"] == "bs-provisioned"
    assert len(events(rep, "update")) == 1
    _no_secret_in_logs(rep)
    return rep


def test_bootstrap_then_register_nosec():
    _bootstrap_then_register("nosec", "nosec")


def test_bootstrap_then_register_psk():
    _bootstrap_then_register("psk", "full-handshake")


def test_bootstrap_then_register_oscore():
    _bootstrap_then_register("oscore", "oscore-b2")


def test_bootstrap_after_registration_failure():
    """The first account points at a dead port: after bootstrap.after_fails failed wakes the
    device bootstraps again (LwM2M 1.1) and registers with the second account."""
    sc = _bs("nosec", wakes=6, dead_first=True, board={"after_fails": 2})
    sc["board"]["schedule"]["error_backoff_s"] = 600
    rep = run(sc)
    w = rep["wakes"]
    res = [(x["path"], x["result"]) for x in w]
    assert res[0] == ("bootstrap", "ok") and res[1][1] == "no-answer" and res[2][1] == "no-answer", res
    assert res[3] == ("bootstrap", "ok") and w[3]["bs_why"] == "registration-failed-2", res
    assert res[4] == ("nosec+register", "ok") and res[5] == ("nosec+update", "ok"), res
    assert len([e for e in rep["bootstrap"]["events"] if e["ev"] == "bootstrap-request"]) == 2
    assert len(events(rep, "register")) == 1


def test_bootstrap_interrupted_commits_nothing():
    """No Bootstrap-Finish (the server stops, as a power cut of the device mid-bootstrap would
    end it): nothing is committed, the device does not register with half a set and asks
    again at the next wake; an inconsistent set (no Server instance) gets 4.06 at Finish."""
    sc = _bs("nosec", wakes=2, board={"timeout_ms": 4000, "idle_ms": 1500})
    rep = run(dict(sc, bootstrap=dict(sc["bootstrap"], drop_ops=["finish"])))
    w = rep["wakes"]
    assert [x["path"] for x in w] == ["bootstrap", "bootstrap"], [x["path"] for x in w]
    assert all(x["result"] != "ok" for x in w)
    assert not events(rep, "register")
    rep = run(dict(sc, bootstrap=dict(sc["bootstrap"], drop_ops=["/1/0"])))
    w = rep["wakes"]
    assert w[0]["result"] == "bootstrap-refused", w[0]
    fin = [o for o in list(rep["bootstrap"]["sessions"].values())[0]["ops"] if o["op"] == "finish"]
    assert fin[0]["code"] == "4.06"
    assert not events(rep, "register")


def test_power_cut_mid_bootstrap_leaves_no_half_written_account():
    """The power goes after the second staged Write (the process ends, RTC memory is lost):
    nothing was committed, so the next wake bootstraps again from the start and the device
    registers with the complete account."""
    sc = _bs("psk", wakes=3)
    sc["plugin_cfg"] = {"dtls": {"psk": {}}}
    sc["wake_env"] = {0: {"LWM2M_DIE_AFTER_BS_WRITES": "3"}}     # Delete, Write /0/1, Write /1/0
    sc["power_cut_at"] = [1]
    rep = run(sc)
    w = rep["wakes"]
    assert w[0]["result"] == "no-wake-line", w[0]
    assert w[1]["path"] == "bootstrap" and w[1]["result"] == "ok" and w[1]["bs_why"] == "no-account", w[1]
    assert w[2]["path"] == "full-handshake+register" and w[2]["result"] == "ok", w[2]
    reqs = [e for e in rep["bootstrap"]["events"] if e["ev"] == "bootstrap-request"]
    assert len(reqs) == 2
    regs = events(rep, "register")
    assert len(regs) == 1 and list(rep["registrations"].values())[0]["identity"] == "bs-provisioned"
