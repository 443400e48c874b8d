"""NatSim on loopback: an asyncio UDP echo server stands in for the LwM2M server, plain
non-blocking UDP sockets for the device, and a SimClock (no file) for virtual time.
Every test is bounded by asyncio.wait_for; all ports come from bind(0)."""
import asyncio
import socket
import time

import pytest

from meter import (Meter, UP, DOWN, FATE_FORWARDED, FATE_DUPLICATED, FATE_EXPIRED,
                   FATE_FILTERED, FATE_LOSS, EV_CREATED, EV_EXPIRED, EV_REBOUND)
from nat import NatSim
from simclock import SimClock

HOST = "127.0.0.1"
TEST_TIMEOUT_S = 20      # whole-test bound
REPLY_TIMEOUT_S = 1.0    # an answer on loopback arrives well within this
SILENCE_S = 0.3          # how long we wait to conclude that nothing arrives
TIMEOUT = 120            # NAT mapping timer used by most tests (RFC 4787 REQ-5 minimum)
START = 1_800_000_000    # virtual start time


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT_S))


class EchoServer(asyncio.DatagramProtocol):
    """Records what it receives; echoes it back unless echo is False."""

    def __init__(self, echo=True):
        self.echo = echo
        self.received = []      # (data, addr)
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.received.append((data, addr))
        if self.echo:
            self.transport.sendto(data, addr)

    def sendto(self, data, addr):
        self.transport.sendto(data, addr)


