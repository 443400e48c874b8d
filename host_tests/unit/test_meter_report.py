"""Meter classification and accounting on real byte strings; report table, JSON and PNG."""
import io
import json
import struct

import pytest

from meter import (Meter, classify, coap_option_numbers, count_round_trips, UP, DOWN,
                   FATE_FORWARDED, FATE_DUPLICATED, FATE_EXPIRED, FATE_LOSS, EV_CREATED,
                   EV_EXPIRED, EV_REBOUND)
import report
from simclock import SimClock

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_PNG_BYTES = 10 * 1024
DAY = 86400
START = 1_800_000_000

# wire-budget.md §1.1 worked encodings (token 0x7a)
UPDATE = bytes.fromhex("41021234 7a b27264 0435613366".replace(" ", ""))
ACK_204 = bytes.fromhex("61441234 7a".replace(" ", ""))
CREATED_201 = bytes.fromhex("61411235 7a 827264 0435613366".replace(" ", ""))
# OSCORE Update (wire-budget §0.2 row 30): outer POST, OSCORE option 93 09 PIV kid, then
# 0xFF and 17 bytes of ciphertext (9 plaintext + 8 tag)
OSCORE_UPDATE = bytes.fromhex("4102123a 7a 93090501 ff".replace(" ", "")) + bytes(range(17))
# OSCORE ACK 2.04 (§0.2 row 31): empty OSCORE option 0x90
OSCORE_ACK = bytes.fromhex("6144123a 7a 90 ff".replace(" ", "")) + bytes(9)


def rec(ctype, epoch, body, version=b"\xfe\xfd", seq=0):
    """A DTLS record: type, version, epoch(2), seq(6), length(2), body."""
    return (bytes([ctype]) + version + struct.pack(">H", epoch) + seq.to_bytes(6, "big")
            + struct.pack(">H", len(body)) + body)


def hs(msg_type, body):
    n = len(body)
    return (bytes([msg_type]) + n.to_bytes(3, "big") + b"\x00\x00" + b"\x00\x00\x00"
            + n.to_bytes(3, "big") + body)


def cid_rec(epoch, cid, body, seq=1):
    """A tls12_cid record (RFC 9146 §4): the CID sits between seq and length."""
    return (bytes([25]) + b"\xfe\xfd" + struct.pack(">H", epoch) + seq.to_bytes(6, "big")
            + cid + struct.pack(">H", len(body)) + body)


CLIENT_HELLO = rec(22, 0, hs(1, bytes(74)))
HVR = rec(22, 0, hs(3, b"\xfe\xff\x10" + bytes(16)), version=b"\xfe\xff")
SERVER_FLIGHT = rec(22, 0, hs(2, bytes(70))) + rec(20, 0, b"\x01") + rec(22, 1, bytes(40))
CLIENT_FLIGHT = rec(20, 0, b"\x01") + rec(22, 1, bytes(40)) + rec(23, 1, bytes(29))
ALERT = rec(21, 0, b"\x02\x28")


# --- classification -----------------------------------------------------------------------
def test_plain_coap_update_and_acks():
    assert classify(UPDATE) == ("coap", "CON POST")
    assert classify(ACK_204) == ("coap", "ACK 2.04")
    assert classify(CREATED_201) == ("coap", "ACK 2.01")
    assert coap_option_numbers(UPDATE) == [11, 11]
    assert classify(bytes.fromhex("60001234")) == ("coap", "ACK empty")


def test_oscore_is_a_coap_message_with_option_9():
    assert classify(OSCORE_UPDATE) == ("oscore", "CON POST")
    assert classify(OSCORE_ACK) == ("oscore", "ACK 2.04")
    # OSCORE after Uri-Host (3): delta 6 lands on 9
    with_host = bytes.fromhex("41021234 7a".replace(" ", "")) + b"\x39localhost" + \
        b"\x63\x09\x05\x01" + b"\xff" + bytes(17)
    assert coap_option_numbers(with_host) == [3, 9]
    assert classify(with_host)[0] == "oscore"


def test_option_walk_uses_extended_deltas_and_lengths():
    # Uri-Path (11) with a 14-byte value (length nibble 13 + 1 extension byte) whose bytes
    # look like option headers, then Echo (252: delta 241 = nibble 13 + 228), then option 2049
    # (delta 1797 = nibble 14 + two extension bytes 1797 - 269 = 1528).
    value = bytes([0x90] * 14)
    msg = (bytes.fromhex("4202beef 0102".replace(" ", "")) + b"\xbd\x01" + value
           + b"\xd1" + bytes([241 - 13]) + b"\x01" + bytes([0xE0]) + struct.pack(">H", 1528)
           + b"\xff" + b"payload")
    assert coap_option_numbers(msg) == [11, 252, 2049]
    assert classify(msg) == ("coap", "CON POST")


