"""The harness server is an independent oracle: it reads what the firmware sends with its own
CoAP codec (tools/harness/coap.py) and TLV codec (tools/harness/tlv.py), cbor2 and json, never
with firmware code. Shown here: both CoAP codecs agree on random messages, and a deliberately
wrong encoding in the firmware (one that the firmware's own decoder would read back the same
way) makes the harness's check fail."""
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "host_tests", "mp"))

from harness import _paths  # noqa: E402,F401
from harness import coap as HC  # noqa: E402
from harness import server as S  # noqa: E402
from coap import codec as FC  # noqa: E402  (the firmware's, only to produce what the device sends)

EP = "urn:dev:unix-0001"


def _fields(m):
    return (m.mtype, m.code, m.mid, bytes(m.token), [(n, bytes(v)) for n, v in m.opts], bytes(m.payload))


def _random_msg(rng, cls):
    m = cls(rng.randrange(4), rng.choice((1, 2, 3, 4, 5, 7, 65, 68, 69, 132)), rng.randrange(65536),
            bytes(rng.randrange(256) for _ in range(rng.randrange(9))))
    for _ in range(rng.randrange(6)):
        num = rng.choice((1, 4, 6, 8, 11, 12, 14, 15, 17, 23, 27, 60, 252, 292, 2048, 65000))
        m.add(num, bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 2, 12, 13, 14, 268, 269, 300)))))
    m.payload = bytes(rng.randrange(256) for _ in range(rng.choice((0, 0, 1, 20))))
    return m


def test_both_coap_codecs_agree_on_random_messages():
    rng = random.Random(7)
    n = 0
    while n < 300:
        m = _random_msg(rng, FC.Message)
        if len(FC.encode(m)) > FC.MAX_MESSAGE:
            continue                                 # the firmware refuses those by design
        n += 1
        assert _fields(HC.decode(FC.encode(m))) == _fields(m)
        h = _random_msg(rng, HC.Message)
        if len(HC.encode(h)) > FC.MAX_MESSAGE:
            continue
        assert _fields(FC.decode(HC.encode(h))) == _fields(h)
        assert HC.encode(h) == FC.encode(FC.decode(HC.encode(h)))


class _Clock:
    def now(self):
        return 1798761600.0


def _server_registers(data):
    # the harness server's verdict on a Register datagram: the endpoint it registered, if any
    srv = S.LwServer(_Clock())
    S.NoSecPlugin(srv).datagram_received(data, ("127.0.0.1", 40000))
    return list(srv.regs)


def _register_bytes():
    m = FC.Message(FC.CON, FC.POST, 0x1234, b"\x01", b"</3/0>")
    m.set_path("rd")
    m.add(FC.URI_QUERY, "ep=" + EP)          # 20 bytes: an option length with an extension byte
    m.add(FC.URI_QUERY, "lwm2m=1.1")
    m.add(FC.CONTENT_FORMAT, 40)
    return FC.encode(m)


def test_a_wrong_coap_encoding_in_the_firmware_fails_the_oracle(monkeypatch):
    assert _server_registers(_register_bytes()) == [EP]

    # the bug: option delta/length 13..268 written as v - 12 instead of v - 13 (a firmware
    # decoder with the mirror bug, + 12, would read its own datagrams back unchanged)
    def bad_ext(v):
        if v < 13:
            return v, b""
        if v < 269:
            return 13, bytes((v - 12,))
        return 14, (v - 269).to_bytes(2, "big")
    monkeypatch.setattr(FC, "_ext", bad_ext)
    assert _server_registers(_register_bytes()) != [EP]


def _tlv_read_as_the_server_sees_it():
    from lwm2m_fixture import setup, req
    b, s, reg, dm, dev = setup()
    r = dm.handle(req(FC.GET, "/3303/0/5700", accept=11542))
    r.mid, r.token = 1, b"\x01"
    m = HC.decode(FC.encode(r))
    return S.Response(m, "/3303/0/5700").decoded(), b.temp


def test_a_wrong_tlv_float_in_the_firmware_fails_the_oracle(monkeypatch):
    got, want = _tlv_read_as_the_server_sees_it()
    assert got == {5700: want}                       # 21.5, a float, typed by the object model
    import struct
    from lwm2m import tlv as FT
    good = FT.value_bytes

    def bad_value_bytes(v, typ):                     # the bug: floats little-endian
        return struct.pack("<f", float(v)) if typ == "f" else good(v, typ)
    monkeypatch.setattr(FT, "value_bytes", bad_value_bytes)
    got, want = _tlv_read_as_the_server_sees_it()
    assert got != {5700: want}


def test_tlv_floats_decoded_in_reports():
    # Read of /3303/0 in TLV: 5601/5602/5700 come out as floats, not as raw integers
    from harness import tlv as HT
    pl = HT.entry(HT.RES, 5700, b"\x41\xac\x00\x00") + HT.entry(HT.RES, 5601, b"\x41\xa4\x00\x00") \
        + HT.entry(HT.RES, 5701, b"Cel")
    d = S.decode_payload(11542, pl, "/3303/0")
    assert d == {5700: 21.5, 5601: 20.5, 5701: "Cel"}
    assert S.decode_payload(11542, HT.entry(HT.RES, 5700, b"\x41\xac\x00\x00"), None) == {5700: 1101791232}


def test_harness_coap_codec_agrees_with_aiocoap():
    # a third, well-kept implementation (aiocoap's message module) reads the same datagrams the
    # same way as the harness codec (options as numbers and raw values)
    import warnings
    from aiocoap.message import Message as AM
    rng = random.Random(11)
    n = 0
    while n < 200:
        h = _random_msg(rng, HC.Message)
        h.opts = []
        for _ in range(rng.randrange(6)):       # string options in ASCII, opaque ones as bytes
            num = rng.choice((1, 4, 8, 11, 15, 20, 2048, 65000))
            ln = rng.choice((0, 1, 8)) if num in (1, 4) else rng.choice((0, 1, 12, 13, 14, 268, 269, 300))
            h.add(num, bytes(rng.randrange(0x61, 0x7B) for _ in range(ln)))
        data = HC.encode(h)
        if len(data) > FC.MAX_MESSAGE:
            continue
        n += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = AM.decode(data)
        opts = sorted(((int(o.number), o.encode()) for o in a.opt.option_list()), key=lambda o: o[0])
        assert (int(a.code), a.mid, a.token, opts, a.payload) == (h.code, h.mid, h.token, h.opts, h.payload)
