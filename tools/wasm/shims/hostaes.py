"""cryptolib for the webassembly port (tools/wasm; not firmware): the port has no AES, so
aes(key, 1).encrypt() runs AES-128/256-ECB in the host (Node's crypto, through the JS FFI,
blocks as hex). Installed as sys.modules['cryptolib'] on that port only. Its heap: one small
Python object per aes() holding the key (measured and reported by tools/wasm/replay.mjs as
'shim_aes_bytes'); the C cryptolib of the unix port and the ESP32 holds a key schedule instead."""
import host
from binascii import hexlify


class aes:
    def __init__(self, key, mode, iv=None):
        if mode != 1:
            raise ValueError("ECB only")
        self.k = hexlify(key).decode()

    def encrypt(self, src, dst=None):
        r = bytes.fromhex(host.ecb(self.k, hexlify(src).decode()))
        if dst is None:
            return r
        dst[:] = r
        return None