async def until(pred, timeout=REPLY_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


class Rig:
    """Server + NAT + meter + clock; devices are made with device()."""

    async def start(self, echo=True, **nat_cfg):
        self.loop = asyncio.get_running_loop()
        self.clock = SimClock(start=START)
        self.meter = Meter(self.clock)
        self.transport, self.server = await self.loop.create_datagram_endpoint(
            lambda: EchoServer(echo), local_addr=(HOST, 0))
        self.server_addr = self.transport.get_extra_info("sockname")[:2]
        self.nat = NatSim(self.clock, self.server_addr, self.meter, **nat_cfg)
        self.inside = await self.nat.start()
        self.socks = []
        return self

    def device(self, port=0):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if port:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        s.setblocking(False)
        self.socks.append(s)
        return s

    async def send(self, dev, data):
        """Device sends; returns the server-side source address it arrived from (or None)."""
        n = len(self.server.received)
        await self.loop.sock_sendto(dev, data, self.inside)
        if not await until(lambda: len(self.server.received) > n):
            return None
        return self.server.received[n][1]

    async def recv(self, dev, timeout=REPLY_TIMEOUT_S):
        try:
            data, src = await asyncio.wait_for(self.loop.sock_recvfrom(dev, 2048), timeout)
        except asyncio.TimeoutError:
            return None
        assert src[:2] == self.inside  # the device hears its "server": the inside address
        return data

    async def settle(self, n_records):
        """Wait until the meter has at least n_records records."""
        return await until(lambda: len(self.meter.records) >= n_records)

    def close(self):
        self.nat.close()
        self.transport.close()
        for s in self.socks:
            s.close()

    def fates(self, direction):
        return [r["fate"] for r in self.meter.records if r["dir"] == direction]

    def events(self, kind):
        return [e for e in self.meter.events if e["event"] == kind]


# (a) ---------------------------------------------------------------------------------------
def test_long_sleep_changes_external_port_short_sleep_keeps_it():
    async def main():
        rig = await Rig().start(timeout_s=TIMEOUT)
        try:
            dev = rig.device()
            src1 = await rig.send(dev, b"wake 1")
            assert await rig.recv(dev) == b"wake 1"
            rig.clock.advance(TIMEOUT - 10)          # shorter than the mapping timer
            src2 = await rig.send(dev, b"wake 2")
            assert await rig.recv(dev) == b"wake 2"
            assert src2 == src1
            last = rig.nat.mappings[dev.getsockname()].last_activity
            rig.clock.advance(TIMEOUT + 10)          # longer than the mapping timer
            src3 = await rig.send(dev, b"wake 3")
            assert await rig.recv(dev) == b"wake 3"
            assert src3 is not None and src3 != src2
            assert src3 == rig.nat.external_addr(dev.getsockname())
            expired = rig.events(EV_EXPIRED)
            assert len(expired) == 1
            assert expired[0]["t"] == pytest.approx(last + TIMEOUT)
            assert len(rig.events(EV_CREATED)) == 2
        finally:
            rig.close()
    run(main())


# (b) ---------------------------------------------------------------------------------------
def test_inbound_to_expired_mapping_is_dropped_then_new_port_reachable():
    async def main():
        rig = await Rig().start(echo=False, timeout_s=TIMEOUT)
        try:
            dev = rig.device()
            old = await rig.send(dev, b"register")
            rig.clock.advance(TIMEOUT + 1)
            rig.server.sendto(b"late request", old)
            assert await rig.settle(2)
            assert rig.meter.records[-1]["fate"] == FATE_EXPIRED
            assert rig.meter.records[-1]["outside"] == "%s:%d" % old
            assert await rig.recv(dev, SILENCE_S) is None
            assert len(rig.events(EV_EXPIRED)) == 1
            new = await rig.send(dev, b"update")
            assert new != old
            rig.server.sendto(b"queued request", new)
            assert await rig.recv(dev) == b"queued request"
            assert rig.meter.records[-1]["fate"] == FATE_FORWARDED
        finally:
            rig.close()
    run(main())


# (c) ---------------------------------------------------------------------------------------
async def _other_port_probe(filtering):
    """Device talks to the server; a second socket on the server host (another port) sends to
    the device's external address. Returns (what the device got, the fate logged)."""
    rig = await Rig().start(echo=False, filtering=filtering)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((HOST, 0))
    other.setblocking(False)
    try:
        dev = rig.device()
        ext = await rig.send(dev, b"hello")
        await rig.loop.sock_sendto(other, b"from another port", ext)
        assert await rig.settle(2)
        got = await rig.recv(dev, SILENCE_S)
        return got, rig.meter.records[-1]["fate"]
    finally:
        other.close()
        rig.close()


def test_apdf_drops_other_port_of_server_host():
    got, fate = run(_other_port_probe("APDF"))
    assert got is None
    assert fate == FATE_FILTERED


def test_eif_and_adf_pass_other_port_of_server_host():
    for mode in ("EIF", "ADF"):
        got, fate = run(_other_port_probe(mode))
        assert got == b"from another port", mode
        assert fate == FATE_FORWARDED


def test_adf_filter_decision_for_another_host():
    """ADF admits only hosts the inside host sent to; checked on the decision itself (a second
    loopback address would be needed to send from another host)."""
    async def main():
        rig = await Rig().start(filtering="ADF")
        try:
            dev = rig.device()
            await rig.send(dev, b"hello")
            m = rig.nat.mappings[dev.getsockname()]
            assert rig.nat._filter_allows(m, (HOST, 1))
            assert not rig.nat._filter_allows(m, ("192.0.2.1", rig.server_addr[1]))
        finally:
            rig.close()
    run(main())


# (d) ---------------------------------------------------------------------------------------
async def _inbound_keepalive(refresh_inbound):
    """Outbound at t0, server traffic at t0+100 and t0+200 (timer 120). Returns what the device
    received of the second server message, and its fate."""
    rig = await Rig().start(echo=False, timeout_s=TIMEOUT, refresh_inbound=refresh_inbound)
    try:
        dev = rig.device()
        ext = await rig.send(dev, b"register")
        rig.clock.advance(100)
        rig.server.sendto(b"read 1", ext)
        assert await rig.recv(dev) == b"read 1"       # within the timer either way
        rig.clock.advance(100)                          # 200 s after the last outbound
        rig.server.sendto(b"read 2", ext)
        assert await rig.settle(3)
        return await rig.recv(dev, SILENCE_S), rig.meter.records[-1]["fate"]
    finally:
        rig.close()


def test_inbound_does_not_refresh_by_default():
    got, fate = run(_inbound_keepalive(False))
    assert got is None
    assert fate == FATE_EXPIRED


def test_inbound_refresh_keeps_mapping():
    got, fate = run(_inbound_keepalive(True))
    assert got == b"read 2"
    assert fate == FATE_FORWARDED


# (e) ---------------------------------------------------------------------------------------
N_FAULT = 300
LOSS_UP = 0.2
DUP_DOWN = 0.25
SEED = 4787


async def _faults(seed):
    rig = await Rig().start(loss_up=LOSS_UP, dup_down=DUP_DOWN, seed=seed)
    got = []

    async def reader(dev):
        # read while sending, so that the device's socket buffer never overflows
        while True:
            data, _ = await rig.loop.sock_recvfrom(dev, 2048)
            got.append(data)
    try:
        dev = rig.device()
        task = asyncio.ensure_future(reader(dev))
        for i in range(N_FAULT):
            await rig.loop.sock_sendto(dev, b"m%03d" % i, rig.inside)
            if i % 10 == 9:
                await asyncio.sleep(0.005)   # let the loop drain

        def all_logged():
            f = rig.fates(UP)
            n_fwd = sum(1 for x in f if x == FATE_FORWARDED)
            return len(f) >= N_FAULT and len(rig.fates(DOWN)) >= n_fwd
        assert await until(all_logged, 5)
        n_down = sum(1 for r in rig.meter.records if r["dir"] == DOWN)
        await until(lambda: len(got) >= n_down, 2)
        await asyncio.sleep(SILENCE_S)       # anything extra would show up now
        task.cancel()
        return rig, list(rig.meter.records), got
    finally:
        rig.close()


def test_loss_and_duplication_observed_in_meter():
    rig, records, got = run(_faults(SEED))
    up = [r for r in records if r["dir"] == UP]
    down = [r for r in records if r["dir"] == DOWN]
    lost = sum(1 for r in up if r["fate"] == FATE_LOSS)
    dups = sum(1 for r in down if r["fate"] == FATE_DUPLICATED)
    assert len(up) == N_FAULT
    # the meter agrees with what really crossed the sockets
    assert len(rig.server.received) == N_FAULT - lost
    assert len(got) == len(rig.server.received) + dups
    # rates within 4 standard deviations of the configured ones
    for n, count, p in ((N_FAULT, lost, LOSS_UP), (N_FAULT - lost, dups, DUP_DOWN)):
        sd = (n * p * (1 - p)) ** 0.5
        assert abs(count - n * p) < 4 * sd, (count, n, p)
    assert not any(r["fate"] == FATE_LOSS for r in down)        # loss_down defaults to 0
    totals = rig.meter.totals()
    assert totals["dgrams_up"] == N_FAULT
    assert totals["dgrams_down"] == len(got)


def test_fault_decisions_repeat_with_the_same_seed():
    _, rec1, _ = run(_faults(SEED))
    _, rec2, _ = run(_faults(SEED))
    _, rec3, _ = run(_faults(SEED + 1))

    def fates(recs):
        return [(r["dir"], r["fate"]) for r in recs if r["dir"] == UP]
    assert fates(rec1) == fates(rec2)
    assert fates(rec1) != fates(rec3)


def test_reorder_swaps_pairs_and_delay_holds_back():
    async def main():
        rig = await Rig().start(echo=False, reorder_up=1.0, delay_up_ms=150)
        try:
            dev = rig.device()
            t0 = time.monotonic()
            for m in (b"1", b"2", b"3", b"4"):
                await rig.loop.sock_sendto(dev, m, rig.inside)
            assert await until(lambda: len(rig.server.received) == 4, 2)
            assert time.monotonic() - t0 >= 0.14
            assert [d for d, _ in rig.server.received] == [b"2", b"1", b"4", b"3"]
            assert sum(1 for r in rig.meter.records if r.get("reordered")) == 2
            # a held datagram with nothing behind it is released after reorder_hold_ms
            await rig.loop.sock_sendto(dev, b"5", rig.inside)
            assert await until(lambda: len(rig.server.received) == 5, 2)
        finally:
            rig.close()
    run(main())


# (f) ---------------------------------------------------------------------------------------
def test_forced_rebind_at_virtual_time():
    rebind = START + 50

    async def main():
        rig = await Rig().start(timeout_s=TIMEOUT, rebind_at=[rebind])
        try:
            dev = rig.device()
            src1 = await rig.send(dev, b"a")
            rig.clock.advance(30)                    # before the rebind: same port
            assert await rig.send(dev, b"b") == src1
            rig.clock.advance(30)                    # past START+50, still < timeout
            src3 = await rig.send(dev, b"c")
            assert src3 != src1
            ev = rig.events(EV_REBOUND)
            assert len(ev) == 1 and ev[0]["t"] == rebind
            assert ev[0]["outside"] == "%s:%d" % src1
            assert rig.events(EV_EXPIRED) == []
            rig.clock.advance(30)                    # the new mapping is not hit again
            assert await rig.send(dev, b"d") == src3
        finally:
            rig.close()
    run(main())


def test_expire_check_logs_at_virtual_death_time():
    async def main():
        rig = await Rig().start(timeout_s=TIMEOUT, rebind_at=[START + 10_000])
        try:
            dev = rig.device()
            await rig.send(dev, b"a")
            last = rig.nat.mappings[dev.getsockname()].last_activity
            rig.clock.advance(TIMEOUT * 3)
            dead = rig.nat.expire_check()
            assert len(dead) == 1
            assert rig.events(EV_EXPIRED)[0]["t"] == pytest.approx(last + TIMEOUT)
            assert rig.nat.external_addr(dev.getsockname()) is None
            assert rig.nat.expire_check() == []     # logged once
        finally:
            rig.close()
    run(main())


# (g) ---------------------------------------------------------------------------------------
def test_fresh_inside_port_per_wake_gets_a_new_mapping():
    async def main():
        rig = await Rig().start(timeout_s=TIMEOUT)
        try:
            d1 = rig.device()
            src1 = await rig.send(d1, b"wake 1")
            d1.close()
            rig.clock.advance(10)                     # short sleep, but a new local port
            d2 = rig.device()
            src2 = await rig.send(d2, b"wake 2")
            assert await rig.recv(d2) == b"wake 2"
            assert src2 != src1
            assert len(rig.nat.mappings) == 2         # the old one lives until its timer ends
            rig.clock.advance(TIMEOUT - 5)
            assert list(rig.nat.mappings) == [d2.getsockname()]
        finally:
            rig.close()
    run(main())


def test_fixed_inside_port_keeps_mapping_across_short_sleeps():
    async def main():
        rig = await Rig().start(timeout_s=TIMEOUT)
        try:
            d1 = rig.device()
            port = d1.getsockname()[1]
            src1 = await rig.send(d1, b"wake 1")
            d1.close()
            rig.clock.advance(60)
            d2 = rig.device(port)                     # same local port: same inside address
            assert await rig.send(d2, b"wake 2") == src1
            assert await rig.recv(d2) == b"wake 2"
            d2.close()
            rig.clock.advance(TIMEOUT + 1)
            d3 = rig.device(port)
            src3 = await rig.send(d3, b"wake 3")
            assert src3 != src1
            assert await rig.recv(d3) == b"wake 3"
        finally:
            rig.close()
    run(main())


# port allocation (RFC 4787 §4.2.1) ---------------------------------------------------------
def test_sequential_and_preserve_port_allocation():
    async def main():
        rig = await Rig().start(port_alloc="sequential")
        try:
            a, b = rig.device(), rig.device()
            pa = (await rig.send(a, b"a"))[1]
            pb = (await rig.send(b, b"b"))[1]
            assert pa < pb <= pa + 256
            assert rig.events(EV_CREATED)[1]["port_alloc"] == "sequential"
        finally:
            rig.close()
        rig = await Rig().start(port_alloc="preserve")
        try:
            dev = rig.device()                        # the device itself holds its port
            src = await rig.send(dev, b"a")
            assert src[1] != dev.getsockname()[1]
            assert rig.events(EV_CREATED)[0]["port_alloc"].startswith("preserve failed")
        finally:
            rig.close()
    run(main())


def test_bad_config_is_rejected():
    clock = SimClock(start=START)
    for bad in ({"filtering": "full-cone"}, {"loss": 1.5}, {"timeout_s": 0},
                {"on_expired_inbound": "icmp"}):
        with pytest.raises(ValueError):
            NatSim(clock, (HOST, 9), Meter(clock), **bad)
    with pytest.raises(TypeError):
        NatSim(clock, (HOST, 9), Meter(clock), timeout=30)
