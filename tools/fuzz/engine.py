"""The fuzz engine that runs inside the micropython binary (and CPython, for debugging): a
deterministic PRNG, byte mutations, and the loop that feeds a target many inputs in one process.

A target (tools/fuzz/targets.py) is registered with `target(name, ok)`: `run(data)` feeds one
input to the firmware code; an exception that is an instance of `ok` is the parser's documented
rejection, anything else (IndexError, TypeError, KeyError, OverflowError, RecursionError,
MemoryError, an assertion about what must hold after the input) is a finding. `gen(rnd)` makes a
structure-aware input (valid-looking structure with hostile field values), `seeds()` gives
valid inputs that mutations start from.
Usage: micropython tools/fuzz/mp_main.py TARGET SEED COUNT     (random inputs)
       micropython tools/fuzz/mp_main.py TARGET replay FILE    (one input per line, hex)
Output: FINDING <target> <hex> <type>: <message> (first few of each kind), then
        DONE <target> <inputs> <rejected> <findings>
"""
import sys

TARGETS = {}
_MAXLEN = 1400


def target(name, ok=()):
    """Register a target: decorate a class with staticmethods run(data), gen(rnd), seeds()."""
    def deco(cls):
        cls.name = name
        cls.ok = ok
        TARGETS[name] = cls
        return cls
    return deco


class Rnd:
    """xorshift32: the same seed gives the same inputs on CPython and micropython."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def u32(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.u32() % n if n > 0 else 0

    def chance(self, k):
        return self.u32() % k == 0

    def pick(self, seq):
        return seq[self.u32() % len(seq)]

    def bytes(self, n):
        return bytes([self.u32() & 0xFF for _ in range(n)])


_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x01", b"\xfe", b"\xf9\x7c\x00",
                b"\xf9\x7e\x00", b"\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00", b"\x1b" + b"\xff" * 8,
                b"\x3b" + b"\xff" * 8, b"\xff\xff", b"\x00\x00", b"\xc3\x28", b"\x9f", b"\xbf",
                b"1e999", b"-inf", b"nan", b"\xb6", b"\xed\xa0\x80")


def mutate(rnd, d, pool):
    """1 to 8 byte-level mutations of d: flips, interesting values, inserts, deletes, copies
    inside the input, splices with another input of the pool. (bytes slicing only: a
    MicroPython bytearray has no item deletion.)"""
    b = bytes(d)
    for _ in range(1 + rnd.below(8)):
        k = rnd.below(9)
        n = len(b)
        i = rnd.below(n + 1)
        if k == 0 and n:
            i = rnd.below(n)
            b = b[:i] + bytes((b[i] ^ (1 << rnd.below(8)),)) + b[i + 1:]
        elif k == 1 and n:
            i = rnd.below(n)
            b = b[:i] + bytes((rnd.u32() & 0xFF,)) + b[i + 1:]
        elif k == 2:
            b = b[:i] + rnd.pick(_INTERESTING) + b[i:]
        elif k == 3 and n:
            b = b[:i] + b[i + 1 + rnd.below(8):]
        elif k == 4:
            b = b[:i] + rnd.bytes(1 + rnd.below(8)) + b[i:]
        elif k == 5 and n > 1:
            j = rnd.below(n)
            b = b[:i] + b[j:j + 1 + rnd.below(16)] + b[i:]
        elif k == 6 and pool:
            o = rnd.pick(pool)
            b = b[:i] + o[rnd.below(len(o) + 1):]
        elif k == 7 and n:
            v = rnd.pick(_INTERESTING)
            b = b[:i] + v + b[i + len(v):]
        elif n:
            i = rnd.below(n)
            b = b[:i] + bytes(((b[i] + rnd.pick((1, 255, 16, 240))) & 0xFF,)) + b[i + 1:]
    return b[:_MAXLEN]


def one(t, d):
    """Run target t on input d: None (accepted), 'ok' (documented rejection) or the exception."""
    try:
        t.run(d)
        return None
    except t.ok:
        return "ok"
    except Exception as e:     # noqa: anything else is a finding
        return e


def _sig(e):
    m = str(e)
    return type(e).__name__ + ": " + m[:60]


def fuzz(name, seed, count, out=print):
    t = TARGETS[name]
    rnd = Rnd(seed)
    pool = [bytes(s) for s in t.seeds()]
    base = len(pool)
    rej = 0
    found = 0
    seen = {}
    for i in range(count):
        k = rnd.below(10)
        if k < 4 or not pool:
            d = t.gen(rnd)
        else:
            d = mutate(rnd, rnd.pick(pool), pool)
        r = one(t, d)
        if r == "ok":
            rej += 1
        elif r is not None:
            found += 1
            s = _sig(r)
            seen[s] = seen.get(s, 0) + 1
            if seen[s] <= 3:
                out("FINDING %s %s %s" % (name, bytes(d).hex(), s.replace("\n", " ")))
        elif len(pool) < base + 64 and rnd.chance(8):
            pool.append(bytes(d))      # accepted inputs make good parents
        if len(pool) > base + 64:
            pool.pop(base)
    out("DONE %s %d %d %d" % (name, count, rej, found))
    return found


def replay(name, path, out=print):
    t = TARGETS[name]
    n = rej = found = 0
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            n += 1
            d = bytes.fromhex(line)
            r = one(t, d)
            if r == "ok":
                rej += 1
            elif r is not None:
                found += 1
                out("FINDING %s %s %s" % (name, line, _sig(r).replace("\n", " ")))
    out("DONE %s %d %d %d" % (name, n, rej, found))
    return found


def main(argv):
    import targets     # noqa: F401 (registers the targets)
    name = argv[1]
    if argv[2] == "replay":
        replay(name, argv[3])
    else:
        fuzz(name, int(argv[2]), int(argv[3]))

