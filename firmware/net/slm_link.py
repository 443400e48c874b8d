"""Link set-up of the nRF9160 through the SLM, run only when the modem needs it (first boot, after
a modem reset, or when our persisted state says we never configured it): loaded, used and
dropped by net/slm.py, so a normal wake (modem already attached and in PSM) costs no heap for it.

Order (docs/nrf9160.md): CFUN=4 (flight mode: %XSYSTEMMODE and %CMNG are refused in CFUN=1),
+CMEE=1 (numeric +CME ERROR codes), %XSYSTEMMODE (LTE-M or NB-IoT), the PSK credentials for
modem-offloaded DTLS, +CEREG=5 (registration URCs with the granted PSM timers), +CSCON=1 (RRC
state URCs), +CPSMS with the timers derived from the schedule, %RAI=1, optionally +CEDRXS,
#XDATACTRL (dialect A: the data-mode time limit that sends a datagram), then CFUN=1.
The requested PSM timers go to the log; the granted ones come with +CEREG (slm.SlmNet._urc).
"""
from log import log
from net.slm import timer_s, _UP, _CRED


def timer_bits(sec, ext=True):
    """Seconds -> the bit string lte_lc sends (psm_encode_timer): the unit giving the smallest
    value >= sec, value <= 31."""
    t = (600, 3600, 36000, 2, 30, 60, 1152000) if ext else (2, 60, 360)
    best = None
    for u in range(len(t)):
        v = (sec + t[u] - 1) // t[u]
        if v <= 31 and (best is None or v * t[u] < best[0]):
            best = (v * t[u], u, v)
    if best is None:
        best = (0, len(t) - 1, 31)
    return "{:03b}{:05b}".format(best[1], best[2])


def configure(net, cfun):
    m = net.m
    ev = net.events
    if cfun != 4:
        net.cmd("AT+CFUN=4", 10000)
    net.cmd("AT+CMEE=1", soft=1)
    rat = m.get("rat", "lte-m")
    net.cmd("AT%%XSYSTEMMODE=%s,0,0" % ("1,0" if rat == "lte-m" else "0,1"))
    sec = net.sec
    if sec is not None and not net.flags & _CRED:
        provision(net, sec[0])
    net.cmd("AT+CEREG=5")
    net.cmd("AT+CSCON=1", soft=1)
    psm = m.get("psm", {})
    if psm.get("enable", True):
        sleep_s = int(m.get("_sleep_s") or 3600)
        tau = psm.get("tau_s") or max(3 * sleep_s, 3600)
        act = psm.get("active_s", 2)
        tb, ab = timer_bits(tau), timer_bits(act, False)
        net.cmd('AT+CPSMS=1,,,"%s","%s"' % (tb, ab))
        ev.append("psm-req:%d/%d" % (timer_s(tb), timer_s(ab, False)))
        log("PSM requested: TAU %d s (%s), active %d s (%s)" % (timer_s(tb), tb, timer_s(ab, False), ab))
    else:
        net.cmd("AT+CPSMS=0")
    if m.get("rai", True) and net.cmd("AT%RAI=1", soft=1) is None:
        ev.append("no-rai")
    ed = m.get("edrx")
    if ed:
        net.cmd('AT+CEDRXS=2,%d,"%s"' % (4 if rat == "lte-m" else 5, ed))
    if net.A:
        net.cmd("AT#XDATACTRL=%d" % m.get("dm_time_limit_ms", 100))
    net.cmd("AT+CFUN=1", 10000)
    net.flags |= _UP
    ev.append("configured")


def provision(net, tag):
    """Write the PSK identity and key into the modem's credential store (CFUN=4 only). The key
    goes to the modem only: never logged."""
    ident, key = net.sec[1], net.sec[2]
    for typ in (3, 4):
        net.cmd("AT%%CMNG=3,%d,%d" % (tag, typ), soft=1)    # delete first: each pair is unique
    net.cmd('AT%%CMNG=0,%d,4,"%s"' % (tag, ident))
    net._w(b'AT%%CMNG=0,%d,3,"' % tag)
    net._w(key.encode() if isinstance(key, str) else key)
    net._w(b'"' + net.eol)
    net._final("AT%CMNG=0,<tag>,3,<psk>", net.b.ticks_ms() + 5000, b"%CMNG:")
    net.flags |= _CRED
    net.events.append("psk-written")
