"""A UDP NAT simulator (RFC 4787 behaviour) between the device and the harness server.

What it does:
- listens on an *inside* address (127.0.0.1, port from bind(0) unless configured) that the
  device uses as its server address; each datagram from an inside (ip, port) is forwarded to
  the server from that inside address's *mapping*: a real UDP socket bound on 127.0.0.1 whose
  port is the external port x' the server sees;
- forwards the server's answers that reach a live mapping's socket back to the device, from the
  inside address (so the device sees its server's address), if the filter lets them in;
- keeps mapping timers against the scenario's virtual clock (tools/simclock.py): a mapping dies
  `timeout_s` after its last refresh (lazily, when a packet arrives, or when the runner calls
  `expire_check()`), or at a forced rebind time; the death is logged at the virtual time it
  happened. Inbound packets to a dead mapping's port are dropped and logged; the next outbound
  packet gets a new mapping with a new external socket and port;
- injects faults from a seeded random.Random: loss and duplication per direction, reordering
  (hold one datagram and release it after the next one), a fixed delay;
- logs every datagram and mapping event into a tools/meter.py Meter.

What it does not do: hairpinning, ICMP errors (on_expired_inbound='icmp'), port quarantine
timers, external IP pooling, TCP, or fragmentation. It serves one server address: every
outbound datagram goes to `server_addr`, so the mapping modes EIM, ADM and APDM behave alike
(they are keyed as RFC 4787 §4.1 says, for completeness). It does not parse payloads (the meter
classifies them for the log only).

Design note: mapping creation must happen synchronously when an outbound datagram arrives, so
the simulator uses non-blocking sockets with `loop.add_reader` rather than asyncio datagram
transports (whose creation is a coroutine). It needs an event loop with add_reader (the default
selector loop on Linux and macOS).

Fault decisions: for every datagram that reaches the fault stage, three numbers are drawn from
the seeded generator (loss, duplication, reordering), whatever the rates, so that changing one
rate does not shift the other decisions. Upstream loss happens after the NAT (the mapping is
created or refreshed); downstream loss after the filter (an inbound refresh still happens).
"""
import asyncio
import random
import socket

try:
    from meter import (UP, DOWN, FATE_FORWARDED, FATE_DUPLICATED, FATE_EXPIRED, FATE_FILTERED,
                       FATE_LOSS, EV_CREATED, EV_EXPIRED, EV_REBOUND)
except ImportError:  # imported as tools.nat
    from tools.meter import (UP, DOWN, FATE_FORWARDED, FATE_DUPLICATED, FATE_EXPIRED,
                             FATE_FILTERED, FATE_LOSS, EV_CREATED, EV_EXPIRED, EV_REBOUND)

# RFC 4787 vocabulary
MAPPING_MODES = ("EIM", "ADM", "APDM")          # §4.1
FILTERING_MODES = ("EIF", "ADF", "APDF")        # §5
PORT_ALLOC_MODES = ("random", "sequential", "preserve")  # §4.2.1
EXPIRED_INBOUND_MODES = ("drop",)               # 'icmp' is not modelled

LOOPBACK = "127.0.0.1"
DEFAULT_TIMEOUT_S = 120          # RFC 4787 REQ-5: the minimum compliant mapping timer
DEFAULT_REORDER_HOLD_MS = 200    # a held datagram is released by then if nothing follows it
DEFAULT_TOMBSTONES = 16          # dead mappings whose socket stays open to log late inbound
PORT_MIN, PORT_MAX = 1024, 65535  # REQ-3a: stay in the non-privileged range
SEQUENTIAL_SCAN = 256            # ports tried after the previous one before falling back
RANDOM_RETRIES = 8               # bind(0) retries when the kernel hands back the old port
MAX_DGRAM = 65535

DEFAULTS = {
    "mapping": "EIM",
    "filtering": "APDF",
    "timeout_s": DEFAULT_TIMEOUT_S,
    "refresh_inbound": False,
    "port_alloc": "random",
    "on_expired_inbound": "drop",
    "inside_port": 0,
    "inside_ip": LOOPBACK,
    "external_ip": LOOPBACK,
    "seed": 0,
    "loss": 0.0, "loss_up": None, "loss_down": None,
    "dup": 0.0, "dup_up": None, "dup_down": None,
    "reorder": 0.0, "reorder_up": None, "reorder_down": None,
    "reorder_hold_ms": DEFAULT_REORDER_HOLD_MS,
    "delay_ms": 0.0, "delay_up_ms": None, "delay_down_ms": None,
    "rebind_at": (),
    "tombstones": DEFAULT_TOMBSTONES,
}


