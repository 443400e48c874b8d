"""LwM2M 1.1 Send (POST /dp, SenML CBOR 112) of batched, timestamped samples, and the radio-less
sample wake that collects them.

A sample is the time (uint32) and one float32 per configured path (report.paths, default
/3303/0/5700). Samples wait in the store until the server answers 2.04 to the Send that
carries them; only then do they leave it (at least once, in order; a sample is sent twice only
if the 2.04 is lost on every retransmission). Where they wait:
  RTC section 'smp': flags(1) | last value f32(4) | samples not yet spilled
  flash key 'smp':   older samples (spilled), sent first
With report.durable (default true) each sample goes to flash at once, so a power cut loses
nothing; otherwise samples stay in RTC memory until they pass 512 bytes (then spill). A sample
is taken by lwm2m/sample.py (before any radio work; kept apart for the heap).
A batch goes out when report.batch samples are waiting, or at once when the first path's value
crosses report.gt or report.lt (from one side to the other). Payload, one path:
  [{-2 bn: "/3303/0/5700", -3 bt: t0, 2 v: v0}, {6 t: t1 - t0, 2 v: v1}, ...]
(28 B for one sample, about 11 B per further sample); several paths: a name (0) per record.
What it does not do: keep more than _FLASH_MAX bytes of samples (the oldest go, logged)."""
import struct

from micropython import const

from coap import codec as C
from errors import LwError
from lwm2m.sample import take

_MAX_SEND = const(40)     # samples per Send (one datagram well below 1152 B)
_URGENT = const(1)
_HAVE_LAST = const(2)


def paths(cfg):
    return (cfg.get("report") or {}).get("paths") or ["/3303/0/5700"]


def _hdr(store):
    s = store.get("smp")
    if not s or len(s) < 5:
        return 0, 0.0, b""
    return s[0], struct.unpack(">f", s[1:5])[0], bytes(s[5:])


def count(store, cfg):
    sz = 4 + 4 * len(paths(cfg))
    return (len(store.flash_get("smp") or b"") + len(_hdr(store)[2])) // sz


def due(store, cfg):
    # A batch is full or a threshold was crossed.
    n = count(store, cfg)
    return n > 0 and (n >= (cfg.get("report") or {}).get("batch", 1) or _hdr(store)[0] & _URGENT)


def _num(out, v):
    if v == int(v) and -(1 << 31) < v < (1 << 31):
        v = int(v)
        _head(out, 0 if v >= 0 else 1, v if v >= 0 else -1 - v)
    else:
        out.append(0xFA)
        out.extend(struct.pack(">f", v))


def _head(out, major, n):
    mt = major << 5
    if n < 24:
        out.append(mt | n)
    elif n < 0x100:
        out.extend(bytes((mt | 24, n)))
    elif n < 0x10000:
        out.append(mt | 25)
        out.extend(struct.pack(">H", n))
    else:
        out.append(mt | 26)
        out.extend(struct.pack(">I", n))


def _str(out, s):
    b = s.encode()
    _head(out, 3, len(b))
    out.extend(b)


def encode(blob, ps):
    # SenML CBOR of the samples in blob (t uint32, k x float32 each).
    k = len(ps)
    sz = 4 + 4 * k
    n = len(blob) // sz
    out = bytearray()
    _head(out, 4, n * k)
    t0 = struct.unpack(">I", blob[0:4])[0] if n else 0
    for i in range(n):
        off = i * sz
        t = struct.unpack(">I", blob[off:off + 4])[0]
        vals = struct.unpack(">%df" % k, blob[off + 4:off + sz])
        for j in range(k):
            first = i == 0 and j == 0
            _head(out, 5, 1 + (1 if first else 0) + (1 if first or k > 1 else 0) + (1 if t != t0 else 0))
            if k > 1:
                out.append(0x00)                 # 0 n: the path
                _str(out, ps[j])
            elif first:
                out.append(0x21)                 # -2 bn: the path, for every record
                _str(out, ps[0])
            if first:
                out.append(0x22)                 # -3 bt: the first sample's time
                _head(out, 0, t0)
            if t != t0:
                out.append(0x06)                 # 6 t, relative to bt
                _head(out, 0, t - t0)
            out.append(0x02)                     # 2 v
            _num(out, vals[j])
    return bytes(out)


def flush(ex, store, cfg):
    # Send every waiting sample (batches of _MAX_SEND); each leaves the store only after the
    # server's 2.04. Returns the number sent; raises LwError (samples kept) on failure.
    ps = paths(cfg)
    sz = 4 + 4 * len(ps)
    sent = 0
    while True:
        flags, last, rs = _hdr(store)
        fl = store.flash_get("smp") or b""
        blob = fl + rs
        n = min(len(blob) // sz, _MAX_SEND)
        if not n:
            break
        m = C.Message(C.CON, C.POST)
        m.add(C.URI_PATH, "dp")
        m.add(C.CONTENT_FORMAT, 112)
        m.payload = encode(blob[:n * sz], ps)
        r = ex.request(m)
        if r.code != C.CHANGED:
            raise LwError("Send answered %s" % C.code_str(r.code))
        c = n * sz
        if fl:
            store.flash_put("smp", fl[c:])
            c = max(0, c - len(fl))
        rs = rs[c:]
        if len(blob) <= n * sz:
            flags &= ~_URGENT
        store.put("smp", bytes((flags,)) + struct.pack(">f", last) + rs)
        store.commit()                           # a reset now must not send these again
        sent += n
    return sent


def sample_wake(store, cfg, registry, reg, dev, now):
    # Take a sample; return the WAKE fields of a radio-less wake, or None when this wake needs
    # the radio (registration renewal, a notification due, a batch full, a threshold crossed, or
    # schedule.sleep_s since the last exchange).
    dev.sampled = True
    cross = take(store, cfg, registry, now)
    sch = cfg["schedule"]
    dl = [reg.renew_due(), reg.last_ok + sch["sleep_s"]]
    for d in store.owned("d"):    # the deadlines other modules persisted (notifications)
        dl.append(int.from_bytes(store.get(d), "big"))
    if cross or due(store, cfg) or min(dl) <= now:
        return None
    return {"result": "ok", "path": "sample", "taken": 1, "samples": count(store, cfg),
            "next_s": int(max(1, min(sch["sample_s"], min(dl) - now)))}
