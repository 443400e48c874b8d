"""The byte meter: every datagram that crosses the NAT simulator, logged with virtual time.

What it does:
- records one entry per datagram seen by the NAT (direction, inside and outside address, UDP
  payload size, kind, fate) plus the NAT's mapping events (created, expired, rebound) and a
  per-segment count of mapping refreshes;
- classifies a datagram from its payload bytes only (`classify`): DTLS records by content type
  (RFC 6347 §4.1, RFC 9146 tls12_cid = 25), OSCORE (a CoAP message that carries option 9,
  RFC 8613 §6.1), plain CoAP (RFC 7252 §3) or unknown;
- splits the log into wake segments (`mark(label)`) and totals each one (`segment_totals`).

What it does not do: decrypt anything, check MACs, or judge whether a message is valid beyond
what is needed to name it. It never touches sockets; the NAT simulator (tools/nat.py) calls
`datagram()`, `nat_event()` and `nat_refresh()`.

Accounting is from the device's side (its radio is what the project budgets):
- bytes_up / dgrams_up: every datagram the device sent, whatever happened to it afterwards
  (a datagram lost upstream still cost the device its transmission); the NAT's extra copies
  (fate 'duplicated') are not counted, the device did not send them;
- bytes_down / dgrams_down: every datagram delivered to the device (fates 'forwarded' and
  'duplicated'); a datagram dropped by the NAT (expired, filtered, loss) never reached it.
- round_trips: walk the segment's device-side datagrams in log order (sent up, delivered
  down); every change from 'up' to 'down' is one round trip. So up,down = 1; up,up,down = 1
  (a retransmission); up,down,up,down = 2; up,down,down = 1; a lone up (no answer) = 0.
"""
import json

UP = "up"
DOWN = "down"

FATE_FORWARDED = "forwarded"
FATE_DUPLICATED = "duplicated"
FATE_EXPIRED = "dropped: expired"
FATE_FILTERED = "dropped: filtered"
FATE_LOSS = "dropped: loss"
FATE_ERROR = "dropped: send error"
DELIVERED_FATES = (FATE_FORWARDED, FATE_DUPLICATED)

EV_CREATED = "created"
EV_EXPIRED = "expired"
EV_REBOUND = "rebound"

# --- DTLS (RFC 6347 §4.1; RFC 9146 §4) ------------------------------------------------------
DTLS_CCS = 20
DTLS_ALERT = 21
DTLS_HANDSHAKE = 22
DTLS_APP = 23
DTLS_CID = 25  # tls12_cid
DTLS_SHORT = {DTLS_CCS: "ccs", DTLS_ALERT: "alert", DTLS_HANDSHAKE: "hs", DTLS_APP: "app",
              DTLS_CID: "cid"}
DTLS_VERSIONS = (b"\xfe\xfd", b"\xfe\xff")  # DTLS 1.2, DTLS 1.0 (HelloVerifyRequest)
DTLS_HDR = 13        # type(1) version(2) epoch(2) seq(6) length(2)
DTLS_LEN_OFF = 11    # offset of the length field without a CID
DTLS_MAX_CID = 255   # the CID is carried with a 1-byte length in the extension
HS_HDR = 12          # msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3)
HS_NAMES = {0: "HelloRequest", 1: "CH", 2: "SH", 3: "HVR", 11: "Cert", 12: "SKE", 13: "CR",
            14: "SHD", 15: "CV", 16: "CKE", 20: "Fin"}

# --- CoAP (RFC 7252 §3) ---------------------------------------------------------------------
COAP_VERSION = 1
COAP_HDR = 4
COAP_MAX_TKL = 8
COAP_PAYLOAD_MARKER = 0xFF
COAP_EXT8 = 13       # nibble 13: one extension byte, value + 13
COAP_EXT16 = 14      # nibble 14: two extension bytes, value + 269
COAP_EXT16_BASE = 269
COAP_RESERVED = 15
OPT_OSCORE = 9
COAP_TYPES = ("CON", "NON", "ACK", "RST")
COAP_METHODS = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH", 6: "PATCH", 7: "iPATCH"}


class _Malformed(Exception):
    pass


def classify(data):
    """(kind, detail) of one UDP payload, from its bytes only.

    kind: 'dtls-hs', 'dtls-ccs', 'dtls-alert', 'dtls-app', 'dtls-cid', a '+' join for several
    records in one datagram ('dtls-hs+ccs+hs'), 'oscore', 'coap' or 'unknown'.
    detail: a short human hint ('CH', 'SH+CCS+Fin', 'CON POST', 'ACK 2.04'), may be ''.
    """
    data = bytes(data)
    if not data:
        return "unknown", "empty"
    if data[0] in DTLS_SHORT:
        try:
            return _classify_dtls(data)
        except _Malformed as e:
            return "unknown", "bad dtls: %s" % e
    if data[0] >> 6 == COAP_VERSION:
        try:
            return _classify_coap(data)
        except _Malformed as e:
            return "unknown", "bad coap: %s" % e
    return "unknown", ""


