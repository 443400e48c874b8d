"""Persisted device state: RTC memory for every wake, flash for what must survive a power cut.

What it does: keeps named sections (short str -> bytes) in one blob in RTC memory, framed with
a magic, a version and a checksum; knows every section the firmware persists (the registry
`_SECTIONS` below: owner, version, size budget) and refuses what is not in it; keeps a few
rarely written keys in the flash store; hands out nonce-safe counters (`SeqReserve`) that are
always below a bound already persisted.
What it does not do: interpret a section's bytes (its owner parses and checks them).

RTC blob layout: b'LW' | 2 | n(1) | n x [name_len(1) name ver(1) len(2) data] | sum16(2)
"""
import struct

from micropython import const

_MAGIC = const(b"LW")
_VER = const(2)

# The registry of RTC sections: '|name version budget owner [flags]'. Only its owner writes a
# section (host_tests/test_state_sections.py checks the sources); `put` refuses an unknown name
# or more bytes than the budget (logged, the section dropped: never an exception in a wake);
# `load` drops a section of an unknown name, another version (another firmware's layout: bump
# the version here when a layout changes) or over its budget. Budgets and framing fit the 2048
# bytes of RTC memory together (the tests check it), so a commit never overflows.
# Flags: d = a deadline (uint32 unix s) the device must be awake for (Store.owned('d'));
# r = ends with the registration (dropped after a Register: lwm2m/register.py);
# a = belongs to the server account (dropped when a bootstrap commits a new one: lwm2m/bsrun.py).
# Layouts: docs/memory.md "Persisted state". One string: no heap per entry (a dict would be).
_SECTIONS = const("|coap 1 4 coap.exchange"
            "|reg 1 96 lwm2m.register a"
            "|plan 1 160 wake.planner a"
            "|sec 1 256 sec.dtls_channel a"
            "|qdw 1 8 sec.dtls_channel"
            "|hs 1 1 dtls.handshake"
            "|osc 1 48 sec.oscore_channel"
            "|qosc 1 8 sec.oscore_channel"
            "|osq 1 192 sec.oscore_channel"
            "|sm 1 8 wake.mechanisms a"
            "|sb 1 2 wake.mechanisms a"
            "|wp 1 32 wake.mechanisms a"
            "|wo 1 32 wake.mechanisms a"
            "|wn 1 32 wake.mechanisms a"
            "|obs 1 280 lwm2m.observe r a"
            "|obd 1 4 lwm2m.observe d r a"
            "|smp 1 520 lwm2m.sample+lwm2m.send"
            "|temp 1 64 lwm2m.std"
            "|mdm 1 16 net.slm|")


def spec(name=None):
    """[name, version, budget, owner, flags...] (str) of section `name`, or None; spec(): the
    registry string itself (tests)."""
    t = _SECTIONS
    if name is None:
        return t
    i = t.find("|" + name + " ")
    return None if i < 0 else t[i + 1:t.find("|", i + 1)].split(" ")


def _sum16(b, s=0):
    for x in b:
        s = (s * 31 + x) & 0xFFFF
    return s


class Store:
    def __init__(self, board):
        self.board = board
        self.sections = {}

    # -- RTC memory ---------------------------------------------------------------------------
    def load(self):
        """Read the blob; False if there is none or it does not check (as after a power cut).
        A section the registry does not take (name, version, size) is dropped and logged."""
        raw = self.board.rtc_read()
        self.sections = {}
        if not raw or len(raw) < 6 or raw[:2] != _MAGIC or raw[2] != _VER:
            return False
        if _sum16(raw[:-2]) != struct.unpack(">H", raw[-2:])[0]:
            return False
        n = raw[3]
        off = 4
        try:
            for _ in range(n):
                nl = raw[off]
                b = bytes(raw[off + 1:off + 1 + nl])
                name = b.decode()
                v = raw[off + 1 + nl]
                off += 2 + nl
                ln = struct.unpack(">H", raw[off:off + 2])[0]
                off += 2
                if off + ln > len(raw) - 2:
                    raise ValueError
                s = spec(name)
                if s is None or int(s[1]) != v or ln > int(s[2]):
                    from log import log
                    log("state: %s v%d %d B does not load (registry: %s): dropped" % (name, v, ln, s and s[1:3]), "E")
                else:
                    hasattr(Store, name)    # interns a registered name: decoded again it is
                    name = b.decode()       # that name (no heap), not a str kept all wake
                    self.sections[name] = bytes(raw[off:off + ln])
                off += ln
        except (ValueError, IndexError, UnicodeError):
            self.sections = {}
            return False
        return True

    def get(self, name):
        return self.sections.get(name)

    def put(self, name, data):
        """Keep `data` as section `name` (None: drop it) until the next commit. Refused (logged,
        the section dropped, False) for a name the registry lacks or data over its budget."""
        if data is None:
            self.sections.pop(name, None)
            return True
        s = spec(name)
        if s is None or len(data) > int(s[2]):
            self.sections.pop(name, None)
            from log import log
            log("state: %s %d B refused (budget %s): dropped" % (name, len(data), s and s[2]), "E")
            return False
        self.sections[name] = bytes(data)
        return True

    def drop(self, name):
        self.sections.pop(name, None)

    def owned(self, key):
        """The kept sections whose owner (a module, as in the registry) or flag is `key`: the
        cycle asks owned('lwm2m.observe'), a Register drops owned('r'), and owned('d') are the
        deadlines (uint32 unix s) the modules persisted: each answers for its own."""
        return [n for n in self.sections if key in (spec(n) or ())[3:]]

    def encode(self):
        # one allocation of the blob's size (the checksum is computed over the parts first):
        # a commit inside a DTLS handshake runs on a fragmented heap
        parts = [_MAGIC, bytes((_VER, len(self.sections)))]
        for name in sorted(self.sections):
            d = self.sections[name]
            nb = name.encode()
            parts.append(bytes((len(nb),)) + nb + struct.pack(">BH", int(spec(name)[1]), len(d)))
            parts.append(d)
        c = 0
        for p in parts:
            c = _sum16(p, c)
        parts.append(struct.pack(">H", c))
        return b"".join(parts)

    def commit(self):
        """Write every section to RTC memory now (cheap: RAM). Raises ValueError if > limit
        (never with the registry's budgets)."""
        blob = self.encode()
        self.board.rtc_write(blob)
        return len(blob)

    # -- flash (rare writes: wear) ------------------------------------------------------------
    def flash_get(self, key):
        return self.board.flash_read(key)

    def flash_put(self, key, data):
        self.board.flash_write(key, data)


