"""CoAP message layer and request/response matching over one security channel (RFC 7252 4-5).

What it does: message IDs and short tokens that do not repeat across deep sleep (persisted in
the store's 'coap' section), CON retransmission with randomized exponential back-off
(ACK_TIMEOUT, ACK_RANDOM_FACTOR, MAX_RETRANSMIT from the board config), piggy-backed and
separate responses, answering server-initiated requests while waiting (queue mode),
duplicate detection of incoming CON/NON (the cached response is resent), RST for what it cannot
match. What it does not do: protect messages (the channel does) or know LwM2M.

The wait loop is the only place the device listens: it returns as soon as nothing more can
arrive (response received, listen window idle).
"""
import struct

from micropython import const

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
        self.on_serve = None    # called after each handled request (heap checkpoints)
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

    # -- requests -------------------------------------------------------------------------------
    def request(self, msg, confirmable=True):
        """Send a request and return its response Message. Raises NoAnswer, Reset.

        RFC 9175 2.4: a 4.01 that carries an Echo option (an OSCORE server that lost its replay
        window, RFC 8613 App. B.1.2) is answered by repeating the request once, as a new
        exchange; the channel adds the Echo value to that repetition."""
        r = self._request(msg, confirmable)
        if r.code == C.UNAUTHORIZED and r.get(C.ECHO) is not None:
            if self.log:
                self.log("coap: 4.01 with Echo: repeating the request once")
            msg.token = b""
            r = self._request(msg, confirmable)
        return r

    def _request(self, msg, confirmable):
        msg.mtype = C.CON if confirmable else C.NON
        msg.mid = self.next_mid()
        if not msg.token:
            msg.token = self.next_token()
        timeout = self.ack_timeout
        # randomized initial timeout in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]
        r = self.board.urandom(1)[0] / 255.0
        timeout = int(timeout * (1.0 + (self.random_factor - 1.0) * r))
        tries = 0
        acked = False
        while True:
            if not acked:
                self.chan.send(msg)
            resp, acked = self._wait(msg, timeout, acked)
            if resp is not None:
                return resp
            if acked:
                raise NoAnswer("separate response never came (token %s)" % msg.token.hex())
            tries += 1
            if tries > self.max_retransmit or not confirmable:
                raise NoAnswer("no answer to %s after %d transmissions" % (C.code_str(msg.code), tries))
            self.retransmissions += 1
            if self.log:
                self.log("coap: retransmit mid=%d try %d" % (msg.mid, tries + 1))
            timeout *= 2

    def _wait(self, req, timeout_ms, acked):
        """Wait up to timeout_ms (or the separate-response time once ACKed)."""
        b = self.board
        t0 = b.ticks_ms()
        limit = self.separate_ms if acked else timeout_ms
        while True:
            left = limit - b.ticks_diff(b.ticks_ms(), t0)
            if left <= 0:
                return None, acked
            m = self.chan.recv(left)
            if m is None:
                return None, acked
            if m.mtype == C.ACK and m.mid == req.mid:
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
            if m.is_response() and m.token == req.token and m.mtype in (C.CON, C.NON):
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
            if self.on_serve:
                self.on_serve()
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
