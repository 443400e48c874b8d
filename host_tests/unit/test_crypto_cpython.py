"""Cross-check firmware AES-CCM and HKDF/HMAC/PRF against the `cryptography` package and the
standard library on random inputs (CPython only)."""
import hashlib
import hmac as std_hmac
import random

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import CryptoError
from crypto.ccm import CCM
from crypto.hmac import hkdf_sha256, hmac_sha256, tls12_prf


def _rb(r, n):
    return bytes(r.getrandbits(8) for _ in range(n))


def test_ccm_matches_cryptography_random():
    r = random.Random(8613)
    for i in range(300):
        key = _rb(r, r.choice((16, 32)))
        tl = r.choice((4, 8, 12, 16))
        nl = r.choice((7, 8, 11, 12, 13))
        nonce = _rb(r, nl)
        aad = _rb(r, r.choice((0, 1, 15, 16, 17, r.randrange(0, 300))))
        pt = _rb(r, r.choice((0, 1, 15, 16, 17, r.randrange(0, 400))))
        ref = AESCCM(key, tl).encrypt(nonce, pt, aad)
        ccm = CCM(key, tl)
        assert ccm.seal(nonce, aad, pt) == ref
        assert ccm.open(nonce, aad, ref) == pt
        bad = bytearray(ref)
        bad[r.randrange(len(bad))] ^= 1 << r.randrange(8)
        try:
            ccm.open(nonce, aad, bytes(bad))
            raise AssertionError("tampered CCM accepted")
        except CryptoError:
            pass


def test_ccm_large_aad_length_encoding():
    # l(a) >= 2^16 - 2^8 switches to the 0xff 0xfe + 4-byte form
    r = random.Random(1)
    key, nonce = _rb(r, 16), _rb(r, 13)
    aad = _rb(r, 0xFF00 + 3)
    assert CCM(key, 8).seal(nonce, aad, b"abc") == AESCCM(key, 8).encrypt(nonce, b"abc", aad)


def test_hkdf_hmac_prf_match_reference_random():
    r = random.Random(5869)
    for _ in range(100):
        salt = _rb(r, r.randrange(0, 70))
        ikm = _rb(r, r.randrange(1, 80))
        info = _rb(r, r.randrange(0, 40))
        n = r.randrange(1, 200)
        ref = HKDF(hashes.SHA256(), n, salt or None, info).derive(ikm)
        assert hkdf_sha256(salt, ikm, info, n) == ref
        key = _rb(r, r.randrange(0, 150))
        assert hmac_sha256(key, info) == std_hmac.new(key, info, hashlib.sha256).digest()
        seed = label = info
        s = label + seed
        a, out = s, b""
        while len(out) < n:
            a = std_hmac.new(key, a, hashlib.sha256).digest()
            out += std_hmac.new(key, a + s, hashlib.sha256).digest()
        assert tls12_prf(key, label, seed, n) == out[:n]
