"""os for recorded and replayed wakes (tools/wasm; not firmware): file operations of the port,
environment from the recording on the webassembly port (which has no getenv), and urandom from
a recorded seed (SHA-256 in counter mode), so both ports draw the same bytes."""
import os as _os
import hashlib

stat = _os.stat
mkdir = _os.mkdir
rename = _os.rename
remove = _os.remove
listdir = _os.listdir
ilistdir = _os.ilistdir
sep = "/"
ENV = None      # the webassembly port: the recorded environment (a dict)
SEED = b""
_n = 0


def getenv(k, d=None):
    if ENV is None:
        return _os.getenv(k) or d
    return ENV.get(k, d)


def urandom(n):
    global _n
    out = b""
    while len(out) < n:
        out += hashlib.sha256(SEED + _n.to_bytes(4, "big")).digest()
        _n += 1
    return out[:n]
