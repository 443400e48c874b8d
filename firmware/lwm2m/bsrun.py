"""LwM2M 1.1 client-initiated bootstrap (Core 6.1 and 6.2.2, Transport 6.4): loaded only in a
bootstrap wake, dropped after it (lwm2m/bootstrap.py decides when).

Flow: POST /bs?ep=NAME&pct=11542 (Bootstrap-Request, 2.04 expected), then the bootstrap server's
requests, answered while the device listens:
  Bootstrap-Write   PUT  /0[/i[/r]], /1..., /21...  TLV        -> 2.04, 4.00 bad TLV, 4.15 format
  Bootstrap-Read    GET  /1[/i]  (Server object only, TLV)     -> 2.05, 4.01 other objects, 4.04
  Bootstrap-Discover GET / or /oid with Accept 40              -> 2.05 lwm2m="1.1",</0/0>;ssid=..;uri=".."
  Bootstrap-Delete  DELETE / , /oid , /oid/i                   -> 2.02 (the bootstrap server's
                    own Security instance and the Device object are kept), 4.00 other paths
  Bootstrap-Finish  POST /bs                                   -> 2.04 committed, 4.06 Not
                    Acceptable when the set is inconsistent (nothing changes)
Write aside: every change goes to the staged set in flash ('bss'); Bootstrap-Finish validates it,
derives the committed record (lwm2m/bootstrap.py: server URI, mode, lifetime, credentials, a
SHA-256 over it) and writes it in one flash write ('bootstrap'), which replaces the old one atomically
(a tmp file renamed on the unix port, one NVS blob committed on an ESP32). A power cut before
that leaves the old committed set; the next bootstrap starts from it again.
Credentials (PSK identity and key /0/x/3, /0/x/5; OSCORE master secret, salt, IDs /21/x) are
kept in flash only and never logged.
"""
import json

from coap import codec as C
from lwm2m import tlv
from log import log

# types of the resources a bootstrap server writes (LwM2M 1.1 objects 0, 1 and 21)
_TYPES = {0: {0: "s", 1: "b", 2: "i", 3: "o", 4: "o", 5: "o", 10: "i", 11: "i", 12: "i", 17: "l"},
          1: {0: "i", 1: "i", 2: "i", 3: "i", 5: "i", 6: "b", 7: "s", 16: "b", 17: "i", 18: "i"},
          21: {0: "o", 1: "o", 2: "o", 3: "i", 4: "i", 5: "o", 6: "o"}}


def _path(m):
    p = []
    for s in m.get_all(C.URI_PATH):
        p.append(int(s))
    return p


