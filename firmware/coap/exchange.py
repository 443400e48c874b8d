"""CoAP message layer and request/response matching over one security channel (RFC 7252 4-5).

What it does: every message the device originates goes out here (Register, Update, Send,
bootstrap and FOTA requests through request(); CON and NON notifications through send()), with
message IDs and short tokens that do not repeat across deep sleep (persisted in the store's
'coap' section), CON retransmission with randomized exponential back-off (ACK_TIMEOUT,
ACK_RANDOM_FACTOR from the board config; the budget per call, MAX_RETRANSMIT by default),
piggy-backed and
separate responses, answering server-initiated requests while waiting (queue mode),
duplicate detection of incoming CON/NON (the cached response is resent), RST for what it cannot
match. What it does not do: protect messages (the channel does) or know LwM2M.

The wait loop is the only place the device listens: it returns as soon as nothing more can
arrive (response received, listen window idle).
"""
import struct

from micropython import const

import log
from coap import codec as C
from errors import NoAnswer, ProtocolError

_DEDUP = const(8)  # remembered incoming requests per wake (MID -> response)


class Reset(ProtocolError):
    """The peer answered our CON with RST."""
    outcome = "reset"


class Exchange:
    def __init__(self, chan, store, board, timers, handler=None, log=None):
        self.chan = chan
        self.store = store
        self.board = board
        self.ack_timeout = int(timers.get("ack_timeout_ms", 2000))
        self.random_factor = float(timers.get("ack_random_factor", 1.5))
        self.max_retransmit = int(timers.get("max_retransmit", 4))
        self.separate_ms = int(timers.get("separate_timeout_ms", 10000))
        self.token_len = int(timers.get("token_len", 1))
        self.handler = handler  # handler(msg) -> response Message (code/opts/payload) or None
        self.log = log
        self.seen = []          # [(mid, response bytes-or-msg)] for incoming dedup
        self.retransmissions = 0
        s = store.get("coap")
        if s and len(s) == 4:
            self.mid, self.tok = struct.unpack(">HH", s)
        else:
            r = board.urandom(4)
            self.mid = (r[0] << 8) | r[1]
            self.tok = (r[2] << 8) | r[3]

    # -- identifiers ----------------------------------------------------------------------------
    def next_mid(self):
        m = self.mid
        self.mid = (m + 1) & 0xFFFF
        self._save()
        return m

    def next_token(self):
        t = self.tok
        self.tok = (t + 1) & 0xFFFF
        self._save()
        if self.token_len <= 1:
            return bytes((t & 0xFF,))
        return struct.pack(">H", t)

    def _save(self):
        self.store.put("coap", struct.pack(">HH", self.mid, self.tok))

    # -- requests and notifications -------------------------------------------------------------
    def request(self, msg, confirmable=True, retries=None):
        """Send a request and return its response Message. Raises NoAnswer, Reset.

        retries: this call's retransmission budget (None: MAX_RETRANSMIT from the config).
        RFC 9175 2.4: a 4.01 that carries an Echo option (an OSCORE server that lost its replay
        window, RFC 8613 App. B.1.2) is answered by repeating the request once, as a new
        exchange; the channel adds the Echo value to that repetition."""
        echo = 1
        while True:
            if not msg.token:
                msg.token = self.next_token()
            r = self.send(msg, confirmable, retries)
            if r is None:
                raise NoAnswer("no answer to %s" % C.code_str(msg.code))
            if not echo or r.code != C.UNAUTHORIZED or r.get(C.ECHO) is None:
                return r
            if self.log:
                self.log("coap: 4.01 with Echo: repeating the request once")
            msg.token = b""
            echo = 0

    def send(self, msg, confirmable=True, retries=None):
        """Send msg with a new MID: a request (request() sets its token) or a notification (a
        2.05 with the observation's token and Observe option, RFC 7641 4.2). A CON is
        retransmitted at the randomized exponential back-off of RFC 7252 4.2 (first timeout
        in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]; ACK_TIMEOUT with no retransmission
        to follow) until answered or `retries`
        retransmissions (None: MAX_RETRANSMIT) are spent; requests from the server arriving
        meanwhile are served. Returns the answer (a request's response, a CON notification's
        ACK; a NON notification is sent once and returned) or None. Raises Reset (RST: for a
        notification, the server cancelled the observation)."""
        msg.mtype = C.CON if confirmable else C.NON
        msg.mid = self.next_mid()
        if retries is None:
            retries = self.max_retransmit
        timeout = self.ack_timeout
        if retries > 0:
            # the random factor spreads retransmissions (RFC 7252 4.2); a CON that will not
            # be retransmitted (a path's probe) gives up at ACK_TIMEOUT: nothing to spread
            r = self.board.urandom(1)[0] / 255.0
            timeout = int(timeout * (1.0 + (self.random_factor - 1.0) * r))
        acked = False
        while True:
            if not acked:
                self.chan.send(msg)
                if not confirmable and msg.is_response():
                    return msg                  # a NON notification: nothing comes back
            r, acked = self._wait(msg, timeout, acked)
            # (acked without a response: the separate response never came)
            if r is not None or acked or not confirmable or retries <= 0:
                return r
            retries -= 1
            self.retransmissions += 1
            if self.log:
                self.log("coap: retransmit mid=%d" % msg.mid)
            timeout *= 2

    def _wait(self, req, timeout_ms, acked):
        """Wait up to timeout_ms (or the separate-response time once ACKed)."""
        b = self.board
        t0 = b.ticks_ms()
        limit = self.separate_ms if acked else timeout_ms
        while True:
            m = log.recv(self.chan, b, t0, limit)
            if m is None:
                return None, acked
            if m.mtype == C.ACK and m.mid == req.mid:
                if req.is_response():
                    return m, True        # a notification's ACK: delivered
                if m.code == C.EMPTY:
                    acked = True          # separate response follows
                    t0 = b.ticks_ms()
                    limit = self.separate_ms
                    continue
                if m.token == req.token:
                    return m, True
                continue
            if m.mtype == C.RST and m.mid == req.mid:
                raise Reset("peer reset our %s" % C.code_str(req.code))
            if m.is_request():
                self._serve_one(m)
                continue
            if m.is_response() and m.token == req.token and m.mtype in (C.CON, C.NON) \
                    and not req.is_response():
                if m.mtype == C.CON:
                    self.chan.send(C.Message(C.ACK, C.EMPTY, m.mid))
                return m, True
            if m.mtype == C.CON:
                self.chan.send(C.Message(C.RST, C.EMPTY, m.mid))   # unknown: reject

    # -- server-initiated requests --------------------------------------------------------------
    def _serve_one(self, m):
        for mid, resp in self.seen:
            if mid == m.mid:
                if resp is not None:
                    self.chan.send(resp)   # duplicate: same answer again, not re-executed
                return
        resp = None
        if self.handler:
            resp = self.handler(m)
            if log.trace:
                log.trace("request")      # (the wake's heap checkpoint)
        if resp is None and m.mtype == C.CON:
            resp = C.Message(C.ACK, C.EMPTY)
        if resp is not None:
            resp.mid = m.mid
            if m.mtype == C.CON:
                resp.mtype = C.ACK
                resp.token = m.token if resp.code else b""
            else:
                resp.mtype = C.NON
                resp.mid = self.next_mid()
                resp.token = m.token
            self.chan.send(resp)
        self.seen.append((m.mid, resp))
        if len(self.seen) > _DEDUP:
            self.seen.pop(0)

    def serve(self, idle_ms, max_ms):
        """Answer server requests until none arrived for idle_ms (or max_ms in all)."""
        b = self.board
        t_start = b.ticks_ms()
        n = 0
        while True:
            left_total = max_ms - b.ticks_diff(b.ticks_ms(), t_start)
            if left_total <= 0:
                return n
            m = self.chan.recv(min(idle_ms, left_total))
            if m is None:
                return n
            if m.is_request():
                self._serve_one(m)
                n += 1
            elif m.mtype == C.CON:
                self.chan.send(C.Message(C.RST, C.EMPTY, m.mid))