def test_malformed_coap_and_garbage_are_unknown():
    assert classify(b"")[0] == "unknown"
    assert classify(b"\x41\x02\x12")[0] == "unknown"              # short header
    assert classify(b"\x49\x02\x12\x34" + bytes(9))[0] == "unknown"   # TKL 9
    assert classify(UPDATE[:-2])[0] == "unknown"                   # option runs past the end
    assert classify(b"\x41\x02\x12\x34\x7a\xff")[0] == "unknown"   # marker, no payload
    assert classify(b"\x00\x01\x02")[0] == "unknown"


def test_dtls_single_records():
    assert classify(CLIENT_HELLO) == ("dtls-hs", "CH")
    assert classify(HVR) == ("dtls-hs", "HVR")
    assert classify(ALERT) == ("dtls-alert", "alert(2,40)")
    assert classify(rec(23, 1, bytes(42)))[0] == "dtls-app"
    assert classify(rec(20, 0, b"\x01")) == ("dtls-ccs", "CCS")


def test_dtls_multi_record_datagrams():
    assert classify(SERVER_FLIGHT) == ("dtls-hs+ccs+hs", "SH+CCS+Fin")
    assert classify(CLIENT_FLIGHT) == ("dtls-ccs+hs+app", "CCS+Fin+app")
    # ServerHello and ServerHelloDone in one record
    assert classify(rec(22, 0, hs(2, bytes(70)) + hs(14, b""))) == ("dtls-hs", "SH+SHD")


def test_dtls_cid_record():
    # wire-budget §0.2 row 23: CID Update = 13 + 4 (CID) + 8 + 13 + 1 + 8 = 47 bytes
    update = cid_rec(1, b"\xc1\xd2\xe3\xf4", bytes(8 + 13 + 1 + 8))
    assert len(update) == 47
    assert update[:3] == bytes.fromhex("19fefd")
    assert classify(update) == ("dtls-cid", "cid")
    # a CID record followed by another record in the same datagram
    assert classify(update + rec(21, 1, bytes(10)))[0] == "dtls-cid+alert"


def test_truncated_dtls_is_unknown():
    assert classify(CLIENT_HELLO[:-5])[0] == "unknown"
    assert classify(CLIENT_HELLO[:8])[0] == "unknown"


# --- accounting ---------------------------------------------------------------------------
def test_round_trip_counting():
    assert count_round_trips([UP, DOWN]) == 1
    assert count_round_trips([UP, UP, DOWN]) == 1            # retransmission
    assert count_round_trips([UP, DOWN, UP, DOWN]) == 2      # resumption: 2 RTT
    assert count_round_trips([UP, DOWN, DOWN]) == 1          # a separate response
    assert count_round_trips([UP]) == 0                      # no answer
    assert count_round_trips([DOWN, UP]) == 0                # server-initiated, unanswered


