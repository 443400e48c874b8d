"""Fuzz targets for the nRF9160 Serial LTE Modem AT driver (firmware/net/slm.py), registered
through targets.MODULES: the response field splitter and the unsolicited-result handler, fed
lines as the UART gives them (any bytes, split at CR LF). The driver's contract: every outcome
is state or NetworkDown, never another exception."""
from engine import target
from errors import NetworkDown

_URCS = (b"+CEREG: ", b"#XAPOLL: ", b"Ready", b"INIT ERROR", b"%XMODEMSLEEP: ", b"+CSCON: ",
         b"#XDATAMODE: ", b"+CEDRXP: ", b"%RAI: ", b"", b"OK", b"ERROR", b"+CME ERROR: ")


class _State:
    """The attributes SlmNet._urc reads and writes (no UART, no link)."""


def _slm():
    n = _State()
    n.stat = n.act = n.tau = 0
    n.h = n.oh = 0
    n.apoll = 0
    n.flags = 3
    n.reset_seen = False
    n.garbled = 0
    return n


@target("at-urc", ok=(NetworkDown,))
class AtUrc:
    @staticmethod
    def run(d):
        from net import slm
        n = _slm()
        for ln in d.split(b"\r\n"):
            slm.SlmNet._urc(n, ln)
            f = slm.fields(ln)
            for x in f:
                slm._int(x)
                slm._int(x, 0, 16)

    @staticmethod
    def gen(rnd):
        out = []
        for _ in range(1 + rnd.below(4)):
            p = rnd.pick(_URCS)
            k = rnd.below(4)
            if p == b"+CEREG: " and k < 3:
                fl = [rnd.pick((b"5", b"1", b"0", b"x", b"")), b'"0A0B"', b'"01020304"',
                      rnd.pick((b"7", b"9")), b"", b"",
                      rnd.pick((b'"00100110"', b'"11100000"', b'"0010011"', b'"0a100110"',
                                b'"\xb6\xb6\xb6\xb6\xb6\xb6\xb6\xb6"', b'""', b'"00000001"')),
                      rnd.pick((b'"00100110"', b'"001x0110"', b'"11111111"', b'"\xff"', b'""'))]
                out.append(p + b",".join(fl[:rnd.below(9)]))
            elif p == b"#XAPOLL: " and k < 3:
                out.append(p + rnd.pick((b"0,1", b"0,", b",", b"-1,1", b"0,ff", b'"0",1')))
            else:
                out.append(p + rnd.bytes(rnd.below(24)))
        return b"\r\n".join(out)

    @staticmethod
    def seeds():
        return [b'+CEREG: 5,"0A0B","01020304",7,,,"00000001","00100110"', b"#XAPOLL: 0,1",
                b"Ready", b'+CEREG: 1,"0A0B","01020304",9']
