"""Observe/Notify (RFC 7641, LwM2M 1.1 Core 6.4.3 and 7.3) for a client that sleeps between wakes,
and the notification attributes (Write-Attributes: pmin, pmax, gt, lt, st).

Observations live in the store's RTC section 'obs' (they end with the registration: a Register
or a power cut drops them, as the server does), so a notification that fell due while the
device slept goes out at its next wake, once. Layout:
    seq(4) | n x [tlen(1) token | k(1) k x id(2) | cf(2) | t_last(4) | due(4) | v(f32) | h(2)]
`due` is the next time this observation needs the radio (pmax, or pmin after a change that came
too early); the earliest of them is also kept in section 'obd' (uint32), so the wake cycle
learns its deadline without this module or a sensor (next_due).
The attributes persist in flash (key 'att', JSON {"3303/0/5700": {"pmin": 60, ...}}): the
server writes them rarely and expects them to stay.
Notification rules, evaluated at each wake with the radio up: due when pmax > 0 and pmax has
elapsed since the last notification, or when the value changed (numeric resource with gt, lt
or st: crossed gt or lt, or moved by st or more; otherwise any change) and pmin has elapsed.
What it does not do: notify between wakes (the device is asleep) or cancel on the RST of a NON
notification (it arrives while the exchange is not watching; a CON's RST cancels)."""
import json
import struct

from micropython import const

from coap import codec as C
from coap.exchange import Reset
from lwm2m.register import _h16

_MAX = const(8)          # observations kept (RTC memory: about 30 B each)
_BACKOFF = const(300)    # a CON notification that got no ACK is tried again after this
_NONE = const(0xFFFF)
_EARLY = const(2)         # a pmax deadline this close counts as reached (clock granularity)


def _f32(v):
    return struct.unpack(">f", struct.pack(">f", v))[0]


def load(store):
    # ([token, path, cf, t_last, due, v, h] ..., seq) from the store.
    s = store.get("obs")
    if not s or len(s) < 4:
        return [], 0
    seq = struct.unpack(">I", s[:4])[0]
    out = []
    off = 4
    try:
        while off < len(s):
            n = s[off]
            tok = bytes(s[off + 1:off + 1 + n])
            off += 1 + n
            k = s[off]
            if n > 8:
                raise ValueError
            p = struct.unpack(">" + "H" * k, s[off + 1:off + 1 + 2 * k])
            off += 1 + 2 * k
            e = [tok, p] + list(struct.unpack(">HIIfH", s[off:off + 16]))
            off += 16
            out.append(e)
    except (ValueError, IndexError):
        # not what save() wrote: dropped and logged, the server observes again (issue #11)
        from log import log
        log("state: obs does not validate: dropped", "E")
        store.drop("obs")
        store.drop("obd")
        return [], 0
    return out, seq


def save(store, es, seq):
    # also 'obd': the earliest deadline (uint32), for the wake cycle without this module
    d = [e[4] for e in es if e[4]]
    store.put("obd", int(min(d)).to_bytes(4, "big") if d else None)
    if not es:
        store.drop("obs")
        return
    b = bytearray(struct.pack(">I", seq & 0xFFFFFFFF))
    for tok, p, cf, t, due, v, h in es:
        b.append(len(tok))
        b.extend(tok)
        b.append(len(p))
        b.extend(struct.pack(">" + "H" * len(p), *p))
        b.extend(struct.pack(">HIIfH", cf, int(t), int(due), v, h))
    store.put("obs", b)


def next_due(store):
    # The earliest time an observation needs the radio, or None (section 'obd').
    d = store.get("obd")
    return int.from_bytes(d, "big") if d else None


def drop(store, ids):
    # Cancel the observations of ids and everything under it (a deleted instance).
    es, seq = load(store)
    n = len(ids)
    save(store, [e for e in es if list(e[1][:n]) != list(ids)], seq)


# -- attributes --------------------------------------------------------------------------------
def attrs(store):
    # The attributes in flash; a blob that does not parse or holds anything but finite numbers
    # (older firmware persisted gt=inf as `inf`) is dropped and logged (issue #11).
    b = store.flash_get("att")
    if not b:
        return {}
    try:
        a = json.loads(b)
        for d in a.values():
            for v in d.values():
                if not (isinstance(v, (int, float)) and v == v and v - v == 0):
                    raise ValueError
        return a
    except (ValueError, TypeError, AttributeError):
        from log import log
        log("state: attributes in flash do not validate: dropped", "E")
        store.flash_put("att", b"")
        return {}


def _key(ids):
    return "/".join([str(x) for x in ids])


def set_attrs(store, ids, new):
    # Merge `new` (name -> value, None removes) into the attributes of ids; returns the set.
    # Raises ValueError (nothing stored) if the result breaks lt < gt, lt + 2 st < gt.
    a = attrs(store)
    cur = dict(a.get(_key(ids), {}))
    for k, v in new.items():
        if v is None:
            cur.pop(k, None)
        else:
            cur[k] = v
    gt, lt, st = cur.get("gt"), cur.get("lt"), cur.get("st")
    if gt is not None and lt is not None and not lt + 2 * (st or 0) < gt:
        raise ValueError("lt + 2 st must be below gt")
    if cur:
        a[_key(ids)] = cur
    else:
        a.pop(_key(ids), None)
    store.flash_put("att", json.dumps(a).encode())
    return cur


