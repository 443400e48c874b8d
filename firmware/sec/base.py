"""The security-channel interface every mode implements (NoSec, DTLS, DTLS-CID, OSCORE).

A channel sits between CoAP and the net: it moves CoAP messages (coap.codec.Message), not
bytes, because OSCORE protects the message itself. It can persist and restore itself, list the
wake paths its persisted state allows, run the set-up a path needs, and say what a path costs.

    paths()            -> ordered list of path names usable now, cheapest first
    connect(path)      -> run the set-up the path needs (handshake, B.2, nothing). Raises a
                          firmware.errors subclass (NoAnswer, SessionUnknown, AuthFailed, ...)
    send(msg)          -> protect and transmit one CoAP message (called again for each CoAP
                          retransmission: a channel must re-protect or resend as its rules say)
    recv(timeout_ms)   -> the next CoAP message that verified, or None on timeout. Datagrams
                          that fail to parse or verify are dropped and counted (`dropped`),
                          except when they prove the session is gone: SessionUnknown
    save()             -> bytes to keep in RTC memory (small), or None
    restore(b)         -> load what save() gave; returns True if usable
    forget()           -> drop the session state (it proved unusable)
    estimate(path)     -> (bytes_up, bytes_down, datagrams, round_trips) expected for the path
    settle()           -> end of wake: persist counters exactly (see state.SeqReserve.settle)

Path names: see wake/planner.py (e.g. 'nosec', 'cid', 'dtls-reuse', 'resume', 'full-handshake',
'oscore', 'oscore-b2'). The planner appends '+update' or '+register' for the log line.
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
        self.mark = None         # hook(label): heap checkpoints inside connect() (wake/cycle.py)

    def paths(self):
        return []

    def connect(self, path):
        pass

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

    def estimate(self, path):
        return (0, 0, 0, 0)

    def settle(self):
        pass
