"""OSCORE context derivation (RFC 8613 3.2.1) and the client side of App. B.2: the rarely run
part of OSCORE. The device imports this module only while it derives keys (connect()) and
drops it right after (log.unload): its code and HKDF cost no heap during the exchanges.

3.2.1: info = [ id : bstr, id_context : bstr / nil, alg_aead : 10, type : "Key"/"IV", L ]
       out  = HKDF-SHA256(salt = Master Salt, IKM = Master Secret, info, L)
       Sender Key (id = Sender ID, L 16), Recipient Key (Recipient ID, 16), Common IV (h'', 13)
App. B.2 (client, steps 1 and 3): request #1 = an empty POST with kid context R1, protected
with ID Context R1; its 4.01 carries kid context R2 and verifies under R2||R1; the new context
is R2||R3, sent as kid context until a response verifies (the channel does that part).
Argument names are few and short on purpose: each distinct name is an interned string that
stays in the heap after the module is dropped.
"""
import hashlib

from micropython import const

import log
from crypto import CCM
from errors import ProtocolError
from oscore import option_of, protect, unprotect

_CON = const(0)             # (coap.codec names: CON, ACK, EMPTY, POST, BAD_REQUEST, BAD_OPTION)
_ACK = const(2)
_EMPTY = const(0)
_POST = const(2)
_BAD_REQUEST = const(128)
_BAD_OPTION = const(130)


class Context:
    """A security context for oscore.protect/unprotect (see oscore): sid (our kid), rid,
    idc, key (from km = keys(...), or set later by load()), a fresh replay window. The
    harness, the tests and B.2's short-lived contexts use it; the device's channel is its
    own context."""

    def __init__(self, sid, rid, idc=None, km=None):
        self.sid = sid
        self.rid = rid
        self.top = -1
        self.bits = 0
        if km:
            _set(self, idc, km)


def _set(c, idc, km):
    c.idc = idc
    c.key = (CCM(km[:16], 8), CCM(km[16:32], 8), km[32:45])


def _hmac(key, msg):
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    a = bytearray(64)
    b = bytearray(64)
    for i in range(64):
        k = key[i] if i < len(key) else 0
        a[i] = k ^ 0x36
        b[i] = k ^ 0x5C
    h = hashlib.sha256(a)
    h.update(msg)
    b = hashlib.sha256(b)
    b.update(h.digest())
    return b.digest()


def _bstr(out, b):
    n = len(b)
    out.extend(bytes((0x40 | n,)) if n < 24 else bytes((0x58, n)) if n < 256 else
               bytes((0x59, n >> 8, n & 0xFF)))
    out.extend(b)


def info(b, idc, key, n):
    """The CBOR info array of 3.2.1 for id b, type key (b"Key" or b"IV"), length n."""
    out = bytearray(b"\x85")
    _bstr(out, b)
    if idc is None:
        out.append(0xF6)
    else:
        _bstr(out, idc)
    out.append(10)
    out.append(0x60 | len(key))
    out.extend(key)
    out.append(n)
    return out


def keys(key, msg, sid, rid, idc=None):
    """Sender Key | Recipient Key | Common IV (16 + 16 + 13 bytes) from the Master Secret key
    and the Master Salt msg (b"" or None = the default, empty)."""
    if len(sid) > 7 or len(rid) > 7:
        raise ValueError("OSCORE id > 7 B")
    msg = _hmac(msg or b"", key)            # HKDF-Extract (empty salt = HashLen zeros)
    out = b""
    for b, t, n in ((sid, b"Key", 16), (rid, b"Key", 16), (b"", b"IV", 13)):
        out += _hmac(msg, info(b, idc, t, n) + b"\x01")[:n]   # one Expand block each
    return out


def context(key, msg, sid, rid, idc=None):
    """A Context from the Master Secret key and Master Salt msg (the harness and tests)."""
    sid = bytes(sid)
    rid = bytes(rid)
    idc = None if idc is None else bytes(idc)
    return Context(sid, rid, idc, keys(key, msg, sid, rid, idc))


def load(c, secrets, idc):
    """Derive the keys of context c (its sid, rid) with ID Context idc from secrets, the
    oscore section of the secrets (hex master_secret, master_salt); returns c."""
    try:
        km = keys(bytes.fromhex(secrets["master_secret"]),
                  bytes.fromhex(secrets.get("master_salt") or ""), c.sid, c.rid, idc)
    except Exception:
        from errors import ConfigError
        raise ConfigError("secrets: oscore master_secret/master_salt")
    _set(c, idc, km)
    return c


def b2(c):
    """App. B.2 steps 1 and 3 for channel c; leaves c keyed with the context R2||R3 (kid
    context to send: c.kid_ctx), the ID Context in flash first, then the SSN restarted at 0.
    Request #1 (SSN 0 under the random R1) gets a random MID."""
    from coap import codec as C
    from errors import AuthFailed, NoAnswer
    b = c.board
    net = c.net
    cfg = c.cfg
    r1 = bytes(b.urandom(8))
    c1 = load(Context(c.sid, c.rid), c.secrets, r1)
    tok = bytes(b.urandom(1))
    mid = int.from_bytes(b.urandom(2), "big")
    m, r = protect(c1, C.Message(_CON, _POST, mid, tok), 0, None, r1,
                   c.wrap)
    data = C.encode(m)
    t = int(cfg.get("b2_timeout_ms", 2000))
    for _ in range(int(cfg.get("b2_tries", 4))):
        net.send(data)
        t0 = b.ticks_ms()
        while True:
            d = log.recv(net, b, t0, t)
            if d is None:
                break
            try:
                m = C.decode(d)
                # a piggybacked answer (ACK) must carry our MID: a stale answer queued from an
                # earlier exchange may share the 1-byte token
                if m.token != tok or not m.is_response() or (m.mtype == _ACK and m.mid != mid):
                    continue
                if m.mtype == _CON:
                    net.send(C.encode(C.Message(_ACK, _EMPTY, m.mid)))
                o = option_of(m, c.wrap)
                if o is None:
                    if _BAD_REQUEST <= m.code <= _BAD_OPTION:    # 4.00 .. 4.02
                        raise AuthFailed("OSCORE B.2 #1 refused %s: keys or ids"
                                         % C.code_str(m.code))
                    continue
                r2 = o[1]
                if not r2:
                    continue
                unprotect(load(c1, c.secrets, r2 + r1), m, o, r)
            except (ValueError, ProtocolError) as e:
                c.dropped += 1
                c.last_error = str(e)
                continue
            idc = r2 + bytes(b.urandom(8))
            # ID Context first, then the SSN: a cut in between leaves the new context with
            # the old (higher) SSN bound, never an old context with a restarted SSN
            c.store.flash_put("osc", b"\x01" + idc)
            load(c, c.secrets, idc)
            c.top = -1                 # a fresh replay window for the server's requests
            c.bits = 0
            c.seq.start(0)
            c.kid_ctx = idc
            c.ok = True
            return
        t *= 2
    raise NoAnswer("OSCORE B.2: no response #1")

