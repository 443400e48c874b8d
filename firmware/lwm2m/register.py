"""LwM2M 1.1 registration interface: Register and Update (client side; a sleepy device never
de-registers: the registration lapses with its lifetime).

Register:  POST /rd?ep=..&lt=..&lwm2m=1.1&b=..&Q  (Content-Format 40, link-format payload)
Parameters are left out where the default applies (lt 86400, b U), and `ep` can be left out
when the server derives it from the security identity (LwM2M 1.1). Update carries only what
changed since the last successful Register/Update, and nothing at all when nothing did.
The location, the time of the last success and a hash of what was sent are persisted in the
store's 'reg' section, so an Update after deep sleep needs no Register."""
import struct

from coap import codec as C
from errors import RegistrationUnknown, ProtocolError

DEFAULT_LT = 86400
_CF_LINK = 40


def _h16(b):
    # A 16-bit hash of bytes: what was sent (here) or notified (lwm2m/observe.py).
    h = 0
    for c in b:
        h = (h * 131 + c) & 0xFFFF
    return h


class Registration:
    def __init__(self, store, board, srv_cfg, registry, endpoint):
        self.store = store
        self.board = board
        self.cfg = srv_cfg
        self.reg = registry
        self.ep = endpoint
        self._lt = int(srv_cfg.get("lifetime", DEFAULT_LT))
        self.binding = srv_cfg.get("binding", "U")
        self.queue = bool(srv_cfg.get("queue_mode", True))
        self.location = None
        self.last_ok = 0
        self.sent_lt = 0
        self.sent_links = 0
        self.sent_bq = 0
        s = store.get("reg")
        if s and len(s) >= 11:
            self.last_ok, self.sent_lt, self.sent_links, fl = struct.unpack(">IIHB", s[:11])
            self.sent_bq = fl
            self.location = bytes(s[11:]).decode() or None

    @property
    def lifetime(self):
        # /1/0/1 when the registry has it (the server may write it: the next Update carries
        # the new lt), else the configured lifetime.
        o = self.reg.get(1)
        try:
            return int(o.inst[0][1])
        except (AttributeError, KeyError, TypeError, ValueError):
            return self._lt

    def _save(self):
        if self.location is None:
            self.store.drop("reg")
            return
        self.store.put("reg", struct.pack(">IIHB", int(self.last_ok), self.sent_lt, self.sent_links,
                                          self.sent_bq) + self.location.encode())

    def _bq(self):
        return _h16((self.binding + ("Q" if self.queue else "")).encode()) & 0xFF

    def is_registered(self, now=None):
        # Registered and the lifetime has not lapsed (a lapsed one needs a Register).
        if not self.location:
            return False
        now = self.board.now() if now is None else now
        return now < self.last_ok + self.sent_lt

    def renew_due(self, now=None, margin=0.1):
        # When the next Update must go out at the latest to keep the registration alive.
        return self.last_ok + self.sent_lt * (1.0 - margin)

    def forget(self):
        self.location = None
        self._save()

    def register(self, ex, retries):
        # server.content_format (default 112, SenML CBOR): the root link names the format we
        # prefer (</>;rt="oma.lwm2m";ct=112); DM answers every format in docs/lwm2m.md. null
        # leaves the root link out (26 bytes less in each Register).
        links = self.reg.links(self.cfg.get("content_format", 112))
        m = C.Message(C.CON, C.POST)
        m.add(C.URI_PATH, "rd")
        m.add(C.CONTENT_FORMAT, _CF_LINK)
        if self.ep and not self.cfg.get("omit_ep"):
            m.add(C.URI_QUERY, "ep=" + self.ep)
        lt = self.lifetime
        if lt != DEFAULT_LT:
            m.add(C.URI_QUERY, "lt=%d" % lt)
        m.add(C.URI_QUERY, "lwm2m=1.1")
        if self.binding != "U":
            m.add(C.URI_QUERY, "b=" + self.binding)
        if self.queue:
            m.add(C.URI_QUERY, "Q")
        m.payload = links = links.encode()
        r = ex.request(m, True, retries)
        if r.code != C.CREATED:
            raise ProtocolError("Register answered %s" % C.code_str(r.code))
        loc = r.path(C.LOCATION_PATH)
        if not loc:
            raise ProtocolError("Register 2.01 without Location-Path")
        self.location = loc
        self.last_ok = int(self.board.now())
        self.sent_lt = lt
        self.sent_links = _h16(links)
        self.sent_bq = self._bq()
        self._save()
        return "register"

    def update(self, ex, retries):
        if not self.location:
            raise RegistrationUnknown("no registration to update")
        m = C.Message(C.CON, C.POST)
        m.set_path("/" + self.location)   # exactly as given: empty segments too
        lt = self.lifetime
        if lt != self.sent_lt:
            m.add(C.URI_QUERY, "lt=%d" % lt)
        if self._bq() != self.sent_bq:
            m.add(C.URI_QUERY, "b=" + self.binding)
            if self.queue:
                m.add(C.URI_QUERY, "Q")
        links = self.reg.links(self.cfg.get("content_format", 112)).encode()
        if _h16(links) != self.sent_links:
            m.add(C.CONTENT_FORMAT, _CF_LINK)
            m.payload = links
        r = ex.request(m, True, retries)
        if r.code == C.NOT_FOUND or r.code == C.FORBIDDEN:
            # 4.03: the registration is not this identity's (several mechanisms and a server
            # that does not bind them, docs/planner.md): Register under this one
            self.forget()
            raise RegistrationUnknown("Update answered " + C.code_str(r.code))
        if r.code != C.CHANGED:
            raise ProtocolError("Update answered %s" % C.code_str(r.code))
        self.last_ok = int(self.board.now())
        self.sent_lt = lt
        self.sent_links = _h16(links)
        self.sent_bq = self._bq()
        self._save()
        return "update"
