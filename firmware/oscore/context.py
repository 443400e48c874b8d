"""OSCORE security context (RFC 8613 section 3) and the request replay window.

What it does: derives Sender Key, Recipient Key and Common IV from the Master Secret/Salt, the
Sender/Recipient IDs and the ID Context with HKDF-SHA256 (3.2.1), builds the AEAD nonce (5.2),
holds one AES-CCM-16-64-128 object per direction (key schedule built once) and a 32-entry
replay window for received requests (3.2.2, RFC 6347 4.1.2.6 sliding window).
What it does not do: keep the Sender Sequence Number (the owner does: a state.SeqReserve on
the device, a plain counter in the harness), send or persist anything.

3.2.1: info = [ id : bstr, id_context : bstr / nil, alg_aead : int, type : tstr, L : uint ]
       key = HKDF(salt = Master Salt, IKM = Master Secret, info, L)
       (Sender Key: id = Sender ID, type "Key", L = 16; Recipient Key: id = Recipient ID;
        Common IV: id = h'', type "IV", L = 13)
"""
from micropython import const

from crypto.ccm import CCM
from crypto.hmac import hkdf_sha256
from oscore import Replay

ALG_AES_CCM_16_64_128 = const(10)
KEY_LEN = const(16)
NONCE_LEN = const(13)
TAG_LEN = const(8)
MAX_ID_LEN = const(7)          # nonce length - 6 (3.3)
MAX_SSN = const(0xFFFFFFFFFF)  # 2^40 - 1 (5-byte Partial IV)
WINDOW = const(32)


def bstr_head(out, n):
    """CBOR head of a byte string of length n (major type 2)."""
    if n < 24:
        out.append(0x40 | n)
    elif n < 256:
        out.append(0x58)
        out.append(n)
    else:
        out.append(0x59)
        out.append(n >> 8)
        out.append(n & 0xFF)


def _info(ident, id_context, typ, L):
    out = bytearray(b"\x85")
    bstr_head(out, len(ident))
    out.extend(ident)
    if id_context is None:
        out.append(0xF6)
    else:
        bstr_head(out, len(id_context))
        out.extend(id_context)
    out.append(ALG_AES_CCM_16_64_128)
    out.append(0x60 | len(typ))
    out.extend(typ)
    out.append(L)
    return out


def derive(secret, salt, ident, id_context, typ, L):
    """One HKDF output of 3.2.1 (typ b"Key" or b"IV")."""
    return hkdf_sha256(salt, secret, _info(ident, id_context, typ, L), L)


class ReplayWindow:
    """RFC 6347 4.1.2.6 sliding window of WINDOW sequence numbers, for received requests.

    `top` is the highest Partial IV accepted (-1: none yet); bit i of `bits` says top - i was
    seen. `valid` False means the window was lost (server restart, App. B.1.2): every request
    is refused until Echo proves freshness and `reset_to(piv)` sets the lower edge.
    """

    def __init__(self, valid=True):
        self.top = -1
        self.bits = 0
        self.valid = valid

    def check(self, seq):
        """Raise Replay if seq must be refused (call before decrypting)."""
        if not self.valid:
            raise Replay("replay window not initialised")
        if seq > self.top:
            return
        d = self.top - seq
        if d >= WINDOW:
            raise Replay("PIV %d older than the replay window" % seq)
        if (self.bits >> d) & 1:
            raise Replay("PIV %d already received" % seq)

    def accept(self, seq):
        """Mark seq received (call only after the message verified)."""
        if seq > self.top:
            sh = seq - self.top
            self.bits = ((self.bits << sh) | 1) & 0xFFFFFFFF if sh < WINDOW else 1
            self.top = seq
        else:
            self.bits |= 1 << (self.top - seq)

    def reset_to(self, seq):
        """App. B.1.2: a request proved fresh by Echo; its PIV is the new lower edge."""
        self.valid = True
        self.top = seq
        self.bits = 1

    def to_bytes(self):
        """9 bytes: top + 1 (5 bytes, 0 = nothing seen), bitmap (4 bytes)."""
        t = self.top + 1
        return bytes((t >> 32 & 0xFF, t >> 24 & 0xFF, t >> 16 & 0xFF, t >> 8 & 0xFF,
                      t & 0xFF, self.bits >> 24 & 0xFF, self.bits >> 16 & 0xFF,
                      self.bits >> 8 & 0xFF, self.bits & 0xFF))

    def from_bytes(self, b):
        if len(b) != 9:
            raise ValueError("replay window state")
        self.top = int.from_bytes(b[:5], "big") - 1
        self.bits = int.from_bytes(b[5:], "big")
        self.valid = True


class Context:
    """One derived OSCORE security context (Common, Sender and Recipient parts).

    `secret`, `salt`: Master Secret / Master Salt (salt b"" = default, the empty string);
    `sid`, `rid`: Sender ID (our kid) and Recipient ID; `idc`: ID Context or None.
    """

    def __init__(self, secret, salt, sid, rid, idc=None):
        if len(sid) > MAX_ID_LEN or len(rid) > MAX_ID_LEN:
            raise ValueError("OSCORE id longer than 7 bytes")
        self.sid = bytes(sid)
        self.rid = bytes(rid)
        self.idc = None if idc is None else bytes(idc)
        salt = salt or b""
        self.sender_key = derive(secret, salt, sid, idc, b"Key", KEY_LEN)
        self.recipient_key = derive(secret, salt, rid, idc, b"Key", KEY_LEN)
        self.common_iv = derive(secret, salt, b"", idc, b"IV", NONCE_LEN)
        self.enc = CCM(self.sender_key, TAG_LEN)
        self.dec = CCM(self.recipient_key, TAG_LEN)
        self.replay = ReplayWindow()

    def nonce(self, id_piv, piv):
        """5.2: Common IV XOR (len(ID_PIV) | ID_PIV left-padded to 7 | PIV left-padded to 5)."""
        n = bytearray(self.common_iv)
        k = len(id_piv)
        n[0] ^= k
        for i in range(k):
            n[8 - k + i] ^= id_piv[i]
        k = len(piv)
        for i in range(k):
            n[13 - k + i] ^= piv[i]
        return n
