"""DTLS 1.2 PSK key schedule for TLS_PSK_WITH_AES_128_CCM_8.

What it does: the RFC 4279 premaster secret, the master secret (RFC 5246 8.1, or the RFC 7627
extended master secret over the session hash), the key block (RFC 5246 6.3) and
Finished.verify_data (RFC 5246 7.4.9), over crypto/hmac.py's TLS 1.2 PRF.
What it does not do: keep or log secrets (callers hold them; never print them).
"""
import hashlib
import struct

from crypto.hmac import tls12_prf


def sha256(b):
    return hashlib.sha256(b).digest()


def premaster(psk):
    """RFC 4279 2: uint16 N, N zero bytes, uint16 N, the PSK (N = len(psk))."""
    n = struct.pack(">H", len(psk))
    return n + bytes(len(psk)) + n + psk


def master_secret(pms, cr, sr, session_hash=None):
    """RFC 5246 8.1 or, with session_hash, RFC 7627 4 (extended master secret); 48 bytes."""
    if session_hash is not None:
        return tls12_prf(pms, b"extended master secret", session_hash, 48)
    return tls12_prf(pms, b"master secret", cr + sr, 48)


def key_block(ms, cr, sr):
    """RFC 5246 6.3 for AES-128-CCM_8 (no MAC keys): 40 bytes ->
    (client_write_key, server_write_key, client_write_IV, server_write_IV)."""
    kb = tls12_prf(ms, b"key expansion", sr + cr, 40)
    return kb[0:16], kb[16:32], kb[32:36], kb[36:40]


def verify_data(ms, client, thash):
    """Finished.verify_data (RFC 5246 7.4.9): 12 bytes."""
    return tls12_prf(ms, b"client finished" if client else b"server finished", thash, 12)
