"""Several mechanisms for one LwM2M server (`security.modes`, e.g. ["oscore", "psk"]): the
planner chooses among all their paths on every wake and the cycle falls back across them.

load() gives wake/cycle.py one object with the security-channel contract (sec/base.py) that
holds at most one real channel at a time:

- At planning it builds the channel of the registration's mechanism (the one most likely
  used) and takes the other mechanisms' paths and estimates from what their channel left when
  it was last dropped (RTC section 'w' + mode[0]); a mechanism without that summary (first
  wake, RTC memory lost) is built too, before, and dropped again: settle(), its save() into
  its RTC section, its summary, and every module loaded for it out of sys.modules (heap). paths()
  then gives one list per mechanism (a tuple); wake/planner.py has them put in one list by
  its own expected energy (paths(planner)).
- connect(path) builds the channel of the path's mechanism if another one is alive (dropping
  that one first), then runs the path. send/recv/settle/save/forget go to the live channel.
- RTC sections: DTLS keeps 'sec', OSCORE 'osc' (each channel loads and writes its own);
  each mechanism its own nonce counters (SeqReserve 'dw', 'osc'): nothing is shared between
  them. This module writes 'sm' and the summaries 'w' + mode[0] (state._SECTIONS).
- 'sm': the mechanism the server last answered with a 2.xx (the registration's). A path of
  another mechanism is a new identity for the server: unless the server binds several
  identities of one endpoint to one registration it Registers instead of Updating (`moved`,
  refused(None): plan() adds these paths to the planner's Register set, which counts the
  Register's bytes); an Update the server refuses (4.03/4.04) becomes a Register.
  `server.bind_identities` true/false says whether it binds; "auto" (the default) learns it:
  an Update on the other mechanism answered 2.04 (bound()) says it binds, 4.03 that it does
  not, kept in RTC section 'sb' (state, switches since). Not binding, a switch Registers
  directly; every _every()-th switch tries the Update again (a re-probe within the planner's
  exploration budget).
- A mechanism whose credentials were refused (auth-failed) ends only its own paths: refused().
- server.uris {"psk": "coaps://HOST:5684", "oscore": "coap://HOST:5683"}: a mechanism's own
  address (server.uri for the others); the socket is opened again when the mechanism changes.
- `kind` is the live channel's kind, or "oscore>dtls" after a fallback across mechanisms (the
  WAKE line's `kind`); each switch is logged.
"""
import gc
import struct
import sys

from log import log, unload


def _unpack(b):
    """[(path, estimate)] from _sum()'s bytes, or None (none kept, or damaged). A path's byte:
    its index in PATHS, + 128 for the modem's own ('modem-cid', 'modem-full-handshake')."""
    from wake.planner import PATHS
    if not b or len(b) % 7:
        return None
    out = []
    for i in range(0, len(b), 7):
        k = b[i] & 127
        if k >= len(PATHS):
            return None
        out.append(("modem-" * (b[i] >> 7) + PATHS[k], struct.unpack(">HHBB", b[i + 1:i + 7])))
    return out


def _every(explore):
    """Switches between re-probes of a server that did not bind: one refused Update and its
    4.03 (about 40 B) within `planner.explore` % of the Registers' bytes (150 B each) of the
    switches in between (explore 1, the default: every 27th switch; 5: every 6th). 0: never again."""
    return (4000 + explore * 150 - 1) // (explore * 150) if explore > 0 else 1 << 30


def _binds(a, store):
    """(the server binds identities, switches since it showed it does not (None: not learned
    or not "auto")) from server.bind_identities and RTC 'sb' (validated: else unknown)."""
    b = a[3]["server"].get("bind_identities", "auto")
    if b is True or b is False:
        return b, None
    s = store.get("sb")
    if not s or len(s) != 2 or s[0] != 2:
        return True, None       # unknown or learned binding: an Update tells
    if s[1] + 1 >= _every((a[3].get("planner") or {}).get("explore", 1)):
        return True, None       # time to re-probe: the Update once more
    return False, s[1]


