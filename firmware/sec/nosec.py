"""NoSec channel: plain CoAP over UDP (LwM2M Security Mode 3). For comparison and test benches."""
from coap import codec as C
from sec.base import Channel


class NoSecChannel(Channel):
    kind = "nosec"

    def paths(self):
        return ["nosec"]

    def send(self, msg):
        self.net.send(C.encode(msg))

    def recv(self, timeout_ms):
        from log import recv         # (the shared deadline loop; local: no module global)
        b = self.board
        t0 = b.ticks_ms()
        while True:
            d = recv(self.net, b, t0, timeout_ms)
            if d is None:
                return None
            try:
                return C.decode(d)
            except C.CoapError as e:
                self.dropped += 1
                self.last_error = str(e)
                if e.mtype == C.CON and e.mid is not None:
                    # RFC 7252 4.2: reject a malformed confirmable message with RST
                    self.net.send(C.encode(C.Message(C.RST, C.EMPTY, e.mid)))

    def estimate(self, path):
        # Update 13 B (1-byte token, 4-char location) + ACK 5 B: wire-budget.md 2.1
        return (13, 5, 2, 1)
