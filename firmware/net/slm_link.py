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
from net.slm import ModemError, timer_bits, timer_s, _UP, _CRED


def configure(net, cfun):
    at = net.at
    m = net.m
    if cfun != 4:
        at.cmd("AT+CFUN=4", 10000)
    try:
        at.cmd("AT+CMEE=1")
    except ModemError:
        pass
    rat = m.get("rat", "lte-m")
    at.cmd("AT%%XSYSTEMMODE=%s,0,0" % ("1,0" if rat == "lte-m" else "0,1"))
    sec = net.secure
    if sec is not None and not net.flags & _CRED:
        provision(net, sec[0])
    at.cmd("AT+CEREG=5")
    at.cmd("AT+CSCON=1")
    psm = m.get("psm", {})
    if psm.get("enable", True):
        sleep_s = int(m.get("_sleep_s") or 3600)
        tau = psm.get("tau_s") or max(3 * sleep_s, 3600)
        act = psm.get("active_s", 2)
        tb, ab = timer_bits(tau), timer_bits(act, False)
        at.cmd('AT+CPSMS=1,,,"%s","%s"' % (tb, ab))
        net.event("psm-req:%d/%d" % (timer_s(tb), timer_s(ab, False)))
        log("PSM requested: TAU %d s (%s), active %d s (%s)" % (timer_s(tb), tb, timer_s(ab, False), ab))
    else:
        at.cmd("AT+CPSMS=0")
    if m.get("rai", True):
        try:
            at.cmd("AT%RAI=1")
        except ModemError:
            net.event("no-rai")
    ed = m.get("edrx")
    if ed:
        at.cmd('AT+CEDRXS=2,%d,"%s"' % (4 if rat == "lte-m" else 5, ed))
    if net.dialect == "A":
        at.cmd("AT#XDATACTRL=%d" % m.get("dm_time_limit_ms", 100))
    at.cmd("AT+CFUN=1", 10000)
    net.flags |= _UP
    net.event("configured")


def provision(net, tag):
    """Write the PSK identity and key into the modem's credential store (CFUN=4 only). The key
    goes to the modem only: never logged."""
    import json
    s = getattr(net, "psk", None)
    if not s:
        raise ModemError("AT%CMNG", "no PSK")
    ident, key = s
    at = net.at
    for typ in (3, 4):
        try:
            at.cmd("AT%%CMNG=3,%d,%d" % (tag, typ))          # delete: each pair is unique
        except ModemError:
            pass
    at.cmd('AT%%CMNG=0,%d,4,%s' % (tag, json.dumps(ident)))
    at.write(b'AT%%CMNG=0,%d,3,"' % tag)
    at.write(key.encode() if isinstance(key, str) else key)
    at.write(b'"')
    at.write(at.eol)
    at.final("AT%CMNG=0,<tag>,3,<psk>", at.deadline(5000), b"%CMNG:")
    net.flags |= _CRED
    net.event("psk-written")
