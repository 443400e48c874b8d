"""Firmware OSCORE client driver for interop tests (runs under the micropython unix port).

    ARGS = [port, state_dir, op, ...]   (set as a global before this module runs, or argv)
    op: "GET:path" or "POST:path:payload"

Uses the firmware as the device does: sec.oscore_channel.OscoreChannel over a UDP socket to
127.0.0.1:port, with a static provisioned context (security {"rederive": false}: no B.2) from
a secrets dict, the SSN persisted in state_dir (RTC file + flash files, as board/unix does).
A 4.01 carrying Echo (App. B.1.2) is answered by repeating the request once (RFC 9175): the
channel adds the Echo option. Prints one line per op:
    RESULT <op> <code> echo=<0|1> ssn=<first SSN used> bytes=<up>/<down> payload=<hex>
and HEAP lines (gc.mem_alloc after imports, peak seen around exchanges).
"""
import gc
import os
import socket
import sys
import time

from coap import codec as C
from sec.oscore_channel import OscoreChannel
from state import Store

SECRETS = {"oscore": {"master_secret": "0102030405060708090a0b0c0d0e0f10",
                      "master_salt": "9e7ca92223786340", "sender_id": "", "recipient_id": "01"}}


class FileBoard:
    def __init__(self, d):
        self.d = d
        try:
            os.mkdir(d + "/flash")
        except OSError:
            pass

    def _read(self, p):
        try:
            with open(p, "rb") as f:
                return f.read()
        except OSError:
            return None

    def _write(self, p, b):
        with open(p + ".tmp", "wb") as f:
            f.write(b)
        os.rename(p + ".tmp", p)

    def rtc_read(self):
        return self._read(self.d + "/rtc") or b""

    def rtc_write(self, b):
        self._write(self.d + "/rtc", bytes(b))

    def flash_read(self, k):
        return self._read(self.d + "/flash/" + k)

    def flash_write(self, k, v):
        self._write(self.d + "/flash/" + k, bytes(v))

    def urandom(self, n):
        return os.urandom(n)

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)


class Udp:
    def __init__(self, port):
        self.addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
        self.up = self.down = 0

    def send(self, d):
        self.up += len(d)
        self.s.sendto(d, self.addr)

    def recv(self, timeout_ms):
        self.s.settimeout(max(timeout_ms, 1) / 1000)
        try:
            d = self.s.recv(1280)
        except OSError:
            return None
        self.down += len(d)
        return d


def run(args):
    port = int(args[0])
    board = FileBoard(args[1])
    store = Store(board)
    store.load()
    net = Udp(port)
    gc.collect()
    print("HEAP after-imports", gc.mem_alloc())
    ch = OscoreChannel(net, store, board, {"rederive": False, "seq_rtc_block": 4,
                                           "seq_flash_block": 16}, SECRETS)
    ch.restore(store.get("sec"))
    ch.connect(ch.paths()[0])
    gc.collect()
    print("HEAP after-connect", gc.mem_alloc())
    mid = board.urandom(1)[0] << 8
    peak = 0
    for op in args[2:]:
        parts = op.split(":")
        echo = 0
        ssn0 = ch.seq.next
        up0, down0 = net.up, net.down
        for attempt in range(2):
            mid += 1
            m = C.Message(C.CON, C.GET if parts[0] == "GET" else C.POST, mid, b"\x7a")
            m.set_path(parts[1])
            if len(parts) > 2:
                m.payload = parts[2].encode()
            r = None
            for _try in range(3):
                ch.send(m)
                r = ch.recv(1500)
                peak = max(peak, gc.mem_alloc())
                if r is not None and r.code != C.EMPTY:
                    break
            if r is None:
                print("RESULT", op, "timeout")
                break
            if r.code == C.UNAUTHORIZED and r.get(C.ECHO) is not None and attempt == 0:
                echo = 1
                continue
            break
        if r is not None:
            print("RESULT", op, C.code_str(r.code), "echo=%d" % echo, "ssn=%d" % ssn0,
                  "bytes=%d/%d" % (net.up - up0, net.down - down0),
                  "payload=" + bytes(r.payload).hex())
    ch.settle()
    store.put("sec", ch.save())
    store.commit()
    print("HEAP peak-during-exchanges", peak, "dropped", ch.dropped)


run(globals().get("ARGS") or sys.argv[1:])
