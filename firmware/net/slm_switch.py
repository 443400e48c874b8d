"""The nRF9160 (net/slm.py) with DTLS in the modem and another mechanism for the same server
(security.modes with security.modem, docs/planner.md "Several mechanisms for one server"):
wake/mechanisms.py calls use() before a path of another mechanism runs, then drops this module.
A module of its own, not part of net/slm.py or wake/mechanisms.py: every name in a loaded
module is interned for the whole wake (heap), and a few more pushed MicroPython's name pool
over a doubling in the modem-DTLS and the OSCORE-with-DTLS wakes (7.4 and 7.7 KB).
"""
from net.slm import _SECOPEN


def use(n, dtls, d):
    """The nRF9160 (net/slm.py) with DTLS in the modem and another mechanism: its DTLS socket
    for DTLS, its UDP socket for the others. A switch closes the dropped mechanism's socket in
    the modem (one socket at a time; a DTLS session goes with its socket) and opens the UDP one
    (sec/modem_dtls.py opens the DTLS one with its handshake). d: the (host, port) to aim at."""
    n.host, n.port = d
    s = n.sec if dtls else None
    if (s is None) == (n.secure is None):
        return
    h = n.h
    if h >= 0:
        if n.A:
            if n.cmd("AT#XSOCKETSELECT=%d" % h, soft=1) is not None:
                n.cmd("AT#XSOCKET=0", soft=1)
        else:
            n.cmd("AT#XCLOSE=%d" % h, soft=1)
    if n.secure is not None:
        n.flags &= ~_SECOPEN        # the session went with its socket
    n.events.append("to-dtls" if s else "to-udp")
    n.secure = s
    n.h, n.oh = n.oh, -1
    n.armed = n.apoll = 0
    if s is None:
        n._open(1)                  # the UDP socket: kept if the modem still has it, else new
    n._save()
