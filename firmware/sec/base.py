"""The security-channel contract every channel honours (NoSec here; DTLS sec/dtls_channel.py,
OSCORE sec/oscore_channel.py, DTLS run by an nRF9160 sec/modem_dtls.py). The others do not
subclass Channel (it would load this module beside theirs: heap), they have the same methods
and attributes (duck typing); host_tests/unit/test_channel_contract.py checks every one of them.

A channel sits between CoAP and the net: it moves CoAP messages (coap.codec.Message), not
bytes, because OSCORE protects the message itself. It can persist and restore itself, list the
wake paths its persisted state allows, run the set-up a path needs, and say what a path costs.

Constructed as Channel(net, store, board, cfg, secrets): cfg is the config's `security` section,
secrets the parsed secrets; the clock is the board's (board.ticks_ms/ticks_diff).

    paths()            -> ordered list of path names usable now, cheapest first
    connect(path)      -> run the set-up the path needs (handshake, B.2, nothing) and set
                          `path_taken` to the path it actually took (a resumption the server
                          answered with a full handshake: 'full-handshake'). Raises a
                          firmware.errors subclass (NoAnswer, SessionUnknown, AuthFailed, ...)
    send(msg)          -> protect and transmit one CoAP message (called again for each CoAP
                          retransmission: a channel must re-protect or resend as its rules say)
    recv(timeout_ms)   -> the next CoAP message that verified, or None on timeout. Datagrams
                          that fail to parse or verify are dropped and counted (`dropped`,
                          the reason in `last_error`), except when they prove the session is
                          gone: SessionUnknown
    save()             -> bytes to keep in RTC memory (section 'sec', written by the wake
                          cycle), or None
    restore(b)         -> load what save() gave (b may be None: flash alone); checks it and
                          drops what fails; returns True if usable
    forget()           -> drop the session state (it proved unusable)
    forget_path(path)  -> `path` failed this wake: drop what proved unusable for it (the
                          next wake plans without it); nothing when there is nothing to drop
    estimate(path)     -> (bytes_up, bytes_down, datagrams, round_trips) expected for the path
    settle()           -> end of wake: persist counters exactly (see state.SeqReserve.settle)

Attributes:
    kind               the mode's name ('nosec', 'dtls', 'oscore', ...) for logs
    path_taken         what connect() took (None before)
    dropped            datagrams dropped this wake (bad records, failed verification)
    last_error         why the last one was dropped (a str or an exception), or None
(Heap checkpoints inside connect() go through the one trace hook, log.trace, not the channel.)

Path names: see wake/planner.py (e.g. 'nosec', 'cid', 'dtls-reuse', 'resume', 'full-handshake',
'oscore', 'oscore-b2'; 'modem-cid', 'modem-full-handshake'). The cycle appends '+update' or
'+register' for the log line.
"""


class Channel:
    kind = "base"

    def __init__(self, net, store, board, cfg, secrets):
        self.net = net
        self.store = store
        self.board = board
        self.cfg = cfg
        self.secrets = secrets
        self.dropped = 0
        self.last_error = None
        self.path_taken = None

    def paths(self):
        return []

    def connect(self, path):
        self.path_taken = path

    def send(self, msg):
        raise NotImplementedError

    def recv(self, timeout_ms):
        raise NotImplementedError

    def save(self):
        return None

    def restore(self, b):
        return False

    def forget(self):
        pass

    def forget_path(self, path):
        pass

    def estimate(self, path):
        return (0, 0, 0, 0)

    def settle(self):
        pass
