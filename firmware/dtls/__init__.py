"""DTLS 1.2 PSK client (RFC 6347), TLS_PSK_WITH_AES_128_CCM_8, Connection ID (RFC 9146).

record.py: records, AEAD, CID AADs, replay window (resident: the 'cid' path needs only this and
client.py). client.py: the association (records in/out, application data, alerts).
handshake.py: handshake messages, key schedule, reassembly and the handshake state machine;
imported by DtlsClient.handshake() and dropped from sys.modules when it ends.
sec/dtls_channel.py plugs this into the LwM2M stack; tools/harness/dtls_server.py is the
server role (CPython). See docs/dtls.md.

Errors are errors.py's typed outcomes under DTLS names (aliases, not subclasses: each class
costs heap on the device).
"""
# The default clock (ticks_ms/ticks_diff) of a DtlsClient built without one: the firmware
# passes the board (DtlsClient(..., board=board)), as to CoAP, NoSec and OSCORE; tools and tests
# that build a client alone get this module's (time.ticks_ms on MicroPython, monotonic on CPython).
try:
    from time import ticks_ms, ticks_diff
except ImportError:   # CPython (tests, harness)
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

from errors import ProtocolError as DtlsError, AuthFailed as DtlsAuthFailed  # noqa: F401
from errors import SessionUnknown as DtlsSessionUnknown, NoAnswer as DtlsNoAnswer  # noqa: F401
