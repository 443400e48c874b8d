"""Modem-offloaded DTLS (security.mode "psk" with security.modem true): the nRF9160 runs DTLS 1.2 PSK itself on an
`AT#XSSOCKET`; the host moves plaintext CoAP over the modem's secure socket (net/slm.py with
`secure`). The PSK is in the modem's credential store (`AT%CMNG`, written in CFUN=4 by
net/slm_link.py under `modem.sec_tag`); the Connection ID is asked for with `#XSSOCKETOPT` 14
(value 2: request a CID) and the session cache with 12, before `#XCONNECT` runs the handshake
in the modem.

Paths (the planner appends +update / +register):
- 'modem-cid': the modem still holds the socket and its DTLS session (it stayed in PSM while
  the host slept; the RTC 'mdm' section says which handle): nothing to set up, one record each
  way, the CID lets the server follow the new NAT port;
- 'modem-full-handshake': (re)open the secure socket and let the modem run a full handshake: first
  contact, after a modem reset (CFUN 0 at wake: sockets and sessions lost), a lost registration
  (the PDN took the socket with it), or when 'modem-cid' got no answer (the server lost the
  session). The old socket is closed first. The planner counts these in the slots of 'cid' and
  'full-handshake' (wake/planner.py), and a modem handshake is followed by a Register.
What it does not do: certificates, session resumption across a modem reset (the nRF9160's
DTLS session cache is not documented for DTLS: docs/nrf9160.md), nonce bookkeeping (the modem
owns the record sequence numbers; the host never sees keys).
"""
import log
from coap import codec as C
from errors import NoAnswer, SessionUnknown
from net.slm import fields, _int, _SECOPEN


class ModemDtlsChannel:
    kind = "modem-dtls"

    def __init__(self, net, store, board, cfg, secrets):
        self.net = net
        self.board = board
        self.cfg = cfg
        self.dropped = 0
        self.last_error = None
        self.path_taken = None

    def paths(self):
        n = self.net
        if n.flags & _SECOPEN and n.h >= 0:
            return ["modem-cid", "modem-full-handshake"]
        return ["modem-full-handshake"]

    def connect(self, path):
        n = self.net
        self.path_taken = path
        if path == "modem-cid":
            if not (n.flags & _SECOPEN and n.h >= 0 and n.h in self._live()):
                n.flags &= ~_SECOPEN
                raise SessionUnknown("modem: the DTLS socket is gone")
            return
        self._close_old()
        A = n.A
        tag = n.sec[0]
        r = n.cmd("AT#XSSOCKET=1,2,0,%d,0" % tag, 5000)
        n.h = _int(fields(r[0])[0]) if r else -1
        if n.h < 0:
            raise NoAnswer("modem: no DTLS socket")
        n.events.append("ssocket-opened")
        p = "" if A else "%d," % n.h
        if self.cfg.get("cid", "rfc9146"):
            n.cmd("AT#XSSOCKETOPT=%s1,14,2" % p)
        if self.cfg.get("session_cache", True):
            n.cmd("AT#XSSOCKETOPT=%s1,12,1" % p, soft=1)
        if n.cmd('AT#XCONNECT=%s"%s",%d' % (p, n.host, n.port), int(self.cfg.get("handshake_ms", 60000)),
                 soft=1) is None:
            n.flags &= ~_SECOPEN
            n._save()
            raise NoAnswer("modem: DTLS handshake failed (#XCONNECT)")
        n.flags |= _SECOPEN
        n.armed = 0
        n._save()
        n.events.append("modem-handshake")
        if log.trace:
            log.trace("handshake")

    def _live(self):
        n = self.net
        if n.A:
            return [_int(fields(x)[0]) for x in n.cmd("AT#XSOCKETSELECT?") if x.count(b",") > 3]
        return [_int(fields(x)[0]) for x in n.cmd("AT#XSSOCKET?")]

    def _close_old(self):
        n = self.net
        h = n.h
        if h < 0:
            return
        n.h = -1
        n.flags &= ~_SECOPEN
        if n.A:
            if n.cmd("AT#XSOCKETSELECT=%d" % h, soft=1) is not None:
                n.cmd("AT#XSOCKET=0", soft=1)
        else:
            n.cmd("AT#XCLOSE=%d" % h, soft=1)
        n._save()

    def forget_path(self, path):
        if path == "modem-cid":
            self.net.flags &= ~_SECOPEN

    def send(self, msg):
        self.net.send(C.encode(msg))

    def recv(self, timeout_ms):
        b = self.board
        t0 = b.ticks_ms()
        while True:
            d = log.recv(self.net, b, t0, timeout_ms)
            if d is None:
                return None
            try:
                return C.decode(d)
            except C.CoapError as e:
                self.dropped += 1
                self.last_error = str(e)

    def save(self):
        return None          # the session lives in the modem; its handle in the 'mdm' section

    def restore(self, b):
        return False

    def forget(self):
        self.net.flags &= ~_SECOPEN

    def estimate(self, path):
        # plaintext CoAP Update 13 B + ACK 5 B inside one DTLS 1.2 CID record each way
        # (13-byte header + 4-byte CID + 8-byte explicit nonce + 8-byte CCM_8 tag + inner type)
        if path == "modem-cid":
            return (13 + 34, 5 + 34, 2, 1)
        return (13 + 34 + 350, 5 + 34 + 300, 10, 4)

    def settle(self):
        pass