def _classify_dtls(data):
    kinds, details = [], []
    off = 0
    while off < len(data):
        ctype = data[off]
        if ctype not in DTLS_SHORT:
            raise _Malformed("content type %d at %d" % (ctype, off))
        if len(data) - off < DTLS_HDR or data[off + 1:off + 3] not in DTLS_VERSIONS:
            raise _Malformed("record header at %d" % off)
        epoch = int.from_bytes(data[off + 3:off + 5], "big")
        if ctype == DTLS_CID:
            end = _cid_record_end(data, off)
            body = b""
        else:
            n = int.from_bytes(data[off + DTLS_LEN_OFF:off + DTLS_HDR], "big")
            end = off + DTLS_HDR + n
            if end > len(data):
                raise _Malformed("record length %d at %d" % (n, off))
            body = data[off + DTLS_HDR:end]
        kinds.append(DTLS_SHORT[ctype])
        details.append(_dtls_detail(ctype, epoch, body))
        off = end
    return "dtls-" + "+".join(kinds), "+".join(details)


def _cid_record_end(data, off):
    """End of a tls12_cid record. Its CID length is not on the wire (it was negotiated), so
    take the shortest CID length whose length field ends the record exactly at the end of the
    datagram or at the start of another plausible record; else the record takes the rest."""
    for cid_len in range(0, DTLS_MAX_CID + 1):
        lo = off + DTLS_LEN_OFF + cid_len
        if lo + 2 > len(data):
            break
        end = lo + 2 + int.from_bytes(data[lo:lo + 2], "big")
        if end == len(data):
            return end
        if (end + DTLS_HDR <= len(data) and data[end] in DTLS_SHORT
                and data[end + 1:end + 3] in DTLS_VERSIONS):
            return end
    return len(data)


def _dtls_detail(ctype, epoch, body):
    if ctype == DTLS_CCS:
        return "CCS"
    if ctype == DTLS_APP:
        return "app"
    if ctype == DTLS_CID:
        return "cid"
    if ctype == DTLS_ALERT:
        if epoch == 0 and len(body) == 2:
            return "alert(%d,%d)" % (body[0], body[1])
        return "alert"
    # handshake: encrypted from epoch 1 on, which in practice means Finished
    if epoch != 0:
        return "Fin"
    names, off = [], 0
    while off + HS_HDR <= len(body):
        names.append(HS_NAMES.get(body[off], "hs%d" % body[off]))
        off += HS_HDR + int.from_bytes(body[off + 9:off + 12], "big")
    return "+".join(names) or "hs"


def _coap_ext(nibble, data, off):
    """Value of a delta or length nibble and the offset after its extension bytes."""
    if nibble < COAP_EXT8:
        return nibble, off
    if nibble == COAP_EXT8:
        if off + 1 > len(data):
            raise _Malformed("truncated option")
        return data[off] + COAP_EXT8, off + 1
    if nibble == COAP_EXT16:
        if off + 2 > len(data):
            raise _Malformed("truncated option")
        return int.from_bytes(data[off:off + 2], "big") + COAP_EXT16_BASE, off + 2
    raise _Malformed("reserved nibble 15")


def coap_option_numbers(data):
    """Option numbers of a CoAP message, in order (walks deltas with their extended forms)."""
    if len(data) < COAP_HDR or data[0] >> 6 != COAP_VERSION:
        raise _Malformed("header")
    tkl = data[0] & 0x0F
    if tkl > COAP_MAX_TKL:
        raise _Malformed("TKL %d" % tkl)
    off = COAP_HDR + tkl
    if off > len(data):
        raise _Malformed("truncated token")
    numbers, num = [], 0
    while off < len(data):
        b = data[off]
        if b == COAP_PAYLOAD_MARKER:
            if off + 1 == len(data):
                raise _Malformed("payload marker without payload")
            break
        delta, off = _coap_ext(b >> 4, data, off + 1)
        length, off = _coap_ext(b & 0x0F, data, off)
        num += delta
        if off + length > len(data):
            raise _Malformed("option %d value" % num)
        numbers.append(num)
        off += length
    return numbers


def _classify_coap(data):
    numbers = coap_option_numbers(data)
    mtype = COAP_TYPES[(data[0] >> 4) & 0x03]
    code = data[1]
    cls, dd = code >> 5, code & 0x1F
    if code == 0:
        what = "empty"
    elif cls == 0:
        what = COAP_METHODS.get(dd, "0.%02d" % dd)
    else:
        what = "%d.%02d" % (cls, dd)
    kind = "oscore" if OPT_OSCORE in numbers else "coap"
    return kind, "%s %s" % (mtype, what)


def _addr(a):
    if a is None:
        return None
    if isinstance(a, str):
        return a
    return "%s:%d" % (a[0], a[1])