class SeqReserve:
    """A counter whose every value is below a bound persisted before use (never reused).

    Two bounds: `rtc_bound` in RTC memory (survives deep sleep and resets, bumped in small
    blocks, free to write) and `flash_bound` in flash (survives power cuts, bumped in large
    blocks, rarely written). Invariant: next < rtc_bound <= flash_bound, and both bounds are
    stored before the value below them is handed out. After a restart the counter resumes at
    the bound of whichever store survived (RTC if valid, else flash): values between the last
    one used and that bound are skipped, never repeated (RFC 8613 App. B.1.1 with K, F).
    `flash` False: the flash bound is kept in RAM only, for a counter whose keys are not in
    flash either (a power cut loses both: nothing to protect); the owner may change it when
    its keys move (sec/dtls_channel.py). RTC section 'q' + name, flash key 'seq_' + name.
    """

    def __init__(self, store, name, rtc_block=16, flash_block=256, limit=(1 << 48) - 1, flash=True):
        self.store = store
        self.name = name
        self.flash = flash
        self.rtc_block = rtc_block
        self.flash_block = flash_block
        self.limit = limit
        self.next = 0
        self.rtc_bound = 0
        self.flash_bound = 0

    def start(self, value):
        """A fresh key: the counter restarts at `value` (e.g. 0 or 1 after a handshake)."""
        self.next = value
        self.rtc_bound = value
        self.flash_bound = value
        if self.flash:
            self.store.flash_put("seq_" + self.name, struct.pack(">Q", value))
        self.settle()
        self.store.commit()

    def restore(self):
        """Resume after a reset. Returns False if nothing was persisted for this counter."""
        r = self.store.get("q" + self.name)
        f = self.store.flash_get("seq_" + self.name)
        fb = struct.unpack(">Q", f)[0] if f and len(f) == 8 else None
        if r and len(r) == 8:
            rb = struct.unpack(">Q", r)[0]
            # RTC memory valid: its bound covers every value handed out (RTC written first).
            if fb is not None and fb < rb:
                fb = rb
            self.next = rb
        elif fb is not None:
            self.next = fb
        else:
            return False
        self.rtc_bound = self.next
        self.flash_bound = fb if fb is not None else self.next
        return True

    def take(self):
        """Return the next value; persists new bounds first whenever it would reach one."""
        v = self.next
        if v >= self.limit:
            raise OverflowError("sequence space exhausted: rekey")
        if v >= self.rtc_bound:
            nb = v + self.rtc_block
            if nb > self.flash_bound:
                self.flash_bound = nb + self.flash_block
                if self.flash:
                    self.store.flash_put("seq_" + self.name, struct.pack(">Q", self.flash_bound))
            self.rtc_bound = nb
            self.store.put("q" + self.name, struct.pack(">Q", nb))
            self.store.commit()
        self.next = v + 1
        return v

    def settle(self):
        """End of wake, nothing more will be sent: lower the RTC bound to the exact next value so
        a normal sleep skips no numbers. The flash bound stays ahead (power cuts)."""
        self.rtc_bound = self.next
        self.store.put("q" + self.name, struct.pack(">Q", self.rtc_bound))
