"""nRF9160 Serial LTE Modem emulator for the scenario runner (see emu.py and radio.py).

A scenario with a `modem` key runs the firmware with boards/nrf9160.json's `modem` section over
this emulator:

    "modem": {"dialect": "A" | "B", "profile": "lte-m" | "nb-iot",
              "grant": {"tau_s": 10800, "active_s": 2},        # what the network grants
              "radio": {...},                                   # radio.py profile overrides
              "faults": {wake index: {"reset": True, "coverage": False, "error": {"AT#XSENDTO": 1},
                                     "garble": 0.3, "split": True, "slow_bps": 9600, "storm": 5,
                                     "echo": True, "silent": True}}}

Faults hold for the wake they are given for (set while the host sleeps before it) and are
cleared before the next one. Energy per wake (the wake and the sleep after it, mJ, from the
modem's states) is added to each wake's record as `energy_mJ` and `energy`.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from emu import ModemEmu  # noqa: E402

DEFAULT_FAULTS = {"coverage": True, "error": {}, "garble": 0, "split": False, "slow_bps": 0, "storm": 0,
                  "echo": False, "silent": False}


class ScenarioModem:
    def __init__(self, emu, mcfg):
        self.emu = emu
        self.cfg = mcfg

    def before_wake(self, i, label):
        f = dict(DEFAULT_FAULTS, error={})
        f.update(self.cfg.get("faults", {}).get(i, {}))
        self.emu.fault(**f)
        self.emu.mark(label)

    def after_run(self, wakes, quiet=True):
        self.emu.mark("end")
        segs = self.emu.segments()
        for w, (label, d, tot, counts) in zip(wakes, segs):
            w["energy_mJ"] = round(tot, 2)
            w["energy"] = dict((k, round(v, 3)) for k, v in d.items() if v)
            w["radio_counts"] = counts
        if not quiet:
            print("modem energy per wake (%s, dialect %s; the wake and the sleep after it, mJ):"
                  % (self.emu.radio.rat, self.emu.dialect))
            for w in wakes:
                e = w.get("energy", {})
                print("  wake %-3d %-26s %9.2f mJ  (%s)" % (w["wake"], w.get("path", "?"), w.get("energy_mJ", 0),
                                                           ", ".join("%s %.1f" % kv for kv in sorted(e.items()))))

    def to_json(self):
        return {"dialect": self.emu.dialect, "profile": self.emu.radio.rat, "stats": self.emu.stats,
                "events": self.emu.events[-500:]}

    def close(self):
        self.emu.close()


def start_for_scenario(mcfg, clock, target, board):
    m = dict(board.get("modem") or {})
    dialect = mcfg.get("dialect", m.get("dialect", "A"))
    profile = mcfg.get("profile", m.get("rat", "lte-m"))
    emu = ModemEmu(clock, target, dialect=dialect, profile=profile, grant=mcfg.get("grant"),
                   seed=mcfg.get("seed", 1), **mcfg.get("radio", {}))
    addr = emu.start()
    m.update({"dialect": dialect, "rat": profile})
    m.update(mcfg.get("board", {}))
    board["modem"] = m
    return ScenarioModem(emu, mcfg), {"LWM2M_UART": "%s:%d" % addr}