class Meter:
    """Datagram and NAT-event log of one scenario, split into wake segments.

    `records`: list of dicts, one per datagram (and one more per duplicated copy):
        seq, t (virtual unix time), segment, dir ('up' | 'down'), inside ('ip:port' of the
        device), outside ('ip:port' of the NAT's external socket, None if no mapping),
        remote ('ip:port' of the server side), size (UDP payload bytes), kind, detail, fate,
        and 'reordered': True when the NAT held it back behind a later datagram.
    `events`: list of dicts: seq, t, segment, event ('created' | 'expired' | 'rebound'), inside,
        outside, plus event fields (reason, refreshes, port_alloc ...). 'expired' and
        'rebound' carry the virtual time the mapping died, which can be earlier than the
        time the NAT noticed it (lazy expiry); an event's segment is the one marked last at
        or before its time t. A datagram's segment is the one current when it was logged.
    `refreshes`: {segment: number of mapping-timer refreshes}.
    """

    def __init__(self, clock=None):
        self.clock = clock
        self.records = []
        self.events = []
        self.segments = []      # [{'label', 't', 'index'}]
        self.refreshes = {}
        self.segment = None
        self._seq = 0

    # --- segments -----------------------------------------------------------------------
    def mark(self, label, t=None):
        """Start a new segment (for instance 'wake 3'); later records belong to it."""
        if t is None:
            t = self._now()
        self.segment = label
        self.segments.append({"label": label, "t": t, "index": len(self.segments)})

    def _segment_at(self, t):
        """The segment a virtual time belongs to: the last one marked at or before t (a
        mapping that died during the sleep after wake 2 belongs to 'wake 2', even if the NAT
        noticed it during wake 3)."""
        if t is None or not self.segments or self.segments[-1]["t"] is None:
            return self.segment
        for seg in reversed(self.segments):
            if seg["t"] is not None and seg["t"] <= t:
                return seg["label"]
        return None

    def _now(self):
        return self.clock.now() if self.clock is not None else None

    def _next_seq(self):
        self._seq += 1
        return self._seq

    # --- logging (called by the NAT) -----------------------------------------------------
    def datagram(self, direction, data, inside, outside, remote, fate, t=None, **extra):
        """Log one datagram; returns the record."""
        kind, detail = classify(data)
        rec = {"seq": self._next_seq(), "t": self._now() if t is None else t,
               "segment": self.segment, "dir": direction, "inside": _addr(inside),
               "outside": _addr(outside), "remote": _addr(remote), "size": len(data),
               "kind": kind, "detail": detail, "fate": fate}
        rec.update(extra)
        self.records.append(rec)
        return rec

    def nat_event(self, event, inside, outside, t=None, **fields):
        """Log a mapping event ('created', 'expired', 'rebound') at virtual time t."""
        t = self._now() if t is None else t
        ev = {"seq": self._next_seq(), "t": t, "segment": self._segment_at(t), "event": event, "inside": _addr(inside),
              "outside": _addr(outside)}
        ev.update(fields)
        self.events.append(ev)
        return ev

    def nat_refresh(self):
        """Count one mapping-timer refresh in the current segment (no record per packet)."""
        self.refreshes[self.segment] = self.refreshes.get(self.segment, 0) + 1

    # --- totals ---------------------------------------------------------------------------
    def segment_records(self, label):
        return [r for r in self.records if r["segment"] == label]

    def segment_totals(self, label):
        """bytes_up, bytes_down, dgrams_up, dgrams_down, round_trips of one segment (see the
        module docstring for what counts), plus dropped_up / dropped_down datagram counts."""
        return totals(self.segment_records(label))

    def totals(self):
        return totals(self.records)

    def to_json(self):
        """A JSON-serialisable dict of everything logged (use json.dumps on it)."""
        return {"segments": list(self.segments), "records": list(self.records),
                "events": list(self.events),
                "refreshes": [{"segment": k, "count": v} for k, v in self.refreshes.items()],
                "totals": self.totals()}

    def dumps(self):
        return json.dumps(self.to_json(), indent=1)


def device_side(records):
    """The datagrams as the device saw them, in log order: ('up'|'down', record)."""
    out = []
    for r in records:
        if r["dir"] == UP and r["fate"] != FATE_DUPLICATED:
            out.append((UP, r))
        elif r["dir"] == DOWN and r["fate"] in DELIVERED_FATES:
            out.append((DOWN, r))
    return out


def count_round_trips(directions):
    """Number of 'up' -> 'down' transitions in a sequence of directions."""
    n, prev = 0, None
    for d in directions:
        if d == DOWN and prev == UP:
            n += 1
        prev = d
    return n


def totals(records):
    seen = device_side(records)
    t = {"bytes_up": 0, "bytes_down": 0, "dgrams_up": 0, "dgrams_down": 0,
         "round_trips": count_round_trips([d for d, _ in seen]),
         "dropped_up": 0, "dropped_down": 0}
    for d, r in seen:
        t["bytes_" + d] += r["size"]
        t["dgrams_" + d] += 1
    for r in records:
        if r["fate"].startswith("dropped"):
            t["dropped_" + r["dir"]] += 1
    return t