class Bootstrap:
    def __init__(self, store, board, cfg, endpoint):
        self.store = store
        self.board = board
        self.cfg = cfg
        self.ep = endpoint
        self.finished = False
        self.committed = None
        self.ops = []            # what the server did, for the WAKE line
        # the staged set starts from what is committed now (the server may only add)
        s = store.flash_get("bss")
        self.staged = {}
        try:
            if s:
                self.staged = json.loads(s)
        except ValueError:
            self.staged = {}
        # our own bootstrap server account: never deleted (Core 6.2.2: Bootstrap-Delete keeps it)
        bs = cfg.get("bootstrap") or {}
        self.staged["0/0"] = {"0": bs.get("uri", "").encode().hex(), "1": "01", "2": "03"}

    # -- the request -----------------------------------------------------------------------------
    def request(self, ex):
        m = C.Message(C.CON, C.POST)
        m.add(C.URI_PATH, "bs")
        m.add(C.URI_QUERY, "ep=" + self.ep)
        m.add(C.URI_QUERY, "pct=11542")
        r = ex.request(m)
        if r.code != C.CHANGED:
            from errors import ProtocolError
            raise ProtocolError("Bootstrap-Request answered %s" % C.code_str(r.code))

    def _save(self):
        self.store.flash_put("bss", json.dumps(self.staged).encode())
        import os
        g = getattr(os, "getenv", None)      # harness: the power goes after N staged writes
        n = g and g("LWM2M_DIE_AFTER_BS_WRITES")
        if n:
            self.saves = getattr(self, "saves", 0) + 1
            if self.saves >= int(n):
                import sys
                sys.exit(9)

    # -- the server's requests ---------------------------------------------------------------------
    def handle(self, m):
        try:
            p = _path(m)
        except ValueError:
            p = None
        code = m.code
        if code == C.POST and m.get_all(C.URI_PATH) == [b"bs"]:
            return self._finish()
        if p is None or len(p) > 3:
            return C.Message(C.ACK, C.BAD_REQUEST)
        if code == C.PUT:
            self.ops.append("write")
            return self._write(p, m)
        if code == C.DELETE:
            self.ops.append("delete")
            return self._delete(p)
        if code == C.GET:
            if m.get_uint(C.ACCEPT) == 40:
                self.ops.append("discover")
                return self._discover(p)
            self.ops.append("read")
            return self._read(p)
        return C.Message(C.ACK, C.METHOD_NOT_ALLOWED)

    def _write(self, p, m):
        if not p or p[0] not in _TYPES:
            return C.Message(C.ACK, C.NOT_FOUND if p else C.METHOD_NOT_ALLOWED)
        if m.get_uint(C.CONTENT_FORMAT) != 11542:
            return C.Message(C.ACK, C.UNSUPPORTED_FORMAT)
        recs = []
        try:
            tlv.decode_records(m.payload, tuple(p), recs) if len(p) > 1 else \
                tlv.decode_records(m.payload, (p[0],), recs)
            ty = _TYPES[p[0]]
            for path, val in recs:
                if len(path) != 3 or val is None:
                    continue            # multiple-instance resources: not kept
                t = ty.get(path[2])
                if t:
                    tlv.bytes_value(val, t)     # well-formed for its type, else 4.00
        except (tlv.TlvError, ValueError, KeyError):
            return C.Message(C.ACK, C.BAD_REQUEST)
        for path, val in recs:
            if len(path) != 3 or val is None or (path[0] == 0 and path[1] == 0):
                continue
            k = "%d/%d" % (path[0], path[1])
            self.staged.setdefault(k, {})["%d" % path[2]] = bytes(val).hex()
        self._save()
        return C.Message(C.ACK, C.CHANGED)

    def _delete(self, p):
        if len(p) > 2:
            return C.Message(C.ACK, C.BAD_REQUEST)
        for k in list(self.staged):
            o, i = k.split("/")
            if k == "0/0":
                continue
            if not p or (int(o) == p[0] and (len(p) == 1 or int(i) == p[1])):
                del self.staged[k]
        self._save()
        return C.Message(C.ACK, C.DELETED)

    def _val(self, k, rid, typ):
        v = self.staged.get(k, {}).get("%d" % rid)
        return None if v is None else tlv.bytes_value(bytes.fromhex(v), typ)

    def _discover(self, p):
        parts = ['lwm2m="1.1"']
        for oid in (0, 1, 3, 5, 21):
            if p and p[0] != oid:
                continue
            insts = sorted(int(k.split("/")[1]) for k in self.staged if int(k.split("/")[0]) == oid)
            if oid in (3, 5):
                insts = [0]
            if not insts:
                parts.append("</%d>" % oid)
            for i in insts:
                k = "%d/%d" % (oid, i)
                s = "</%d/%d>" % (oid, i)
                if oid in (0, 1):
                    ssid = self._val(k, 10 if oid == 0 else 0, "i")
                    if ssid is not None and not (oid == 0 and self._val(k, 1, "b")):
                        s += ";ssid=%d" % ssid
                    if oid == 0:
                        s += ';uri="%s"' % (self._val(k, 0, "s") or "")
                parts.append(s)
        r = C.Message(C.ACK, C.CONTENT, payload=",".join(parts).encode())
        r.add(C.CONTENT_FORMAT, 40)
        return r

    def _read(self, p):
        # Bootstrap-Read: the Server object (and Access Control, not offered here) only
        if not p or p[0] != 1:
            return C.Message(C.ACK, C.UNAUTHORIZED)
        recs = []
        for k in sorted(self.staged):
            o, i = k.split("/")
            if int(o) != 1 or (len(p) > 1 and int(i) != p[1]):
                continue
            for r in sorted(int(x) for x in self.staged[k]):
                if len(p) > 2 and r != p[2]:
                    continue
                t = _TYPES[1].get(r, "o")
                recs.append(((1, int(i), r), t, self._val(k, r, t)))
        if not recs:
            return C.Message(C.ACK, C.NOT_FOUND)
        out = bytearray()
        tlv.encode_records(recs, 1 if len(p) == 1 else 2 if len(p) == 2 else 2, out)
        m = C.Message(C.ACK, C.CONTENT, payload=bytes(out))
        m.add(C.CONTENT_FORMAT, 11542)
        return m

    # -- Bootstrap-Finish -------------------------------------------------------------------------
    def _finish(self):
        try:
            rec = self.derive()
        except (ValueError, KeyError, TypeError) as e:
            log("bootstrap: Bootstrap-Finish refused: %s" % e, "W")
            self.ops.append("finish-refused")
            self.finished = True
            return C.Message(C.ACK, C.NOT_ACCEPTABLE)
        import hashlib
        j = json.dumps(rec).encode()
        self.store.flash_put("bootstrap", j + hashlib.sha256(j).digest())   # the commit: one write
        chk = self.store.flash_get("bootstrap")                                # read back and check
        if not chk or hashlib.sha256(chk[:-32]).digest() != chk[-32:]:
            self.finished = True
            return C.Message(C.ACK, C.INTERNAL_ERROR)
        self.committed = rec
        self.finished = True
        self.ops.append("finish")
        return C.Message(C.ACK, C.CHANGED)

    def derive(self):
        """The committed record from the staged objects, or ValueError: exactly one LwM2M server
        account (a Security instance that is not the bootstrap server's, with the Server instance
        of the same Short Server ID), and the credentials its security mode needs."""
        sec = [k for k in self.staged if k.startswith("0/") and not self._val(k, 1, "b")]
        if len(sec) != 1:
            raise ValueError("%d LwM2M server accounts (one needed)" % len(sec))
        k = sec[0]
        uri = self._val(k, 0, "s")
        mode = self._val(k, 2, "i")
        ssid = self._val(k, 10, "i")
        if not uri or mode is None or ssid is None:
            raise ValueError("Security instance without URI, mode or Short Server ID")
        srv = None
        for s in self.staged:
            if s.startswith("1/") and self._val(s, 0, "i") == ssid:
                srv = s
        if srv is None:
            raise ValueError("no Server instance for ssid %d" % ssid)
        rec = {"server": {"uri": uri, "short_id": ssid, "lifetime": self._val(srv, 1, "i") or 86400},
               "security": {}, "bs_fail": self._val(srv, 16, "b") is not False}
        if mode == 0:
            ident = self._val(k, 3, "o")
            key = self._val(k, 5, "o")
            if not ident or not key or not uri.startswith("coaps://"):
                raise ValueError("PSK mode needs an identity, a key and a coaps:// URI")
            rec["security"]["mode"] = "psk"
            rec["psk_identity"] = ident.decode()
            rec["psk_key"] = key.hex()
        elif mode == 3:
            lnk = self._val(k, 17, "l")
            if not uri.startswith("coap://"):
                raise ValueError("NoSec/OSCORE needs a coap:// URI")
            if lnk and lnk[0] == 21:
                o = "21/%d" % lnk[1]
                ms = self._val(o, 0, "o")
                sid = self._val(o, 1, "o")
                rid = self._val(o, 2, "o")
                if not ms or sid is None or rid is None:
                    raise ValueError("OSCORE instance lacks the master secret or the IDs")
                osc = {"master_secret": ms.hex(), "sender_id": sid.hex(), "recipient_id": rid.hex()}
                salt = self._val(o, 5, "o")
                if salt:
                    osc["master_salt"] = salt.hex()
                idc = self._val(o, 6, "o")
                if idc:
                    osc["id_context"] = idc.hex()
                rec["security"]["mode"] = "oscore"
                rec["oscore"] = osc
            else:
                rec["security"]["mode"] = "nosec"
        else:
            raise ValueError("security mode %d not supported (0 PSK, 3 NoSec/OSCORE)" % mode)
        return rec