def test_segment_totals_device_side():
    clock = SimClock(start=START)
    m = Meter(clock)
    dev, ext, srv = ("127.0.0.1", 40000), ("127.0.0.1", 50000), ("127.0.0.1", 5683)
    m.mark("wake 1")
    m.datagram(UP, CLIENT_HELLO, dev, ext, srv, FATE_FORWARDED)
    m.datagram(DOWN, SERVER_FLIGHT, dev, ext, srv, FATE_FORWARDED)
    m.datagram(UP, CLIENT_FLIGHT, dev, ext, srv, FATE_LOSS)          # the device still paid
    m.datagram(UP, CLIENT_FLIGHT, dev, ext, srv, FATE_FORWARDED)
    m.datagram(DOWN, ACK_204, dev, ext, srv, FATE_FORWARDED)
    m.datagram(DOWN, ACK_204, dev, ext, srv, FATE_DUPLICATED)        # the device got it twice
    m.nat_refresh()
    m.nat_refresh()
    clock.advance(3600)
    m.mark("wake 2")
    m.datagram(DOWN, UPDATE, dev, ext, srv, FATE_EXPIRED)            # never reached the device
    m.datagram(UP, UPDATE, dev, ("127.0.0.1", 50001), srv, FATE_FORWARDED)
    m.datagram(UP, UPDATE, dev, ("127.0.0.1", 50001), srv, FATE_DUPLICATED)  # NAT's copy
    m.datagram(DOWN, ACK_204, dev, ("127.0.0.1", 50001), srv, FATE_FORWARDED)

    t1 = m.segment_totals("wake 1")
    assert t1["bytes_up"] == len(CLIENT_HELLO) + 2 * len(CLIENT_FLIGHT)
    assert t1["bytes_down"] == len(SERVER_FLIGHT) + 2 * len(ACK_204)
    assert (t1["dgrams_up"], t1["dgrams_down"], t1["round_trips"]) == (3, 3, 2)
    assert (t1["dropped_up"], t1["dropped_down"]) == (1, 0)
    t2 = m.segment_totals("wake 2")
    assert (t2["bytes_up"], t2["bytes_down"]) == (len(UPDATE), len(ACK_204))
    assert (t2["dgrams_up"], t2["dgrams_down"], t2["round_trips"]) == (1, 1, 1)
    assert t2["dropped_down"] == 1
    assert m.segment_totals("no such wake")["bytes_up"] == 0
    assert m.refreshes == {"wake 1": 2}
    kinds = [r["kind"] for r in m.records]
    assert kinds[:3] == ["dtls-hs", "dtls-hs+ccs+hs", "dtls-ccs+hs+app"]
    assert m.records[0]["inside"] == "127.0.0.1:40000"
    assert m.records[6]["t"] == pytest.approx(clock.now(), abs=5)
    doc = json.loads(m.dumps())
    assert len(doc["records"]) == len(m.records)
    assert [s["label"] for s in doc["segments"]] == ["wake 1", "wake 2"]


# --- report -------------------------------------------------------------------------------
# per-wake costs at the wire-budget floors (§0.2): up, down, dgrams up, dgrams down, RTT
PATH_COST = {"oscore+update": (27, 16, 1, 1, 1), "oscore-b2+update": (73, 42, 2, 2, 2),
             "nosec+register": (90, 13, 1, 1, 1)}
PATHS = ["oscore+update"] * 4 + ["oscore-b2+update", "nosec+register"]
FAILED_WAKE = 5


def _scenario(days=2, interval=3600):
    """Synthetic wakes over `days` days with three paths and a failure, plus a meter with
    NAT events between wakes."""
    clock = SimClock(start=START)
    m = Meter(clock)
    wakes = []
    ext = ("127.0.0.1", 50000)
    n = days * DAY // interval
    for i in range(n):
        t = START + i * interval
        path = PATHS[i % len(PATHS)]
        up, down, dg_up, dg_down, rtt = PATH_COST[path]
        result = "ok"
        if i == FAILED_WAKE:
            result, down, dg_down, rtt = "no-answer", 0, 0, 0
        wakes.append({"t": t, "wake": i + 1, "path": path, "result": result,
                      "bytes_up": up, "bytes_down": down, "dgrams_up": dg_up,
                      "dgrams_down": dg_down, "round_trips": rtt,
                      "awake_ms": 120.5 + i, "heap_peak": 20000 + i})
        m.nat_event(EV_CREATED, ("127.0.0.1", 40000), ext, t=t)
        m.nat_event(EV_EXPIRED, ("127.0.0.1", 40000), ext, t=t + 120)
    m.nat_event(EV_REBOUND, ("127.0.0.1", 40000), ext, t=START + 3 * interval + 60)
    return wakes, m


def test_table_has_wakes_and_per_day_summary():
    wakes, _ = _scenario()
    out = io.StringIO()
    report.print_table(wakes, "scenario demo", out=out)
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0] == "scenario demo"
    assert "per-day summary" in text
    days = report.day_summary(wakes)
    assert [d["day"] for d in days] == [1, 2]
    assert days[0]["wakes"] + days[1]["wakes"] == len(wakes)
    for d in days:
        row = next(l for l in lines if l.split()[:1] == [str(d["day"])] and "x" in l)
        assert str(d["bytes_up"]) in row and str(d["bytes_down"]) in row
        for path, count in d["paths"].items():
            assert "%s x%d" % (path, count) in row
    assert days[0]["failed"] == 1
    total = next(l for l in lines if l.startswith("  all"))
    assert str(sum(w["bytes_up"] for w in wakes)) in total
    wake_rows = [l for l in lines if l.lstrip().split(" ")[0].isdigit() and "d" in l.split()[1]]
    assert len(wake_rows) == len(wakes)


