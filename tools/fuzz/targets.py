"""The fuzz targets: every parser of the firmware, the DM dispatch, the config loader and the
persisted-state loaders, each fed the way the firmware feeds it (see engine.py for the contract).

A target is a class registered with @target(name, ok): `ok` are the exceptions its callers catch
(the documented rejection), so anything else that escapes is a finding. To add one (e.g. a modem
AT parser): write a module with such classes and add it to MODULES below.
"""
import sys
import os

_fw = os.getenv("FUZZ_FIRMWARE")
if _fw:
    for p in _fw.split(":"):
        sys.path.insert(0, p)

from engine import target, TARGETS  # noqa: E402
import fakes  # noqa: E402
from fakes import Board, Net, split, join  # noqa: E402
from errors import LwError, ConfigError  # noqa: E402
from coap import codec as C  # noqa: E402

MODULES = ("t_modem",)   # further target modules (t_modem: the nRF9160 SLM AT driver)


class _Never(Exception):
    """ok for targets that must not raise at all."""


def _opts_bytes(rnd, n=4):
    # random options as (num, value) with small values, sorted: numbers LwM2M uses most
    out = []
    num = 0
    for _ in range(rnd.below(n + 1)):
        num += rnd.pick((0, 1, 3, 4, 5, 6, 8, 9, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 60,
                         252, 258, 292, 1000))
        out.append((num, _val(rnd)))
    return out


def _val(rnd):
    k = rnd.below(6)
    if k == 0:
        return b""
    if k == 1:
        return rnd.pick((b"rd", b"3303", b"0", b"5700", b"1", b"\xb6", b"\xff\xfe", b"x" * 300,
                         b"-1", b"65536", b"99999999999999999999"))
    if k == 2:
        return bytes([rnd.u32() & 0xFF for _ in range(rnd.below(4))])
    return rnd.bytes(rnd.below(20))


def _coap(rnd, mtype=None, code=None, mid=None, tok=None, opts=None, payload=None):
    m = C.Message(rnd.below(4) if mtype is None else mtype,
                  rnd.pick((0, 1, 2, 3, 4, 65, 68, 69, 128, 132, 160, rnd.below(256)))
                  if code is None else code,
                  rnd.below(65536) if mid is None else mid,
                  rnd.bytes(rnd.below(9)) if tok is None else tok)
    for n, v in (opts if opts is not None else _opts_bytes(rnd)):
        m.add(n, v)
    m.payload = rnd.bytes(rnd.below(40)) if payload is None else payload
    return C.encode(m)


# -- CoAP codec --------------------------------------------------------------------------------
@target("coap", ok=(C.CoapError, LwError))
class Coap:
    @staticmethod
    def run(d):
        m = C.decode(d)
        m.path()
        m.path(C.LOCATION_PATH)
        for n, _v in m.opts:
            if n in (6, 12, 14, 17, 23, 27, 28, 60):
                m.get_uint(n)
        b = C.encode(m)                 # what decoded re-encodes, and reads back the same
        m2 = C.decode(b)
        assert m2.opts == m.opts and bytes(m2.payload) == bytes(m.payload), "round trip"

    @staticmethod
    def gen(rnd):
        return _coap(rnd)

    @staticmethod
    def seeds():
        return [bytes.fromhex("61410000008233b6"), bytes.fromhex("4102000101b13101301170ff00"),
                bytes.fromhex("6044a1b2"), bytes.fromhex("40010001b3333330330135"),
                bytes.fromhex("4102000101b4333330331170ff81a321682f333330332f312f00643537303002f97c00")]


