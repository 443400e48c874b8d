"""DTLS 1.2 PSK client (RFC 6347) with TLS_PSK_WITH_AES_128_CCM_8 and Connection ID (RFC 9146).

Modules: record.py (record codec, AEAD protect/unprotect, CID AADs, replay window),
handshake.py (handshake message codecs, PSK key schedule, reassembly), client.py (the client
state machine: flights, retransmission, alerts, resumption). The security channel that plugs
this into the LwM2M stack is sec/dtls_channel.py; the harness server role is
tools/harness/dtls_server.py (CPython, reusing record.py and handshake.py).

Errors: every failure is a subclass of errors.py's typed outcomes (small classes without
__init__: each class costs heap on MicroPython); `err(cls, msg, alert)` attaches the peer's
alert (level, description) when there was one.
"""
from errors import AuthFailed, NoAnswer, ProtocolError, SessionUnknown


class DtlsError(ProtocolError):
    """Malformed or unexpected DTLS data (bad record, bad handshake message)."""


class DtlsAuthFailed(AuthFailed):
    """Wrong PSK or identity: the peer could not verify us (or we could not verify it)."""


class DtlsSessionUnknown(SessionUnknown):
    """The server no longer has our session/connection (fatal alert, new session ID)."""


class DtlsNoAnswer(NoAnswer):
    """A flight was retransmitted max_tries times without a complete answer."""


def err(cls, msg, alert=None):
    e = cls(msg)
    e.alert = alert
    return e