def _addr_str(a):
    return "%s:%d" % (a[0], a[1])


class Mapping:
    """One NAT binding: inside (ip, port) <-> external socket (ip, x')."""

    def __init__(self, key, inside, sock, created_at, index, port_note):
        self.key = key
        self.inside = inside
        self.sock = sock
        self.external = sock.getsockname()[:2]
        self.created_at = created_at
        self.last_activity = created_at
        self.contacted = set()      # remote (ip, port) the inside host sent to: the filter state
        self.refreshes = 0
        self.index = index          # 1, 2, ... in creation order
        self.port_note = port_note  # how the external port was chosen
        self.alive = True
        self.died_at = None

    def __repr__(self):
        return "Mapping(#%d %s -> %s%s)" % (self.index, _addr_str(self.inside),
                                            _addr_str(self.external),
                                            "" if self.alive else " dead")


class NatSim:
    """The NAT simulator. `await start()` returns the inside address the device sends to."""

    def __init__(self, clock, server_addr, meter, **config):
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise TypeError("NatSim: unknown option(s) %s" % ", ".join(sorted(unknown)))
        cfg = dict(DEFAULTS)
        cfg.update(config)
        for name in ("mapping", "filtering"):       # accept 'eim', 'apdf' ...
            if isinstance(cfg[name], str):
                cfg[name] = cfg[name].upper()
        self._check(cfg)
        self.cfg = cfg
        self.clock = clock
        self.server_addr = (server_addr[0], int(server_addr[1]))
        self.meter = meter
        if getattr(meter, "clock", None) is None:
            meter.clock = clock  # so that meter.mark() stamps segments with virtual time
        self.rng = random.Random(cfg["seed"])
        self.timeout_s = float(cfg["timeout_s"])
        self.rebind_at = sorted(float(t) for t in cfg["rebind_at"])
        self.loss = self._per_dir(cfg, "loss")
        self.dup = self._per_dir(cfg, "dup")
        self.reorder = self._per_dir(cfg, "reorder")
        self.delay_s = {d: v / 1000.0 for d, v in self._per_dir(cfg, "delay_ms").items()}
        self.inside_addr = None
        self._inside_sock = None
        self._loop = None
        self._mappings = {}         # key -> live Mapping
        self._tombstones = []       # dead Mappings whose socket still listens (oldest first)
        self._count = 0
        self._last_port = None      # external port of the previous mapping ('sequential')
        self._last_port_of = {}     # inside -> its previous external port (never reused next)
        self._held = {UP: None, DOWN: None}
        self._timers = set()
        self.send_errors = 0

    # --- configuration ---------------------------------------------------------------------
    @staticmethod
    def _check(cfg):
        for name, allowed in (("mapping", MAPPING_MODES), ("filtering", FILTERING_MODES),
                              ("port_alloc", PORT_ALLOC_MODES),
                              ("on_expired_inbound", EXPIRED_INBOUND_MODES)):
            if cfg[name] not in allowed:
                raise ValueError("NatSim: %s=%r, expected one of %s" % (name, cfg[name], allowed))
        if cfg["timeout_s"] <= 0:
            raise ValueError("NatSim: timeout_s must be > 0")
        for name in ("loss", "dup", "reorder"):
            for key in (name, name + "_up", name + "_down"):
                v = cfg[key]
                if v is not None and not 0.0 <= v <= 1.0:
                    raise ValueError("NatSim: %s=%r is not a rate in [0, 1]" % (key, v))

    @staticmethod
    def _per_dir(cfg, name):
        both = cfg[name]
        if name.endswith("_ms"):
            base = name[:-3]
            up, down = cfg[base + "_up_ms"], cfg[base + "_down_ms"]
        else:
            up, down = cfg[name + "_up"], cfg[name + "_down"]
        return {UP: both if up is None else up, DOWN: both if down is None else down}

    # --- life cycle ---------------------------------------------------------------------------
    async def start(self):
        """Bind the inside socket and start forwarding; returns the inside (host, port)."""
        self._loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.bind((self.cfg["inside_ip"], int(self.cfg["inside_port"])))
        self._inside_sock = s
        self.inside_addr = s.getsockname()[:2]
        self._loop.add_reader(s.fileno(), self._on_inside_readable)
        return self.inside_addr

    def close(self):
        """Stop forwarding and close every socket (inside, mappings, tombstones)."""
        for h in list(self._timers):
            h.cancel()
        self._timers.clear()
        for d in (UP, DOWN):
            held = self._held[d]
            if held is not None:
                held["timer"].cancel()
                self._held[d] = None
        socks = [m.sock for m in self._mappings.values()] + [m.sock for m in self._tombstones]
        if self._inside_sock is not None:
            socks.append(self._inside_sock)
        for s in socks:
            self._close_sock(s)
        self._mappings.clear()
        self._tombstones = []
        self._inside_sock = None

    def _close_sock(self, s):
        if s.fileno() >= 0:
            if self._loop is not None:
                self._loop.remove_reader(s.fileno())
            s.close()

    # --- queries --------------------------------------------------------------------------
    @property
    def mappings(self):
        """Live mappings (after applying any expiry due now): {key: Mapping}."""
        self.expire_check()
        return dict(self._mappings)

    def external_addr(self, inside):
        """The external (ip, port) of the live mapping of an inside (ip, port), or None."""
        inside = (inside[0], int(inside[1]))
        self.expire_check()
        for m in self._mappings.values():
            if m.inside == inside:
                return m.external
        return None

    def _key(self, inside, remote):
        mode = self.cfg["mapping"]
        if mode == "EIM":
            return inside
        if mode == "ADM":
            return (inside, remote[0])
        return (inside, remote)

    # --- timers ---------------------------------------------------------------------------
    def _death(self, m):
        """(virtual time, event) at which the mapping dies unless refreshed before."""
        t, event = m.last_activity + self.timeout_s, EV_EXPIRED
        for r in self.rebind_at:
            if r > m.created_at:
                if r < t:
                    t, event = r, EV_REBOUND
                break
        return t, event

    def expire_check(self, now=None):
        """Drop every mapping whose timer ran out (or that a forced rebind hit) by virtual time
        `now` (default clock.now()); each is logged at the time it died. Returns the list of
        mappings dropped by this call."""
        if now is None:
            now = self.clock.now()
        dead = []
        for m in sorted(self._mappings.values(), key=lambda x: self._death(x)[0]):
            t, event = self._death(m)
            if t <= now:
                self._kill(m, t, event)
                dead.append(m)
        return dead

    def _kill(self, m, t, event):
        del self._mappings[m.key]
        m.alive = False
        m.died_at = t
        self.meter.nat_event(event, m.inside, m.external, t=t, mapping=m.index,
                             refreshes=m.refreshes, lived_s=round(t - m.created_at, 3),
                             reason="timeout %gs" % self.timeout_s if event == EV_EXPIRED
                             else "forced rebind")
        self._tombstones.append(m)
        while len(self._tombstones) > max(0, int(self.cfg["tombstones"])):
            self._close_sock(self._tombstones.pop(0).sock)

    # --- port allocation (RFC 4787 §4.2.1) ---------------------------------------------------
    def _try_bind(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # never SO_REUSEADDR: the external socket must not share a port with the device
        try:
            s.bind((self.cfg["external_ip"], port))
        except OSError:
            s.close()
            return None
        s.setblocking(False)
        return s

    def _bind_random(self, avoid):
        for _ in range(RANDOM_RETRIES):
            s = self._try_bind(0)
            if s is None:
                continue
            if s.getsockname()[1] != avoid:
                return s
            s.close()
        raise OSError("NatSim: no external port available")

    def _bind_external(self, inside):
        avoid = self._last_port_of.get(inside)
        mode = self.cfg["port_alloc"]
        if mode == "preserve":
            if inside[1] != avoid:
                s = self._try_bind(inside[1])
                if s is not None:
                    return s, "preserved"
            return self._bind_random(avoid), "preserve failed (port in use): random"
        if mode == "sequential" and self._last_port is not None:
            p = self._last_port
            for _ in range(SEQUENTIAL_SCAN):
                p = p + 1 if p < PORT_MAX else PORT_MIN
                if p == avoid:
                    continue
                s = self._try_bind(p)
                if s is not None:
                    return s, "sequential"
            return self._bind_random(avoid), "sequential scan failed: random"
        return self._bind_random(avoid), "random" if mode == "random" else "first: random"

    def _create(self, key, inside, now):
        sock, note = self._bind_external(inside)
        self._count += 1
        m = Mapping(key, inside, sock, now, self._count, note)
        self._mappings[key] = m
        self._last_port = m.external[1]
        self._last_port_of[inside] = m.external[1]
        self._loop.add_reader(sock.fileno(), self._on_external_readable, m)
        self.meter.nat_event(EV_CREATED, inside, m.external, t=now, mapping=m.index,
                             port_alloc=note)
        return m

    def _refresh(self, m, now):
        m.last_activity = now
        m.refreshes += 1
        self.meter.nat_refresh()

    # --- packet paths -----------------------------------------------------------------------
    @staticmethod
    def _drain(sock):
        while True:
            try:
                yield sock.recvfrom(MAX_DGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. ICMP port unreachable reported on the socket: nothing to read

    def _on_inside_readable(self):
        for data, src in self._drain(self._inside_sock):
            self._outbound(data, src[:2])

    def _on_external_readable(self, m):
        if m.sock.fileno() < 0:
            return
        for data, src in self._drain(m.sock):
            self._inbound(m, data, src[:2])

    def _outbound(self, data, inside):
        now = self.clock.now()
        self.expire_check(now)
        remote = self.server_addr
        key = self._key(inside, remote)
        m = self._mappings.get(key)
        if m is None:
            m = self._create(key, inside, now)
        else:
            self._refresh(m, now)  # REQ-6: outbound refresh is always on
        m.contacted.add(remote)
        self._forward(UP, data, m, remote, now)

    def _inbound(self, m, data, remote):
        now = self.clock.now()
        self.expire_check(now)
        if not m.alive:
            self.meter.datagram(DOWN, data, m.inside, m.external, remote, FATE_EXPIRED, t=now)
            return
        if not self._filter_allows(m, remote):
            self.meter.datagram(DOWN, data, m.inside, m.external, remote, FATE_FILTERED, t=now)
            return
        if self.cfg["refresh_inbound"]:
            self._refresh(m, now)
        self._forward(DOWN, data, m, remote, now)

    def _filter_allows(self, m, remote):
        """RFC 4787 §5: may `remote` send to this mapping?"""
        mode = self.cfg["filtering"]
        if mode == "EIF":
            return True
        if mode == "ADF":
            return any(remote[0] == c[0] for c in m.contacted)
        return remote in m.contacted

    def _forward(self, direction, data, m, remote, now):
        lost = self.rng.random() < self.loss[direction]
        dup = self.rng.random() < self.dup[direction]
        reorder = self.rng.random() < self.reorder[direction]
        if lost:
            self.meter.datagram(direction, data, m.inside, m.external, remote, FATE_LOSS, t=now)
            return
        if direction == UP:
            sock, dst = m.sock, remote
        else:
            sock, dst = self._inside_sock, m.inside
        held = self._held[direction]
        hold = reorder and held is None
        extra = {"reordered": True} if hold else {}
        self.meter.datagram(direction, data, m.inside, m.external, remote, FATE_FORWARDED,
                            t=now, **extra)
        if dup:
            self.meter.datagram(direction, data, m.inside, m.external, remote, FATE_DUPLICATED,
                                t=now, **extra)
        copies = [(sock, data, dst)] * (2 if dup else 1)
        if hold:
            timer = self._loop.call_later(self.cfg["reorder_hold_ms"] / 1000.0,
                                          self._release, direction)
            self._held[direction] = {"copies": copies, "timer": timer}
            return
        for c in copies:
            self._transmit(direction, *c)
        if held is not None:
            self._release(direction)

    def _release(self, direction):
        held = self._held[direction]
        if held is None:
            return
        self._held[direction] = None
        held["timer"].cancel()
        for c in held["copies"]:
            self._transmit(direction, *c)

    def _transmit(self, direction, sock, data, dst):
        delay = self.delay_s[direction]
        if delay > 0:
            h = None

            def fire():
                self._timers.discard(h)
                self._sendto(sock, data, dst)
            h = self._loop.call_later(delay, fire)
            self._timers.add(h)
        else:
            self._sendto(sock, data, dst)

    def _sendto(self, sock, data, dst):
        if sock.fileno() < 0:
            self.send_errors += 1  # the mapping was closed while the datagram was in flight
            return
        try:
            sock.sendto(data, dst)
        except OSError:
            self.send_errors += 1