# -- exchange (NoSec channel + CoAP exchange) ---------------------------------------------------
@target("exchange", ok=(LwError,))
class Exchange:
    @staticmethod
    def run(d):
        from coap.exchange import Exchange as X
        from sec.nosec import NoSecChannel
        from state import Store
        b = Board()
        st = Store(b)
        net = Net(b, split(d))
        ch = NoSecChannel(net, st, b, {}, {})
        ex = X(ch, st, b, {"ack_timeout_ms": 100, "max_retransmit": 2,
                           "separate_timeout_ms": 500},
               handler=lambda m: C.Message(C.ACK, C.CONTENT, payload=b"x"))
        req = C.Message(C.CON, C.POST)
        req.set_path("rd")
        try:
            ex.request(req)
        finally:
            ex.serve(200, 1000)

    @staticmethod
    def gen(rnd):
        # the first answers reuse the MID/token the exchange will pick (urandom: 7,8 / 9,10)
        dgs = []
        for _ in range(1 + rnd.below(5)):
            k = rnd.below(4)
            if k == 0:
                dgs.append(_coap(rnd, mtype=rnd.pick((2, 3, 0, 1)), mid=0x0708 + rnd.below(2),
                                 tok=rnd.pick((b"\x0a", b"\x09", b"", rnd.bytes(2)))))
            elif k == 1:
                dgs.append(_coap(rnd, mtype=0, code=rnd.pick((1, 2, 3, 4)),
                                 mid=rnd.below(4)))
            else:
                dgs.append(_coap(rnd))
        return join(dgs)

    @staticmethod
    def seeds():
        ack = bytes.fromhex("61410708" + "0a" + "8272640130")
        return [join([ack]), join([bytes.fromhex("60000708"), bytes.fromhex("51440001" + "0a")]),
                join([bytes.fromhex("41010005" + "aa" + "b4333330330130"), ack])]


# -- DTLS records (an established association: records, AEAD, replay window, alerts) ---------
_K1 = bytes(range(16))
_K2 = bytes(range(16, 32))


def _dtls_conns():
    from dtls import record as R
    cli = R.Conn(1, _K1, b"\x01\x02\x03\x04", _K2, b"\x05\x06\x07\x08", b"\xaa\xbb\xcc\xdd", b"")
    srv = R.Conn(1, _K2, b"\x05\x06\x07\x08", _K1, b"\x01\x02\x03\x04", b"", b"\xaa\xbb\xcc\xdd")
    return cli, srv


class _Seq:
    def __init__(self):
        self.n = 0

    def start(self, v):
        self.n = v

    def take(self):
        self.n += 1
        return self.n


def _patch_ticks(b):
    import dtls.client as DC
    DC.ticks_ms = b.ticks_ms
    DC.ticks_diff = b.ticks_diff


@target("dtls-record", ok=(LwError,))
class DtlsRecord:
    @staticmethod
    def run(d):
        from dtls.client import DtlsClient
        b = Board()
        _patch_ticks(b)
        c = DtlsClient(Net(b, split(d)), b.urandom, "id", _K1, 54)
        c.conn = _dtls_conns()[0]
        c.seq = _Seq()
        while c.recv_app(100) is not None:
            pass

    @staticmethod
    def gen(rnd):
        srv = _dtls_conns()[1]
        dgs = []
        for _ in range(1 + rnd.below(4)):
            dg = bytearray()
            for _ in range(1 + rnd.below(3)):
                k = rnd.below(5)
                if k < 3:
                    ct = rnd.pick((23, 23, 21, 22, 20, 25))
                    pt = rnd.pick((b"\x02\x0a", b"\x01\x00", b"\x02\x28", rnd.bytes(rnd.below(30))))
                    dg.extend(srv.seal(ct, pt, rnd.pick((1, 2, 3, rnd.below(1 << 20),
                                                        (1 << 48) - 1))))
                elif k == 3:
                    from dtls import record as R
                    p = rnd.bytes(rnd.below(20))
                    dg.extend(R.hdr(rnd.pick((20, 21, 22, 23, 25)), rnd.below(3), rnd.below(9),
                                    b"", len(p)))
                    dg.extend(p)
                else:
                    dg.extend(rnd.bytes(rnd.below(40)))
            dgs.append(bytes(dg))
        return join(dgs)

    @staticmethod
    def seeds():
        srv = _dtls_conns()[1]
        return [join([bytes(srv.seal(23, _coap_ack(), 1))]),
                join([bytes(srv.seal(21, b"\x02\x28", 2))])]


