"""The emulated nRF9160's radio states and energy (tools/modem_emu/radio.py) on a fake clock:
the published figures come out where they should (PSM floor, TAU events, eDRX average), RAI
shortens the connected tail, registration and RRC set-up are counted once each."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools", "modem_emu"))
from radio import Radio, VBAT  # noqa: E402


class Clock:
    def __init__(self):
        self.t = 1000.0

    def now(self):
        return self.t


def _radio(profile="lte-m", **kw):
    c = Clock()
    r = Radio(c, profile, **kw)
    return c, r


def test_psm_floor_and_periodic_tau():
    c, r = _radio()
    r.tau_s = 3600
    r.active_s = 2
    r.register()
    e0 = r.total()
    c.t += 10 * 3600 + 2          # ten hours in PSM after the active time
    e = r.total()
    assert r.counts["taus"] == 10
    assert abs((e["tau"] - e0["tau"]) - 10 * 105.0) < 1e-6        # PS: 105 mJ per LTE-M TAU
    psm_mJ = e["psm"] - e0["psm"]
    assert abs(psm_mJ - 2.7e-3 * VBAT * 10 * 3600) < 1.0           # PS: 2.7 uA floor


def test_rai_cuts_the_connected_tail():
    tails = []
    for rai in (False, True):
        c, r = _radio()
        r.register()
        c.t += 100
        r.uplink(20)
        c.t += 0.3
        r.downlink(10)
        if rai:
            r.release_hint()
        c.t += 3600
        tails.append(r.total()["connected"])
        assert r.counts["setups"] == 1 and r.counts["rtts"] == 1
    assert tails[0] > 10 * 6.0 * VBAT * 0.99          # the 10 s inactivity timer at 6 mA
    assert tails[1] < 1.0 * 6.0 * VBAT                 # released 0.2 s after the hint


def test_nb_iot_tau_and_edrx_average():
    c, r = _radio("nb-iot")
    r.tau_s = 1800
    r.register()
    c.t += 3600 + 2
    tau = r.total()["tau"]
    assert r.counts["taus"] == 2 and abs(tau - 2 * 550.0) < 1e-6            # PS: 550 mJ per NB-IoT TAU
    c, r = _radio()
    r.psm = False
    r.edrx = "0101"
    r.register()
    c.t += 3600
    assert abs(r.total()["idle"] - 18e-3 * VBAT * 3600) < 1.0     # PS: 18 uA at 81.92 s


def test_downlink_in_psm_is_not_reachable():
    c, r = _radio()
    r.register()
    assert r.reachable()
    c.t += 3600
    assert not r.reachable()
