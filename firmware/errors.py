"""Typed outcomes and errors shared by every layer.

A wake path never ends in a bare exception: each failure is one of these, and its `outcome`
string is what the planner, the logs and the reports use. Layers raise the subclass that says
what went wrong; nothing here holds state.
"""


class LwError(Exception):
    outcome = "error"


class NoAnswer(LwError):
    """The peer did not answer within the retransmission budget (NAT or server lost us)."""
    outcome = "no-answer"


class SessionUnknown(LwError):
    """The server no longer knows our security session (alert, 4.01, unknown CID or kid)."""
    outcome = "session-unknown"


class RegistrationUnknown(LwError):
    """The server answered 4.04 to an Update: register again."""
    outcome = "registration-unknown"


class AuthFailed(LwError):
    """Wrong key or identity: do not retry in a loop; back off and surface the error."""
    outcome = "auth-failed"


class NetworkDown(LwError):
    """No link: Wi-Fi not associated, modem not attached, socket error."""
    outcome = "network-down"


class ProtocolError(LwError):
    """Malformed or unexpected data from the peer (bad datagram, bad record)."""
    outcome = "protocol-error"


class ConfigError(LwError):
    """A board config or secrets file is missing something or holds a bad value."""
    outcome = "config-error"