def _coap_ack():
    return bytes.fromhex("6044000101")


# -- DTLS handshake flights (the client's state machine against hostile server flights) --------
def _hsmsg(mt, seq, body, off=0, flen=None):
    import struct
    n = len(body)
    frag = body[off:off + (n - off if flen is None else flen)]
    return struct.pack(">B", mt) + n.to_bytes(3, "big") + struct.pack(">H", seq) + \
        off.to_bytes(3, "big") + len(frag).to_bytes(3, "big") + frag


def _rec(ct, body, seq=0, ep=0):
    from dtls import record as R
    return bytes(R.hdr(ct, ep, seq, b"", len(body))) + body


def _server_hello(rnd):
    import struct
    exts = b""
    for _ in range(rnd.below(4)):
        t = rnd.pick((0x17, 54, 53, 254, 0xFF01, 0, rnd.below(65536)))
        v = rnd.pick((b"", b"\x04\x01\x02\x03\x04", b"\x00", b"\x20" + bytes(32), rnd.bytes(rnd.below(8))))
        exts += struct.pack(">HH", t, len(v)) + v
    if rnd.chance(5):
        exts = rnd.bytes(rnd.below(12))
    sid = rnd.pick((b"", rnd.bytes(rnd.below(33)), bytes(40)))
    body = b"\xfe\xfd" + rnd.bytes(32) + bytes((len(sid),)) + sid + \
        rnd.pick((b"\xc0\xa8", b"\x00\x2f", rnd.bytes(2))) + rnd.pick((b"\x00", b"\x01")) + \
        (struct.pack(">H", len(exts)) + exts if not rnd.chance(6) else b"")
    return body


@target("dtls-handshake", ok=(LwError,))
class DtlsHandshake:
    @staticmethod
    def run(d):
        from dtls.client import DtlsClient
        b = Board()
        _patch_ticks(b)
        c = DtlsClient(Net(b, split(d)), b.urandom, "id", _K1, 54 if d[:1] != b"\x01" else None,
                       rto_ms=100, max_tries=2)
        c.seq = _Seq()
        if len(d) > 1 and d[1] & 1:
            c.session = bytes((1, 0xC0, 0xA8, 4)) + b"SID!" + bytes(48)
        c.handshake(bool(c.session))

    @staticmethod
    def gen(rnd):
        dgs = []
        seq = 0
        for _ in range(1 + rnd.below(4)):
            dg = b""
            for _ in range(1 + rnd.below(3)):
                k = rnd.below(8)
                if k == 0:
                    ck = rnd.bytes(rnd.below(40))
                    body = b"\xfe\xfd" + bytes((len(ck),)) + ck
                    if rnd.chance(4):
                        body = body[:rnd.below(len(body) + 1)]
                    dg += _rec(22, _hsmsg(3, rnd.below(3), body), seq)
                elif k in (1, 2):
                    body = _server_hello(rnd)
                    if rnd.chance(3):
                        n = len(body)
                        off = rnd.below(n + 1)
                        dg += _rec(22, _hsmsg(2, rnd.below(2), body, off, rnd.below(n - off + 3)), seq)
                    else:
                        dg += _rec(22, _hsmsg(2, rnd.below(2), body), seq)
                elif k == 3:
                    dg += _rec(22, _hsmsg(14, rnd.below(3), rnd.pick((b"", b"\x00"))), seq)
                elif k == 4:
                    dg += _rec(20, rnd.pick((b"\x01", b"", b"\x01\x01")), seq)
                elif k == 5:
                    dg += _rec(21, rnd.pick((b"\x02\x28", b"\x02\x33", b"\x01\x00", b"\x02")), seq)
                elif k == 6:
                    dg += _rec(22, rnd.bytes(1 + rnd.below(8)) + rnd.bytes(rnd.below(20)),
                               seq, rnd.below(2))
                else:
                    dg += _rec(22, _hsmsg(rnd.pick((12, 13, 20, 4, 11, 2)), rnd.below(4),
                                          rnd.bytes(rnd.below(30))), seq, rnd.below(2))
                seq += 1
            dgs.append(dg)
        return bytes((rnd.below(3), rnd.below(2))) + join(dgs)

    @staticmethod
    def seeds():
        sh = b"\xfe\xfd" + bytes(32) + b"\x00" + b"\xc0\xa8\x00" + b"\x00\x04\x00\x17\x00\x00"
        f = _rec(22, _hsmsg(2, 1, sh), 1) + _rec(22, _hsmsg(14, 2, b""), 2)
        return [b"\x00\x00" + join([_rec(22, _hsmsg(3, 0, b"\xfe\xfd\x04abcd")), f])]


