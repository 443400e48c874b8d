"""Crypto primitives for the device: AES-CCM (ccm.py), HMAC/PRF/HKDF over SHA-256 (hmac.py).

Built only on what the ESP32 port offers: `cryptolib.aes(key, 1)` (ECB) and `hashlib.sha256`.
"""


class CryptoError(ValueError):
    """Authentication failed (tag mismatch), input too short, or a bad parameter."""

    def __init__(self, msg="crypto"):
        super().__init__(msg)