def test_json_and_png(tmp_path):
    wakes, m = _scenario()
    jpath = tmp_path / "reports" / "demo.json"
    report.write_json(str(jpath), "demo", wakes, meter=m, extra={"nat": {"timeout_s": 120}})
    doc = json.loads(jpath.read_text())
    assert doc["scenario"] == "demo"
    assert len(doc["wakes"]) == len(wakes)
    assert len(doc["days"]) == 2
    assert doc["totals"]["bytes_up"] == sum(w["bytes_up"] for w in wakes)
    assert len(doc["meter"]["events"]) == len(m.events)
    assert doc["extra"]["nat"]["timeout_s"] == 120

    ppath = tmp_path / "reports" / "demo.png"
    report.draw_chart(str(ppath), "demo", wakes, meter=m)
    data = ppath.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > MIN_PNG_BYTES


def test_png_with_many_wakes_is_binned(tmp_path):
    wakes, m = _scenario(days=7, interval=300)   # 2016 wakes, above MAX_BARS
    assert len(wakes) > report.MAX_BARS
    bars, per_bar = report._bars(wakes)
    assert per_bar > 1 and len(bars) <= report.MAX_BARS
    assert sum(b["up"] for b in bars) == sum(w["bytes_up"] for w in wakes)
    ppath = tmp_path / "week.png"
    report.draw_chart(str(ppath), "week", wakes, meter=m.to_json())
    data = ppath.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > MIN_PNG_BYTES


def test_bench_table():
    rows = [{"method": "nosec+update", "measured_up": 13, "measured_down": 5,
             "measured_total": 18, "dgrams": 2, "rtts": 1, "floor": 18, "blog": 18,
             "target": 18},
            {"method": "resume+update", "measured_up": 216, "measured_down": 207,
             "measured_total": 423, "dgrams": 4, "rtts": 2, "floor": 404, "blog": 601,
             "target": None}]
    out = io.StringIO()
    text = report.bench_table(rows, out=out)
    assert text == out.getvalue()
    lines = text.splitlines()
    assert "method" in lines[0] and "floor" in lines[0]
    row = lines[3].split()
    assert row[0] == "resume+update"
    assert row[3] == "423" and row[8] == "-" and row[9] == "%.2f" % (423 / 404)


def test_nat_events_belong_to_the_segment_of_their_virtual_time():
    clock = SimClock(start=START)
    m = Meter(clock)
    inside, ext = ("127.0.0.1", 40000), ("127.0.0.1", 50000)
    m.mark("wake 1")
    m.nat_event(EV_CREATED, inside, ext)
    clock.advance(3600)
    m.mark("wake 2")
    # noticed during wake 2 (lazy expiry), but the mapping died during the sleep after wake 1
    ev = m.nat_event(EV_EXPIRED, inside, ext, t=START + 120)
    assert ev["segment"] == "wake 1"
    assert m.nat_event(EV_CREATED, inside, ext)["segment"] == "wake 2"
    assert m.nat_event(EV_EXPIRED, inside, ext, t=START - 1)["segment"] is None


def test_runner_shaped_wakes_are_normalized(tmp_path):
    """Wake dicts with counters in a 'meter' sub-dict, 'vt' instead of 't' and a 'datagrams'
    total: times come from the meter's segment marks, counters from the sub-dict."""
    clock = SimClock(start=START)
    m = Meter(clock)
    wakes = []
    for i in range(3):
        m.mark("wake %d" % i)
        tot = {"bytes_up": 13, "bytes_down": 5, "dgrams_up": 1, "dgrams_down": 1,
               "round_trips": 1}
        wakes.append({"wake": i, "vt": i * 3600.0 + 0.2, "path": "nosec+update",
                      "result": "ok", "meter": tot, "datagrams": 2})
        clock.advance(3600)
    norm = report.normalize_wakes(wakes, m)
    assert [w["t"] for w in norm] == [s["t"] for s in m.segments]
    assert all(w["round_trips"] == 1 and w["dgrams_up"] == 1 for w in norm)
    out = io.StringIO()
    report.print_table(wakes, "runner", out=out)
    assert "d1 01:00:00" in out.getvalue()
    assert report.summary(wakes)["round_trips"] == 3
    # only a datagram total known
    bare = [{"wake": 1, "vt": 0.0, "path": "p", "result": "ok", "bytes_up": 1,
             "bytes_down": 2, "datagrams": 7}]
    assert report.summary(bare)["datagrams"] == 7
    jpath = tmp_path / "r.json"
    report.write_json(str(jpath), "runner", wakes, meter=m)
    doc = json.loads(jpath.read_text())
    assert doc["totals"]["bytes_up"] == 39 and doc["wakes"][2]["t"] == m.segments[2]["t"]