# -- OSCORE (option, then the protected message against a fixed context) -----------------------
_OSC = {}


def _osc_ctx():
    if not _OSC:
        from oscore import kdf
        _OSC["dev"] = kdf.context(b"\x01" * 16, b"\x9e\x7c", b"\x01", b"\x00")
        _OSC["srv"] = kdf.context(b"\x01" * 16, b"\x9e\x7c", b"\x00", b"\x01")
    return _OSC["dev"], _OSC["srv"]


@target("oscore", ok=(LwError, ValueError))
class Oscore:
    @staticmethod
    def run(d):
        import oscore
        dev, _srv = _osc_ctx()
        dev.top = -1
        dev.bits = 0
        m = C.decode(d)
        wrap = bool(m.mid & 1)
        opt = oscore.option_of(m, wrap)
        if opt is None:
            return
        if m.is_request():
            oscore.unprotect(dev, m, opt)
        else:
            oscore.unprotect(dev, m, opt, req_id=(b"\x01", b"\x05"))

    @staticmethod
    def gen(rnd):
        import oscore
        _dev, srv = _osc_ctx()
        req = rnd.below(3) != 0
        piv = rnd.pick((b"\x01", b"\x00", b"\xff\xff\xff\xff\xff", b"", b"\x12\x34"))
        inner = bytearray((rnd.pick((1, 2, 3, 4, 69, 68, 132, rnd.below(256))),))
        k = rnd.below(3)
        if k == 0:
            C.encode_options(_opts_bytes(rnd), inner)
            if rnd.chance(2):
                inner.append(0xFF)
                inner.extend(rnd.bytes(rnd.below(20)))
        else:
            inner.extend(rnd.bytes(rnd.below(24)))
        if req:
            rid = (srv.sid, piv)
            nv = oscore.nonce(srv, srv.sid, piv) if piv else oscore.nonce(srv, b"\x00", b"\x01")
        else:
            rid = (b"\x01", b"\x05")
            nv = oscore.nonce(srv, srv.sid, piv) if piv and rnd.chance(2) else \
                oscore.nonce(srv, rid[0], rid[1])
        try:
            ct = srv.key[0].seal(nv, oscore.aad(rid[0], rid[1] or b""), bytes(inner))
        except Exception:
            ct = rnd.bytes(20)
        f = len(piv)
        o = bytearray(1)
        o.extend(piv)
        if rnd.chance(4):
            kc = rnd.bytes(rnd.below(10))
            f |= 0x10
            o.append(len(kc))
            o.extend(kc)
        if req:
            f |= 8
            o.extend(srv.sid)
        o[0] = f if not rnd.chance(10) else rnd.u32() & 0xFF
        opts = [(9, bytes(o))] + ([(6, b"\x01")] if rnd.chance(4) else [])
        return _coap(rnd, mtype=rnd.pick((0, 1, 2)), code=2 if req else 68, opts=opts, payload=ct)

    @staticmethod
    def seeds():
        return [bytes.fromhex("44020001aa91") + b"\xff" + bytes(12)]


