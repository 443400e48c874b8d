"""The nRF9160's radio states and energy, on the scenario's simulated clock.

States: off (CFUN 0/4), registered and RRC connected (each uplink or downlink keeps it; released
`inactivity_s` after the last activity, or `rai_release_s` after the host says no more data is
expected: RAI), RRC idle for the granted Active Time (T3324, paging), then PSM until the next
uplink, with a periodic TAU every granted T3412. Without PSM the idle state lasts (eDRX average
current if eDRX is on, else the idle DRX current).

Energy, in mJ, accumulated per category from Nordic's published figures where there is one and
model assumptions elsewhere (docs/nrf9160.md lists which is which):
- lumps: RRC connection set-up from idle/PSM (`setup_mJ`), each datagram's air time at the TX or
  RX current (`bytes*8/rate`), registration (`reg_s` at `search_mA`), each periodic TAU (`tau_mJ`),
  each round trip's network latency (`rtt_s` connected: loopback has none);
- states integrated over simulated time: connected (`conn_mA`, the C-DRX tail), idle
  (`idle_mA` or the eDRX average), PSM floor (`psm_uA`).
Time that the firmware spends between datagrams is real (awake) time on the simulated clock.
"""

VBAT = 3.7   # V: the Product Specification's current figures are at VBAT 3.7 V

# Published (nRF9160 PS "Modem current consumption"): psm_uA 2.7; PSM TAU 105 mJ (LTE-M) and
# 550 mJ (NB-IoT); eDRX averages 18/6 uA (LTE-M 81.92/655.36 s), 37/9 uA (NB-IoT); uplink at
# 23 dBm 100-115 mA (LTE-M), NB-IoT 40-45 mA at 10 dBm. The rest are model assumptions.
PROFILES = {
    "lte-m": {"psm_uA": 2.7, "tau_mJ": 105.0, "tx_mA": 110.0, "rx_mA": 40.0, "conn_mA": 6.0,
              "idle_mA": 0.6, "setup_mJ": 105.0, "rate_up_kbps": 180.0, "rate_down_kbps": 300.0,
              "inactivity_s": 10.0, "rai_release_s": 0.2, "rtt_s": 0.1, "reg_s": 3.0, "search_mA": 40.0,
              "edrx_uA": {"0101": 18.0, "1011": 6.0}, "act": 7},
    "nb-iot": {"psm_uA": 2.7, "tau_mJ": 550.0, "tx_mA": 45.0, "rx_mA": 40.0, "conn_mA": 5.0,
               "idle_mA": 0.5, "setup_mJ": 550.0, "rate_up_kbps": 25.0, "rate_down_kbps": 25.0,
               "inactivity_s": 20.0, "rai_release_s": 0.5, "rtt_s": 1.0, "reg_s": 8.0, "search_mA": 45.0,
               "edrx_uA": {"0101": 37.0, "1011": 9.0}, "act": 9},
}

CATS = ("reg", "setup", "tx", "rx", "rtt", "connected", "idle", "psm", "tau")


