"""The registry of persisted RTC sections (state._SECTIONS, state.spec()): budgets within RTC memory, put and
load refuse what it does not take (never an exception), deadlines and owners asked by name."""
import struct

from state import Store, SeqReserve, spec

RTC_SIZE = 2048        # bytes of RTC memory (board/unix.py RTC_MAX, an ESP32's RTC slow memory)


class FakeBoard:
    def __init__(self):
        self.rtc = b""
        self.flash = {}

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, b):
        if len(b) > RTC_SIZE:
            raise ValueError("RTC memory too small")
        self.rtc = bytes(b)

    def flash_read(self, k):
        return self.flash.get(k)

    def flash_write(self, k, v):
        self.flash[k] = bytes(v)


def _names():
    return [r.split(" ")[0] for r in spec().strip("|").split("|")]


def test_every_section_at_its_budget_fits_rtc_memory():
    b = FakeBoard()
    s = Store(b)
    names = _names()
    assert len(names) == len(set(names)) and len(names) >= 13
    for n in names:
        r = spec(n)
        assert r[0] == n and int(r[1]) >= 1 and int(r[2]) > 0 and r[3], r
        assert s.put(n, bytes(int(r[2]))) is True
    n = s.commit()                      # the framing included: the board would raise past 2048
    assert n <= RTC_SIZE, n
    t = Store(b)
    assert t.load() and sorted(t.sections) == sorted(names)


def test_put_refuses_unknown_and_over_budget_without_raising():
    s = Store(FakeBoard())
    assert s.put("reg", b"\x00" * 11 + b"rd/1") is True
    assert s.put("nope", b"x") is False and s.get("nope") is None
    assert s.put("reg", bytes(int(spec("reg")[2]) + 1)) is False
    assert s.get("reg") is None           # refused: dropped, never a stale older value
    assert s.put("reg", None) is True and s.get("reg") is None
    s.commit()


def _blob(entries):
    # an RTC blob as state.py frames it: (name, version, data)
    parts = [b"LW", bytes((2, len(entries)))]
    for name, v, d in entries:
        parts.append(bytes((len(name),)) + name.encode() + struct.pack(">BH", v, len(d)) + d)
    raw = b"".join(parts)
    c = 0
    for x in raw:
        c = (c * 31 + x) & 0xFFFF
    return raw + struct.pack(">H", c)


def test_load_drops_other_versions_unknown_names_and_oversize():
    b = FakeBoard()
    b.rtc = _blob([("coap", 1, b"\x00\x01\x00\x02"), ("plan", 9, b"\x05" * 94),
                   ("zzz", 1, b"x"), ("obd", 1, bytes(5)), ("reg", 1, b"r")])
    s = Store(b)
    assert s.load()
    assert sorted(s.sections) == ["coap", "reg"]
    b.rtc = _blob([("coap", 1, b"\x00\x01")])[:-1] + b"\x00"      # checksum: the whole blob
    assert not Store(b).load()


def test_deadlines_owners_and_registration_scope():
    s = Store(FakeBoard())
    assert s.owned("d") == [] and not s.owned("lwm2m.observe")
    s.put("obs", b"\x00\x00\x00\x01")
    assert s.owned("lwm2m.observe") == ["obs"] and s.owned("d") == []
    s.put("obd", (1700000000).to_bytes(4, "big"))
    s.put("reg", b"\x00" * 11)
    assert sorted(s.owned("lwm2m.observe")) == ["obd", "obs"] and s.owned("d") == ["obd"]
    for n in s.owned("r"):                # a Register: the observations end, the rest stays
        s.drop(n)
    assert sorted(s.sections) == ["reg"] and s.owned("d") == []


def test_seq_reserve_without_flash_keeps_its_bound_in_ram():
    b = FakeBoard()
    s = Store(b)
    q = SeqReserve(s, "dw", rtc_block=4, flash_block=16, flash=False)
    q.start(0)
    for _ in range(10):
        q.take()
    assert "seq_dw" not in b.flash and q.flash_bound >= q.rtc_bound
    q.flash = True                        # its keys went to flash: the next bound goes there too
    for _ in range(30):
        q.take()
    assert struct.unpack(">Q", b.flash["seq_dw"])[0] >= q.rtc_bound


def test_sensor_min_max_persist_with_the_object_and_bad_state_is_dropped():
    # /3303/0's min/max (lwm2m/objects.py Obj.sensor) live in the instance and section 'temp'
    from lwm2m.objects import Obj
    b = FakeBoard()
    s = Store(b)
    t = [21.5]
    o = Obj(3303, "5700fR,5601fR,5602fR,5605eE").add(0, {5700: 0, 5601: 0, 5602: 0, 5605: 0})
    o.sensor(0, lambda: t[0], s, "temp")
    assert o.inst[0][5601] is None and o.value(0, 5700) == 21.5
    t[0] = 19.25
    o.value(0, 5700)
    s.commit()
    s2 = Store(b)
    s2.load()                             # the next wake: a new object from the same section
    o2 = Obj(3303, "5700fR,5601fR,5602fR,5605eE").add(0, {5700: 0, 5601: 0, 5602: 0, 5605: 0})
    o2.sensor(0, lambda: 20.0, s2, "temp")
    assert (o2.inst[0][5601], o2.inst[0][5602]) == (19.25, 21.5)
    o2.inst[0][5605](b"")                 # Execute 5605: cleared, the section with them
    assert o2.inst[0][5601] is None and s2.get("temp") is None
    s2.put("temp", b"[1e999, 2]")         # not finite (older firmware): dropped, start again
    o3 = Obj(3303, "5700fR,5601fR,5602fR,5605eE").add(0, {5700: 0, 5601: 0, 5602: 0, 5605: 0})
    o3.sensor(0, lambda: 20.0, s2, "temp")
    assert o3.inst[0][5601] is None and s2.get("temp") is None