# -- LwM2M content formats -------------------------------------------------------------------
_TYPES = "sifbtol"


def _coerce_all(recs):
    from lwm2m import fmt
    for _p, v in recs:
        for t in _TYPES:
            try:
                fmt.coerce(v, t)
            except ValueError:
                pass


@target("tlv", ok=(ValueError,))
class Tlv:
    @staticmethod
    def run(d):
        from lwm2m import tlv
        recs = tlv.decode_records(d[1:], (3303, 0) if d[:1] != b"\x01" else (3303, 0, 5700), [])
        for _p, raw in recs:
            if raw is not None:
                for t in _TYPES:
                    try:
                        v = tlv.bytes_value(raw, t)
                        from lwm2m import fmt
                        fmt.check(v, t)
                    except ValueError:
                        pass

    @staticmethod
    def gen(rnd):
        from lwm2m import tlv
        out = bytearray()
        for _ in range(1 + rnd.below(4)):
            kind = rnd.below(4)
            v = rnd.pick((b"\x7f\xf0\x00\x00\x00\x00\x00\x00", b"\x7f\x80\x00\x00", b"\x01",
                          b"\xff" * 8, b"\xb6\xb6", rnd.bytes(rnd.below(12))))
            if kind in (0, 2) and rnd.chance(2):
                inner = bytearray()
                tlv.encode_entry(1 if kind == 2 else 3, rnd.below(70000) & 0xFFFF, v, inner)
                v = bytes(inner)
            tlv.encode_entry(kind, rnd.pick((0, 1, 5700, 65535, rnd.below(65536))), v, out)
        if rnd.chance(4):
            out = out[:rnd.below(len(out) + 1)]
        return bytes((rnd.below(2),)) + bytes(out)

    @staticmethod
    def seeds():
        return [b"\x00\xe3\x16\x76Cel", b"\x00\x00\x01\xe8\x16\x44\x08\x7f\xf0\x00\x00\x00\x00\x00\x00",
                b"\x01\xc4\x01\x7f\x80\x00\x00"]


@target("text", ok=(ValueError,))
class Text:
    @staticmethod
    def run(d):
        from lwm2m import fmt
        t = _TYPES[d[0] % len(_TYPES)] if d else "s"
        v = fmt.untext(d[1:], t)
        fmt.check(v, t)

    @staticmethod
    def gen(rnd):
        s = rnd.pick((b"1e999", b"-inf", b"nan", b"1.5", b"99999999999999999999", b"-0",
                      b"0x10", b"1:2", b"65536:0", b"1:", b":", b"\xb6", b" 1 ", b"1_000",
                      b"9" * 400, b"1e-400", b"0", b"1", b"", rnd.bytes(rnd.below(10))))
        return bytes((rnd.below(7),)) + s

    @staticmethod
    def seeds():
        return [b"\x011", b"\x021.5", b"\x051:2"]


def _cbor_item(rnd, depth=0):
    k = rnd.below(9 if depth < 4 else 6)
    if k == 0:
        return rnd.pick((0, 1, -1, 23, 24, 255, 65536, (1 << 64) - 1, -(1 << 64), 1 << 70))
    if k == 1:
        return rnd.pick((1.5, float("inf"), float("-inf"), float("nan"), 1e300, -0.0))
    if k == 2:
        return rnd.pick(("", "/3303/0/5700", "/1/0/1", "\u00e9", "x" * 30, "/"))
    if k == 3:
        return rnd.bytes(rnd.below(8))
    if k == 4:
        return rnd.pick((True, False, None))
    if k == 5:
        return rnd.pick((5700, 0, 1, 3303))
    if k == 6:
        return [_cbor_item(rnd, depth + 1) for _ in range(rnd.below(4))]
    d = {}
    for _ in range(rnd.below(4)):
        d[rnd.pick((0, 1, 2, 3, -2, 5700, 3303, "n", "v", "bn", "vs", "vb", "vd", "vlo", 21, -1))] = \
            _cbor_item(rnd, depth + 1)
    return d


