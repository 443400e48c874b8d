"""Persisted device state: RTC memory for every wake, flash for what must survive a power cut.

What it does: keeps named sections (short str -> bytes) in one blob in RTC memory, framed with
a magic, a version and a checksum, and a few rarely written keys in the flash store; hands out
nonce-safe counters (`SeqReserve`) that are always below a bound already persisted.
What it does not do: interpret sections (each layer owns its own bytes).

RTC blob layout: b'LW' | ver(1) | n(1) | n x [name_len(1) name len(2) data] | sum16(2)
"""
import struct

_MAGIC = b"LW"
_VER = 1


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
                name = bytes(raw[off + 1:off + 1 + nl]).decode()
                off += 1 + nl
                ln = struct.unpack(">H", raw[off:off + 2])[0]
                off += 2
                if off + ln > len(raw) - 2:
                    raise ValueError
                self.sections[name] = bytes(raw[off:off + ln])
                off += ln
        except (ValueError, IndexError, UnicodeError):
            self.sections = {}
            return False
        return True

    def get(self, name):
        return self.sections.get(name)

    def put(self, name, data):
        if data is None:
            self.sections.pop(name, None)
        else:
            self.sections[name] = bytes(data)

    def drop(self, name):
        self.sections.pop(name, None)

    def encode(self):
        # one allocation of the blob's size (the checksum is computed over the parts first):
        # a commit inside a DTLS handshake runs on a fragmented heap
        parts = [_MAGIC, bytes((_VER, len(self.sections)))]
        for name in sorted(self.sections):
            d = self.sections[name]
            nb = name.encode()
            parts.append(bytes((len(nb),)) + nb + struct.pack(">H", len(d)))
            parts.append(d)
        c = 0
        for p in parts:
            c = _sum16(p, c)
        parts.append(struct.pack(">H", c))
        return b"".join(parts)

    def commit(self):
        """Write every section to RTC memory now (cheap: RAM). Raises ValueError if > limit."""
        blob = self.encode()
        self.board.rtc_write(blob)
        return len(blob)

    def size(self):
        return len(self.encode())

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
    """

    def __init__(self, store, name, rtc_block=16, flash_block=256, limit=(1 << 48) - 1):
        self.store = store
        self.name = name
        self.rtc_block = rtc_block
        self.flash_block = flash_block
        self.limit = limit
        self.next = 0
        self.rtc_bound = 0
        self.flash_bound = 0

    def _fkey(self):
        return "seq_" + self.name

    def start(self, value):
        """A fresh key: the counter restarts at `value` (e.g. 0 or 1 after a handshake)."""
        self.next = value
        self.rtc_bound = value
        self.flash_bound = value
        self._persist_flash(value)
        self._persist_rtc()

    def restore(self):
        """Resume after a reset. Returns False if nothing was persisted for this counter."""
        r = self.store.get("q" + self.name)
        f = self.store.flash_get(self._fkey())
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

    def _persist_rtc(self):
        self.store.put("q" + self.name, struct.pack(">Q", self.rtc_bound))
        self.store.commit()

    def _persist_flash(self, bound):
        self.store.flash_put(self._fkey(), struct.pack(">Q", bound))
        self.flash_bound = bound

    def take(self):
        """Return the next value; persists new bounds first whenever it would reach one."""
        v = self.next
        if v >= self.limit:
            raise OverflowError("sequence space exhausted: rekey")
        if v >= self.rtc_bound:
            nb = v + self.rtc_block
            if nb > self.flash_bound:
                self._persist_flash(nb + self.flash_block)
            self.rtc_bound = nb
            self._persist_rtc()
        self.next = v + 1
        return v

    def peek(self):
        return self.next

    def settle(self):
        """End of wake, nothing more will be sent: lower the RTC bound to the exact next value so
        a normal sleep skips no numbers. The flash bound stays ahead (power cuts)."""
        self.rtc_bound = self.next
        self.store.put("q" + self.name, struct.pack(">Q", self.rtc_bound))
