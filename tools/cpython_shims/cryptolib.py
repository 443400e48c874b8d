"""CPython stand-in for MicroPython's `cryptolib`, backed by the `cryptography` package.

Only what the ESP32 port offers: AES-128/256 in ECB (mode 1) and CBC (mode 2), 16-byte blocks.
"""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class aes:
    def __init__(self, key, mode, iv=None):
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode == 1:
            m = modes.ECB()
        elif mode == 2:
            m = modes.CBC(bytes(iv or bytes(16)))
        else:
            raise ValueError("mode")
        c = Cipher(algorithms.AES(bytes(key)), m)
        self._enc = c.encryptor()
        self._dec = c.decryptor()

    def encrypt(self, data, out=None):
        if len(data) % 16:
            raise ValueError("blksize")
        r = self._enc.update(bytes(data))
        if out is not None:
            out[:] = r
            return None
        return r

    def decrypt(self, data, out=None):
        if len(data) % 16:
            raise ValueError("blksize")
        r = self._dec.update(bytes(data))
        if out is not None:
            out[:] = r
            return None
        return r