def effective(att, ids, reg):
    # Attributes that rule an observation of ids: pmin/pmax from the most specific level that
    # has them, else the server's defaults (/1/0/2, /1/0/3); gt/lt/st of the resource itself.
    srv = reg.get(1)
    d = srv.inst.get(0, {}) if srv else {}
    out = {"pmin": d.get(2, 0) or 0, "pmax": d.get(3, 0) or 0}
    for i in range(1, len(ids) + 1):
        out.update(att.get(_key(ids[:i]), {}))
    if len(ids) < 3:
        for k in ("gt", "lt", "st"):
            out.pop(k, None)
    return out


# -- observation state -------------------------------------------------------------------------
def _state(reg, ids, cf):
    # (payload, numeric value or None) of ids now, or None if ids no longer exist.
    if ids and ids[0] == 0xFFFF:            # an Observe-Composite (lwm2m/composite.py)
        from lwm2m import composite
        return composite.state(reg, ids, cf)
    from lwm2m import fmt
    o = reg.get(ids[0])
    if o is None or (len(ids) > 1 and ids[1] not in o.inst):
        return None
    if len(ids) > 2 and (o.res(ids[2]) is None or ids[2] not in o.inst[ids[1]]):
        return None
    r = fmt.encode(o, ids, None if cf == _NONE else cf)
    if r is None:
        return None
    if r[1] is None:
        return b"", None                    # one resource without a value now: nothing to say
    v = None
    if fmt.single(o, ids) and o.res(ids[2])[0] in ("i", "f"):
        x = o.value(ids[1], ids[2])
        v = _f32(float(x[ids[3]] if len(ids) == 4 else x))
    return r[1], v


def _due(a, t, changed_early):
    pmin, pmax = a["pmin"], a["pmax"]
    d = t + pmax if pmax and pmax >= pmin else 0
    if changed_early:
        d = min(d, t + pmin) if d else t + pmin
    return d


def on_request(store, m, ids, r, reg, now):
    # A Read carrying Observe (0 register, 1 cancel) was answered with `r` (2.05).
    es, seq = load(store)
    tok = bytes(m.token)
    ids = tuple(ids)
    es = [e for e in es if e[0] != tok and e[1] != ids]
    if m.get_uint(C.OBSERVE) == 0:
        seq += 1
        r.add(C.OBSERVE, seq & 0xFFFFFF)
        cf = r.get_uint(C.CONTENT_FORMAT, _NONE)
        v = _state(reg, ids, cf)
        a = effective(attrs(store), ids, reg)
        es.append([tok, ids, cf, int(now), _due(a, now, False),
                   v[1] if v and v[1] is not None else 0.0, _h16(r.payload)])
        if len(es) > _MAX:
            es.pop(0)
    save(store, es, seq)


def _changed(a, v, last, h, lh):
    if v is None:
        return h != lh
    gt, lt, st = a.get("gt"), a.get("lt"), a.get("st")
    if gt is None and lt is None and st is None:
        return v != last
    return ((gt is not None and (v > gt) != (last > gt)) or
            (lt is not None and (v < lt) != (last < lt)) or
            (st is not None and abs(v - last) >= st))


due_count = 0     # notifications that were due at the last notify() (the WAKE line's notify_due)


def notify(ex, reg, store, con=True, now=None):
    # Send every notification that is due. Returns the number sent (acknowledged if CON).
    global due_count
    due_count = 0
    es, seq = load(store)
    if not es:
        return 0
    now = int(ex.board.now() if now is None else now)
    att = attrs(store)
    keep = []
    sent = 0
    for e in es:
        tok, ids, cf, t, due, last, lh = e
        if now <= t:
            keep.append(e)                  # registered or notified this very second: its
            continue                        # due (on_request / below) is already in the future
        st = _state(reg, ids, cf)
        if st is None:
            continue                        # the object or instance is gone
        payload, v = st
        a = effective(att, ids, reg)
        if not payload:                     # no value at the moment: wait for one (at pmax
            e[4] = _due(a, now, False)      # again, not at every wake)
            keep.append(e)
            continue
        h = _h16(payload)
        ch = _changed(a, v, last, h, lh)
        # pmax reached (a wake planned for the deadline may start a second early: _EARLY, but
        # never before pmin), or a change with pmin elapsed
        if (a["pmax"] and a["pmax"] >= a["pmin"] and now + _EARLY >= t + a["pmax"] and now >= t + a["pmin"]) \
                or (ch and now >= t + a["pmin"]):
            seq += 1
            due_count += 1
            m = C.Message(0, C.CONTENT, 0, tok, payload)
            m.add(C.OBSERVE, seq & 0xFFFFFF)
            if cf != _NONE:
                m.add(C.CONTENT_FORMAT, cf)
            try:
                ok = ex.send(m, con)        # (requests arriving meanwhile are served)
            except Reset:
                continue                    # the server cancelled the observation
            if ok:
                sent += 1
                e[3], e[5], e[6] = now, (v if v is not None else last), h
                e[4] = _due(a, now, False)
            else:
                e[4] = now + _BACKOFF       # not acknowledged: still due, try at a later wake
        else:
            e[4] = _due(a, t, ch)
        keep.append(e)
    save(store, keep, seq)
    return sent