def _cbor_enc(rnd, obj):
    import cbor
    try:
        return bytes(cbor.encode(obj))
    except (ValueError, TypeError, OverflowError):
        return rnd.bytes(8)


@target("cbor", ok=(ValueError,))
class Cbor:
    @staticmethod
    def run(d):
        import cbor
        cbor.decode(d)

    @staticmethod
    def gen(rnd):
        b = _cbor_enc(rnd, _cbor_item(rnd))
        if rnd.chance(3):
            b = b[:rnd.below(len(b) + 1)] + rnd.pick((b"\xff", b"\x9f", b"\xbf\xff", b"\x5f\x41a\xff",
                                                       b"\xfb", b"\xc1\x00", b""))
        return b

    @staticmethod
    def seeds():
        return [bytes.fromhex("81a321682f333330332f312f00643537303002f97c00"),
                bytes.fromhex("9f9f9f9fffffffff"), bytes.fromhex("bf6161f5ff")]


def _senml_recs(rnd):
    recs = []
    for _ in range(1 + rnd.below(3)):
        r = {}
        if rnd.chance(2):
            r["bn"] = rnd.pick(("/3303/0/", "/1/0/", "/", "", "/3303/", 5, "/65536/"))
        r["n"] = rnd.pick(("5700", "1", "/3303/0/5700", "0/1", "", "x", "-1", 7))
        key = rnd.pick(("v", "vs", "vb", "vd", "vlo", "t"))
        r[key] = _cbor_item(rnd, 3)
        recs.append(r)
    return recs


_SCBOR_KEYS = {"bn": -2, "n": 0, "v": 2, "vs": 3, "vb": 4, "vd": 8, "t": 6, "vlo": "vlo"}


@target("senml-json", ok=(ValueError,))
class SenmlJson:
    @staticmethod
    def run(d):
        from lwm2m import senml
        _coerce_all(senml.dec_json(d))

    @staticmethod
    def gen(rnd):
        import json
        try:
            s = json.dumps(_senml_recs(rnd))
        except (ValueError, TypeError):
            s = "[]"
        s = s.replace("Infinity", "1e999").replace("NaN", "nan")
        return s.encode()

    @staticmethod
    def seeds():
        return [b'[{"n":"/3303/1/5700","v":1e999}]', b'[{"bn":"/1/0/","n":"1","v":3600}]',
                b'[{"n":"/3303/0/5750","vs":"K"},{"n":"/3303/0/5701","vb":true}]']


@target("senml-cbor", ok=(ValueError,))
class SenmlCbor:
    @staticmethod
    def run(d):
        from lwm2m import senml
        _coerce_all(senml.dec_cbor(d))

    @staticmethod
    def gen(rnd):
        recs = []
        for r in _senml_recs(rnd):
            recs.append({_SCBOR_KEYS[k]: v for k, v in r.items()})
        return _cbor_enc(rnd, recs)

    @staticmethod
    def seeds():
        return [bytes.fromhex("81a321682f333330332f312f00643537303002f97c00"),
                bytes.fromhex("81a221652f312f302f00613102f97c00")]


@target("lwm2m-cbor", ok=(ValueError,))
class Lcbor:
    @staticmethod
    def run(d):
        from lwm2m import lcbor
        _coerce_all(lcbor.dec_lcbor(d))

    @staticmethod
    def gen(rnd):
        return _cbor_enc(rnd, {rnd.pick((3303, 1, 0, -1, 70000, "a")): _cbor_item(rnd, 1)})

    @staticmethod
    def seeds():
        return [b"\xa1\x19\x0c\xe7\xa1\x01\xa1\x19\x16\x44\xf9\xfc\x00", b"\xa1\x01\xa1\x00\xa1\x01\x19\x0e\x10"]


import t_dm  # noqa: E402,F401  (dm, config, state: the targets with device state)

for _m in MODULES:
    __import__(_m)
