"""OSCORE (RFC 8613): security context (context.py) and message protection (protect.py).

Errors, one small family: every one is an errors.py outcome so the wake planner can act on it.
"""
from errors import ProtocolError, SessionUnknown


class OscoreError(ProtocolError):
    """A malformed OSCORE option or COSE object, or an OSCORE option where none may be."""


class VerifyFailed(OscoreError):
    """The AEAD tag did not verify (wrong key, tampered, or not bound to our request)."""


class Replay(OscoreError):
    """A request Partial IV already seen or older than the replay window (RFC 8613 7.4)."""


class ContextUnknown(SessionUnknown):
    """No security context for this kid / kid context (RFC 8613 8.2 step 2: 4.01)."""
