"""Taking a sample: the time and the value of each report.paths resource (default
/3303/0/5700), stored where the Send (lwm2m/send.py: storage layout, batching, SenML) finds it.
Apart from send.py so that a wake takes and persists its sample before any radio work with as
little code and as few new interned names as possible: a name pool that doubles before the
DTLS handshake (one 7.3 KiB block on the unix port past ~620 names) raises the wake's peak."""
import struct

from micropython import const

_CAP = const(512)         # RTC bytes of samples before they spill to flash
_FLASH_MAX = const(1800)  # flash bytes of samples kept at most (ESP32 NVS blob buffer 2048)
_URGENT = const(1)
_HAVE_LAST = const(2)


def take(store, cfg, registry, now):
    # Read and store one sample; returns True if it crossed a threshold (send at once).
    rep = cfg.get("report") or {}
    vals = []
    for p in rep.get("paths") or ["/3303/0/5700"]:
        ids = [int(x) for x in p.strip("/").split("/")]
        vals.append(float(registry.get(ids[0]).value(ids[1], ids[2])))
    s = store.get("smp")
    flags, last, rs = (s[0], struct.unpack(">f", s[1:5])[0], bytes(s[5:])) if s and len(s) >= 5 else (0, 0.0, b"")
    v = vals[0]
    gt, lt = rep.get("gt"), rep.get("lt")
    if flags & _HAVE_LAST:
        cross = (gt is not None and (v > gt) != (last > gt)) or (lt is not None and (v < lt) != (last < lt))
    else:
        cross = (gt is not None and v > gt) or (lt is not None and v < lt)
    if cross:
        flags |= _URGENT
    rs += struct.pack(">I", int(now)) + struct.pack(">%df" % len(vals), *vals)
    if rep.get("durable", True) or len(rs) > _CAP:
        f = (store.flash_get("smp") or b"") + rs
        if len(f) > _FLASH_MAX:
            sz = 4 + 4 * len(vals)
            cut = (len(f) - _FLASH_MAX + sz - 1) // sz * sz
            from log import log
            log("samples: %d oldest dropped (store full)" % (cut // sz), "W")
            f = f[cut:]
        store.flash_put("smp", f)
        rs = b""
    store.put("smp", bytes((flags | _HAVE_LAST,)) + struct.pack(">f", v) + rs)
    return cross