class Radio:
    def __init__(self, clock, profile="lte-m", **over):
        self.clock = clock
        self.rat = profile
        self.p = dict(PROFILES[profile])
        self.p.update(over)
        self.e = dict((c, 0.0) for c in CATS)
        self.t = clock.now()
        self.on = False              # CFUN=1 and registered
        self.rrc = False             # RRC connected
        self.release_at = None       # when the connection ends (inactivity or RAI)
        self.idle_until = None       # end of the Active Time (then PSM)
        self.last_tau = self.t
        self.psm = True
        self.tau_s = 3 * 3600        # granted T3412
        self.active_s = 2            # granted T3324
        self.edrx = None
        self.rai = False
        self.counts = {"setups": 0, "taus": 0, "regs": 0, "rtts": 0}
        self.waiting = False         # an uplink waits for its answer (a round trip)

    def _mw(self, ma):
        return ma * VBAT

    def now(self):
        return self.clock.now()

    def advance(self, now=None):
        """Integrate the state energy from self.t to now, with the state changes in between."""
        now = self.now() if now is None else now
        p = self.p
        while self.t < now:
            t = self.t
            if not self.on:
                self.e["psm"] += (now - t) * self._mw(p["psm_uA"] / 1000.0)
                self.t = now
            elif self.rrc:
                end = min(now, self.release_at)
                self.e["connected"] += (end - t) * self._mw(p["conn_mA"])
                self.t = end
                if end >= self.release_at:
                    self.rrc = False
                    self.last_tau = end
                    self.idle_until = end + (self.active_s if self.psm else 1e18)
            elif self.idle_until is not None and t < self.idle_until:
                end = min(now, self.idle_until)
                ua = self.p["edrx_uA"].get(self.edrx) if self.edrx else None
                ma = ua / 1000.0 if ua else p["idle_mA"]
                self.e["idle"] += (end - t) * self._mw(ma)
                self.t = end
            else:   # PSM, with periodic TAUs
                nxt = self.last_tau + self.tau_s if self.tau_s > 0 else 1e18
                end = min(now, nxt)
                self.e["psm"] += (end - t) * self._mw(p["psm_uA"] / 1000.0)
                self.t = end
                if end >= nxt:
                    self.e["tau"] += p["tau_mJ"]
                    self.counts["taus"] += 1
                    self.last_tau = end

    def register(self):
        self.advance()
        self.e["reg"] += self.p["reg_s"] * self._mw(self.p["search_mA"])
        self.counts["regs"] += 1
        self.on = True
        self.rrc = False
        self.idle_until = self.t + (self.active_s if self.psm else 1e18)
        self.last_tau = self.t

    def power_off(self):
        self.advance()
        self.on = False
        self.rrc = False

    def reachable(self):
        """Can a downlink datagram reach the modem now (connected or paging in idle)?"""
        self.advance()
        return self.on and (self.rrc or (self.idle_until is not None and self.t < self.idle_until))

    def _connect(self):
        self.advance()
        if not self.rrc:
            self.e["setup"] += self.p["setup_mJ"]
            self.counts["setups"] += 1
            self.rrc = True
            self.rai = False
        self.release_at = self.t + self.p["inactivity_s"]

    def uplink(self, n):
        self._connect()
        self.e["tx"] += n * 8 / (self.p["rate_up_kbps"] * 1000.0) * self._mw(self.p["tx_mA"])
        self.waiting = True

    def downlink(self, n):
        self.advance()
        if not self.rrc:      # paged in idle: the modem connects to take it
            self._connect()
        else:
            self.release_at = max(self.release_at, self.t + (self.p["rai_release_s"] if self.rai
                                                             else self.p["inactivity_s"]))
        self.e["rx"] += n * 8 / (self.p["rate_down_kbps"] * 1000.0) * self._mw(self.p["rx_mA"])
        if self.waiting:    # the network's latency of one round trip, connected (the harness's is ~0)
            self.e["rtt"] += self.p["rtt_s"] * self._mw(self.p["conn_mA"])
            self.counts["rtts"] += 1
            self.waiting = False

    def release_hint(self):
        """RAI NO_DATA: the network releases the connection early."""
        self.advance()
        if self.rrc:
            self.rai = True
            self.release_at = min(self.release_at, self.t + self.p["rai_release_s"])

    def total(self):
        self.advance()
        return dict(self.e)


def board_radio(profile):
    """The wake planner's cost figures (a board config's `radio` section, docs/planner.md) derived
    from this model, so the firmware's model and the emulator's agree: per byte the air time at
    the bearer's rate and the TX/RX current, per round trip the network latency connected, the
    RRC set-up as the per-wake fixed cost, the connected (C-DRX) current while waiting, listening
    and in the tail (the inactivity timer, or the RAI release). No per-datagram charge: the model
    has none beyond the air time."""
    p = PROFILES[profile]
    return {"wake_uJ": round(p["setup_mJ"] * 1000),
            "tx_uJ_per_byte": round(8e6 / (p["rate_up_kbps"] * 1000.0) * p["tx_mA"] * VBAT / 1000.0, 2),
            "rx_uJ_per_byte": round(8e6 / (p["rate_down_kbps"] * 1000.0) * p["rx_mA"] * VBAT / 1000.0, 2),
            "datagram_uJ": 0, "rtt_ms": round(p["rtt_s"] * 1000), "rx_mW": round(p["conn_mA"] * VBAT, 2),
            "idle_mW": round(p["conn_mA"] * VBAT, 2), "tail_ms": round(p["inactivity_s"] * 1000),
            "rai_tail_ms": round(p["rai_release_s"] * 1000)}