def load(modes, net, store, board, cfg, secrets):
    return Ways(modes, (net, store, board, cfg, secrets))


class Ways:
    def __init__(self, modes, a):
        self.a = a
        store = self.store = a[1]
        self.c = None            # the one channel alive
        self.mode = None
        self.first = None        # the mechanism of the wake's first path
        self.path_taken = None
        self.dropped = self.d0 = 0
        self.last_error = None
        self.kind = None
        self.won = None          # the mechanism the server answered 2.xx on this wake
        m = store.get("sm")
        m = self.reg = m.decode() if m in (b"psk", b"oscore") else None
        self.of = {}             # path -> mechanism
        self.est = {}            # path -> the channel's estimate
        ls = []
        likely = m or modes[-1]  # the registration's mechanism: built (the others if needed)
        for mode in [x for x in modes if x != likely] + [likely]:
            ps = None if mode == likely else _unpack(store.get("w" + mode[0]))
            if ps is None:
                c = self._build(mode)
                ps = [(p, c.estimate(p)) for p in c.paths()]
                c = None         # (this name must not keep it alive while the next is built)
            for p, e in ps:
                self.of[p] = mode
                self.est[p] = e
            ls.append([p for p, e in ps])
        self.ls = tuple(ls)
        b, self.nb = _binds(a, store)
        self.moved = () if not m or b else tuple(p for p in self.of if self.of[p] != m)

    # -- one channel at a time ------------------------------------------------------------
    def _build(self, mode):
        if self.c is not None:
            self._drop()
        from wake.cycle import make_channel
        self.keep = tuple(sys.modules)
        c = make_channel(mode, *self.a)      # (it loads its own RTC section)
        self.c, self.mode = c, mode
        if self.first is None:
            self.kind = c.kind
        return c

    def _aim(self, mode):
        """server.uris: this mechanism's address, if it has one of its own (a socket to it
        from the board's local port; the byte counters go on). Only before a path runs: the
        survey sends nothing."""
        cfg = self.a[3]
        u = (cfg["server"].get("uris") or {}).get(mode)
        n = self.a[0]
        us = hasattr(n, "sec")     # the nRF9160 (net/slm.py)
        if not us and not hasattr(n, "dst"):
            return
        d = (cfg["_host"], cfg["_port"])
        if u:
            r = u.split("://", 1)[1].split("/", 1)[0]
            h, _, p = r.rpartition(":")
            d = (h, int(p)) if h else (r, 5684 if mode == "psk" else 5683)
        if us:      # its own module: its names are heap (interned) in every wake that loads it
            __import__("net.slm_switch", None, None, (1,)).use(n, mode == "psk", d)
            unload("net.slm_switch")
        elif tuple(n.dst) != d:
            k = (n.up, n.down, n.dg_up, n.dg_down)
            n.close()
            n.__init__(d[0], d[1], self.a[2].local_port())
            n.up, n.down, n.dg_up, n.dg_down = k

    def _sum(self, c):
        """What the next wakes plan with for this mechanism without building its channel:
        its paths and their estimates now (RTC section 'w' + mode[0]; lost with the RTC
        memory, then the channel is built again)."""
        from wake.planner import PATHS
        b = bytearray()
        for p in c.paths():
            q = p[6:] if p[:6] == "modem-" else p
            if q in PATHS:
                b.append(PATHS.index(q) + (128 if q != p else 0))
                b.extend(struct.pack(">HHBB", *[min(x, 255 if i > 1 else 65535)
                                                for i, x in enumerate(c.estimate(p))]))
        self.store.put("w" + self.mode[0], b)

    def _drop(self):
        c = self.c
        c.settle()               # (the channel writes its own RTC section)
        self._sum(c)
        self.d0 += c.dropped
        self.c = c = None
        # the firmware's own security modules loaded for it; crypto/ (AES-CCM, HMAC: both
        # mechanisms use it) stays: unloaded, the 32-bit port's replay broke (heap32)
        for n in [n for n in sys.modules if n not in self.keep and n.split(".")[0] in
                  ("sec", "dtls", "oscore")]:
            unload(n)
        gc.collect()

    # -- the channel contract (sec/base.py) ------------------------------------------------
    def paths(self, planner=None):
        """One list of paths per mechanism (a tuple). With the planner (wake/planner.py calls
        back with itself): one list, the paths of every mechanism by the planner's expected
        energy (measured bytes and time, else the channel's estimate), each mechanism's own
        order kept, so the costliest fallback of last resort ends it. planner.force puts the
        forced path's mechanism first, from that path on (a fixed strategy), the others after."""
        if planner is None:
            return self.ls
        ls = [list(x) for x in self.ls if x]
        out = []
        f = planner.force
        for x in ls if f else ():
            if (f[:6] == "oscore") == (x[0][:6] == "oscore"):   # the forced path's mechanism
                for i, p in enumerate(x):
                    if p == f or p[p.find("-") + 1:] == f:
                        del x[:i]
                        break
                out.extend(x)
                ls.remove(x)
                break
        while ls:
            x = min(ls, key=lambda x: planner.cost(self, x[0]))
            out.append(x.pop(0))
            if not x:
                ls.remove(x)
        return out

    def estimate(self, path):
        return self.est[path]

    def refused(self, path):
        """The paths of `path`'s mechanism (its credentials were refused: skip them); for
        None, the paths on which the server would refuse an Update (`moved`)."""
        if path is None:
            return self.moved
        m = self.of.get(path)
        return tuple(p for p in self.of if self.of[p] == m)

    def bound(self, ok):
        """wake/cycle.py: an Update was answered 2.04 (ok) or 4.03. On another mechanism than
        the registration's with server.bind_identities "auto": the server binds identities
        or it does not, persisted (RTC 'sb')."""
        b = self.a[3]["server"].get("bind_identities", "auto")
        if not self.reg or self.mode == self.reg or b is True or b is False:
            return
        self.store.put("sb", bytes((1 if ok else 2, 0)))
        log("server %s identities (an Update from %s after %s answered %s)%s" % (
            "binds" if ok else "does not bind", self.mode, self.reg, "2.04" if ok else "4.03",
            "" if ok else ": a mechanism switch Registers"), "I" if ok else "W")

    def connect(self, path):
        m = self.of.get(path)
        if m is None:
            from errors import ConfigError
            raise ConfigError("no path " + str(path))
        if self.first is None:
            self.first = m
            self.kind = None
        elif m != self.mode:
            log("%s: mechanism %s after %s failed (fallback)" % (path, m, self.mode), "W")
        if m != self.mode:
            self._build(m)
        self._aim(m)
        c = self.c
        try:
            c.connect(path)
        finally:
            self.path_taken = c.path_taken
            self.last_error = c.last_error
            k = self.kind = self.kind or c.kind      # the first path's channel
            if k.split(">")[0] != c.kind:
                self.kind = k.split(">")[0] + ">" + c.kind

    def send(self, msg):
        self.c.send(msg)

    def recv(self, timeout_ms):
        m = self.c.recv(timeout_ms)
        if m is not None and 64 <= m.code < 96:
            self.won = self.mode     # a 2.xx: the server took us on this mechanism
        return m

    def forget(self):
        self.c.forget()

    def forget_path(self, path):
        self.c.forget_path(path)

    def settle(self):
        """End of wake: the live channel settles and writes its section; this module writes
        the live mechanism's summary and the one the server answered ('sm')."""
        c = self.c
        c.settle()
        self._sum(c)
        if self.won:
            if self.nb is not None and self.reg and self.won != self.reg:
                self.store.put("sb", bytes((2, min(self.nb + 1, 255))))   # a switch Registered
            self.store.put("sm", self.won.encode())
        self.dropped = self.d0 + c.dropped
        self.last_error = c.last_error

    def save(self):
        return self.c.save()

    def restore(self, b):
        return True              # each channel restored its own section when built
