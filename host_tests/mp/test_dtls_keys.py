"""DTLS PSK key schedule (RFC 4279 premaster, RFC 5246 8.1 and 7.4.9, RFC 7627) against values
computed with Python's hmac module (dtls/handshake.py; the key block: tls12_prf 'key
expansion', checked through a connection in test_dtls_plugin.py and the interop tests)."""
import hashlib
from dtls import handshake as K
from crypto.hmac import tls12_prf

X = bytes.fromhex
CR = bytes(range(32))
SR = bytes(range(32, 64))


def test_key_schedule_known_answers():
    psk = X("000102030405060708090a0b0c0d0e0f")
    ms = K.master_secret(psk, CR, SR)
    assert ms == X("deb5ea0aabb5a89d2dbe02561ada3ced3ff6626813425bddaed85718423f4edd"
                   "0b9ea64c8942ddd47e38d4f3c4ca710c")
    th = hashlib.sha256(b"transcript").digest()
    assert K.master_secret(psk, CR, SR, th) == X(
        "86ce1eeab5d5a23c5b030e8af493dbcc9cb935e6ddb6b8a9888556c1b92eb430"
        "6b8af8349d14e8dc73cc1823b703802c")
    assert tls12_prf(ms, b"key expansion", SR + CR, 40) == X(
        "565d09eb8509c48e14775b9a26c2b94733f5e05b5838c0eae8f19fd69fe61bb92a55285b889028de")
    assert K.verify_data(ms, True, b"transcript") == X("1a2a95209894daa622c7800e")
    assert len(K.verify_data(ms, False, b"transcript")) == 12