def run(board, store, cfg, endpoint, info, fails=0):
    """One bootstrap with the configured bootstrap server (bootstrap.uri, coap:// only); fills
    the wake's info (path 'bootstrap', result, what the server did, the bytes, notes). On a
    commit the old session and registration are dropped and the Register follows in a wake of
    its own right after this one (bootstrap.register_after_s, 1 s): the bootstrap code and what
    it left in the heap are gone then (a DTLS handshake in the same wake did not fit 64 KiB)."""
    from net.udp import Udp
    from sec.nosec import NoSecChannel
    from coap.exchange import Exchange
    from errors import LwError
    bs = cfg["bootstrap"]
    uri = bs["uri"]
    info["path"] = "bootstrap"
    info["bs_why"] = "registration-failed-%d" % fails if fails else "no-account"
    hp = uri.split("://", 1)[-1].split("/", 1)[0]
    host, port = hp.rsplit(":", 1) if ":" in hp else (hp, "5683")
    if not uri.startswith("coap://"):
        info["result"] = "config-error"
        info["error"] = "bootstrap.uri: coap:// only"
        return
    b = Bootstrap(store, board, cfg, endpoint)
    try:
        net = Udp(host, int(port), board.local_port())
    except LwError as e:
        info["result"] = e.outcome
        return
    chan = NoSecChannel(net, store, board, {}, {})
    ex = Exchange(chan, store, board, cfg["coap"], handler=b.handle)
    result = "ok"
    try:
        b.request(ex)
        from log import trace
        if trace:
            trace("bs-request")
        t0 = board.ticks_ms()
        limit = int(bs.get("timeout_ms", 30000))
        idle = int(bs.get("idle_ms", 5000))
        while not b.finished and board.ticks_diff(board.ticks_ms(), t0) < limit:
            if not ex.serve(idle, limit):
                break
        if b.finished:
            ex.serve(300, 600)      # our 2.04 to Finish lost: answer the retransmission
        if b.committed is None:
            result = "bootstrap-refused" if b.finished else "no-answer"
    except LwError as e:
        result = e.outcome
        info["error"] = str(e)
    net.close()
    info.update({"bs_ops": ",".join(b.ops), "bs_up": net.up, "bs_down": net.down,
                 "bs_dg": net.dg_up + net.dg_down, "up": net.up, "down": net.down,
                 "dg_up": net.dg_up, "dg_down": net.dg_down})
    from wake.planner import Planner
    pl = Planner(store, cfg)
    info["bs_uJ"] = int(pl.bootstrap_cost())     # the most expensive way back (planner)
    if b.committed:
        mode = b.committed["security"]["mode"]
        info["bs_mode"] = mode
        for k in ("bss", "osc", "dtls_c", "dtls_s"):    # the old server's security state
            board.flash_erase(k)
        store.load()
        for k in store.owned("a"):
            store.drop(k)    # a new server account: nothing of the old session applies
        info["next_s"] = int(bs.get("register_after_s", 1))
    else:
        store.load()
        pl = Planner(store, cfg)
        pl.fails += 1        # a failed bootstrap backs off like any failed wake
        pl.save()
        info["fails"] = pl.fails
    store.commit()
    info["result"] = result
    info["bootstrap"] = result
    info["notes"] = ["bootstrap (%s): %s -> %s, %d B up %d B down" % (
        info["bs_why"], info["bs_ops"] or "-", info.get("bs_mode") or result, net.up, net.down)]
