"""A DTLS 1.2 PSK echo server on python-mbedtls (Mbed TLS 2.28): an independent peer for the
firmware DTLS client (host_tests/interop/test_dtls_mbedtls.py).

    .venv/bin/python tools/interop/mbedtls_server.py --port N --psk HEX --identity ID [--once]
        [--timeout S] [--idle S] [--hs-timeout S] [--rto S] [--prefix echo:] [--host 127.0.0.1]

TLS-PSK-WITH-AES-128-CCM-8 only, DTLS 1.2 only, HelloVerifyRequest cookies bound to the
client's IP (setcookieparam), no session cache (the binding has none: no resumption), no CID
(the bundled Mbed TLS is built without MBEDTLS_SSL_DTLS_CONNECTION_ID and the binding has no
CID setting). Every application record received is printed and answered with prefix + data.

It drives Mbed TLS through the binding's memory BIO (ServerContext.wrap_buffers) on its own UDP
socket instead of TLSWrappedSocket.accept(): one association per client address, so a stale
datagram (a late close_notify, a retransmission of a finished client) can never land in the
next client's handshake (the accept() pitfall: only a datagram whose first byte is 0x16 may open
an association), every wait is bounded, Mbed TLS's own retransmission timer is served, and
every datagram is seen and printed. The HelloVerifyRequest is answered by a throw-away context
(as the binding's accept() pattern does: the first do_handshake() raises HelloVerifyRequest).

Output, one line each, flushed (stdout; the PSK is never printed):
    READY <port>
    DGRAM up|down <size> <ip:port> <records>     records: type/epoch/length[:handshake types]
    CLIENTHELLO <ip:port> cookie=<n> sid=<n> suites=<hex,..> exts=<n,..>
    SERVERHELLO <ip:port> sid=<n> suite=<hex> exts=<n,..>
    HVR <ip:port> cookie=<n>
    HANDSHAKE <ip:port> cipher=<name> version=<version>
    RECV <ip:port> <json string>                 application data (also RECVHEX <hex>)
    SENT <ip:port> <json string>
    CLOSED <ip:port>                             close_notify
    IDLE <ip:port>                               forgotten after --idle s without a datagram
    FAIL <ip:port> <error>                       handshake failed (Mbed TLS error; alert sent)
    DROP <ip:port> <size> <why>                  no association and not a handshake record
    EXIT <reason>
Lifetime: --timeout seconds (default 30) in any case; --once: exit when the first association
that completed a handshake ends (close_notify, error or --idle: the firmware never sends
close_notify before it sleeps), or when a handshake fails (alert, or --hs-timeout).
--rto: Mbed TLS's first retransmission timeout (doubling up to 8 s).
"""
import argparse
import json
import select
import socket
import struct
import sys
import time

try:
    from mbedtls.exceptions import TLSError
    from mbedtls.tls import (DTLSConfiguration, DTLSVersion, HandshakeStep, HelloVerifyRequest, ServerContext,
                             WantReadError, WantWriteError)
except ImportError as e:     # the test skips on this
    print("EXIT no mbedtls: %s" % e, flush=True)
    sys.exit(2)

SUITE = "TLS-PSK-WITH-AES-128-CCM-8"
HS_NAMES = {0: "HR", 1: "CH", 2: "SH", 3: "HVR", 4: "NST", 11: "CRT", 12: "SKE", 13: "CR",
            14: "SHD", 15: "CV", 16: "CKE", 20: "FIN"}


def out(*a):
    print(*a, flush=True)


def records(dg):
    """[(type, epoch, seq, fragment)] of the DTLS records in one datagram (stops at garbage)."""
    recs = []
    off = 0
    while off + 13 <= len(dg):
        ct, ver, ep, s_hi, s_lo, n = struct.unpack_from(">BHHHIH", dg, off)
        if ct not in (20, 21, 22, 23, 25) or off + 13 + n > len(dg):
            break
        recs.append((ct, ep, (s_hi << 32) | s_lo, dg[off + 13:off + 13 + n]))
        off += 13 + n
    return recs


def hs_messages(frag):
    """[(msg_type, body)] of the whole (unfragmented) plaintext handshake messages in frag."""
    msgs = []
    off = 0
    while off + 12 <= len(frag):
        mt = frag[off]
        fl = int.from_bytes(frag[off + 9:off + 12], "big")
        msgs.append((mt, frag[off + 12:off + 12 + fl]))
        off += 12 + fl
    return msgs


def ext_types(b, p):
    """Extension code points of an extension block starting at b[p] (empty if there is none)."""
    t = []
    if p + 2 > len(b):
        return t
    end = min(len(b), p + 2 + int.from_bytes(b[p:p + 2], "big"))
    p += 2
    while p + 4 <= end:
        et, n = struct.unpack_from(">HH", b, p)
        t.append(et)
        p += 4 + n
    return t


def describe(dg, direction, addr):
    """DGRAM line, plus CLIENTHELLO / SERVERHELLO / HVR lines for plaintext hello messages."""
    a = "%s:%d" % addr
    parts = []
    extra = []
    recs = records(dg)
    for ct, ep, _seq, frag in recs:
        s = "%d/%d/%d" % (ct, ep, len(frag))
        if ct == 22 and ep == 0:
            ms = hs_messages(frag)
            s += ":" + "+".join(HS_NAMES.get(mt, str(mt)) for mt, _b in ms)
            for mt, b in ms:
                try:
                    if mt == 1:      # ClientHello
                        p = 34
                        sid = b[p]
                        p += 1 + sid
                        ck = b[p]
                        p += 1 + ck
                        ns = int.from_bytes(b[p:p + 2], "big")
                        suites = [b[p + 2 + i:p + 4 + i].hex() for i in range(0, ns, 2)]
                        p += 2 + ns
                        p += 1 + b[p]
                        extra.append("CLIENTHELLO %s cookie=%d sid=%d suites=%s exts=%s" % (
                            a, ck, sid, ",".join(suites), ",".join(map(str, ext_types(b, p)))))
                    elif mt == 2:    # ServerHello
                        sid = b[34]
                        p = 35 + sid
                        extra.append("SERVERHELLO %s sid=%d suite=%s exts=%s" % (
                            a, sid, b[p:p + 2].hex(), ",".join(map(str, ext_types(b, p + 3)))))
                    elif mt == 3:
                        extra.append("HVR %s cookie=%d" % (a, b[2]))
                except IndexError:
                    pass
        elif ct == 21 and ep == 0 and len(frag) == 2:
            s += ":alert%d.%d" % (frag[0], frag[1])
        parts.append(s)
    if sum(13 + len(r[3]) for r in recs) != len(dg):
        parts.append("garbage")
    out("DGRAM %s %d %s %s" % (direction, len(dg), a, " ".join(parts) or "-"))
    for e in extra:
        out(e)


class Assoc:
    """One client address: an Mbed TLS context in memory-BIO mode."""

    def __init__(self, ctx, addr):
        self.addr = addr
        self.buf = ctx.wrap_buffers()
        self.buf.setcookieparam(addr[0].encode())
        self.up = False          # handshake over
        self.t0 = self.last = time.monotonic()


class Server:
    def __init__(self, o):
        self.o = o
        self.prefix = o.prefix.encode()
        conf = DTLSConfiguration(
            validate_certificates=False,
            ciphers=[SUITE],
            lowest_supported_version=DTLSVersion.DTLSv1_2,
            highest_supported_version=DTLSVersion.DTLSv1_2,
            pre_shared_key_store={o.identity: bytes.fromhex(o.psk)},
            handshake_timeout_min=o.rto,
            handshake_timeout_max=max(o.rto, 8.0),
        )
        self.ctx = ServerContext(conf)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((o.host, o.port))
        self.port = self.sock.getsockname()[1]
        self.peers = {}
        self.done = None         # exit reason (--once)

    def flush(self, a):
        """Send what Mbed TLS wrote: the binding's BIO concatenates the records of a flight, so
        one flush is one datagram (DTLS allows several records per datagram)."""
        while True:
            try:
                d = a.buf.peek_outgoing(4096)
            except TLSError:
                return
            if not d:
                return
            describe(d, "down", a.addr)
            self.sock.sendto(d, a.addr)
            a.buf.consume_outgoing(len(d))

    def end(self, a, why):
        self.peers.pop(a.addr, None)
        if self.o.once and (a.up or why == "fail"):
            self.done = "once: %s" % why

    def step(self, a):
        """Run the handshake / read application data until Mbed TLS wants more input."""
        try:
            if not a.up:
                while a.buf._handshake_state is not HandshakeStep.HANDSHAKE_OVER:
                    try:
                        a.buf.do_handshake()     # one mbedtls_ssl_handshake_step()
                    except WantWriteError:
                        self.flush(a)
                a.up = True
                self.flush(a)
                out("HANDSHAKE %s:%d cipher=%s version=%s" % (a.addr + (a.buf.cipher(), a.buf.negotiated_tls_version())))
            while True:
                data = a.buf.read(2048)    # b'' when nothing is left; close_notify raises
                if not data:
                    self.flush(a)          # e.g. Mbed TLS resent its final flight
                    return
                try:
                    txt = data.decode()
                    out("RECV %s:%d %s" % (a.addr + (json.dumps(txt),)))
                except UnicodeDecodeError:
                    out("RECVHEX %s:%d %s" % (a.addr + (data.hex(),)))
                reply = self.prefix + data
                a.buf.write(reply)
                self.flush(a)
                out("SENT %s:%d %s" % (a.addr + (json.dumps(reply.decode(errors="replace")),)))
        except WantReadError:
            self.flush(a)          # e.g. a flight after a retransmission timer fired
        except HelloVerifyRequest:
            self.flush(a)          # the HVR; this context is spent, the next ClientHello gets a new one
            self.peers.pop(a.addr, None)
        except TLSError as e:
            self.flush(a)          # a fatal alert, if Mbed TLS wrote one
            if "0x7880" in str(e):   # MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY
                out("CLOSED %s:%d" % a.addr)
                self.end(a, "closed")
            else:
                out("FAIL %s:%d %s" % (a.addr + (e,)))
                self.end(a, "error" if a.up else "fail")

    def datagram(self, dg, addr):
        describe(dg, "up", addr)
        a = self.peers.get(addr)
        if a is None:
            if not dg or dg[0] != 22:   # only a handshake record may open an association
                out("DROP %s:%d %d stale" % (addr + (len(dg),)))
                return
            a = self.peers[addr] = Assoc(self.ctx, addr)
        a.last = time.monotonic()
        a.buf.receive_from_network(dg)
        self.step(a)

    def run(self):
        out("READY %d" % self.port)
        t_end = time.monotonic() + self.o.timeout
        while self.done is None:
            left = t_end - time.monotonic()
            if left <= 0:
                self.done = "timeout"
                break
            r, _w, _x = select.select([self.sock], [], [], min(left, 0.1))
            if r:
                dg, addr = self.sock.recvfrom(4096)
                self.datagram(dg, addr)
            now = time.monotonic()
            for a in list(self.peers.values()):
                if a.up:
                    if now - a.last > self.o.idle:
                        out("IDLE %s:%d" % a.addr)
                        self.end(a, "idle")
                elif now - a.t0 > self.o.hs_timeout:       # abandoned handshake
                    out("FAIL %s:%d handshake timeout" % a.addr)
                    self.end(a, "fail")
                else:
                    self.step(a)                           # Mbed TLS retransmits on its timer
        out("EXIT %s" % self.done)
        self.sock.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port (printed on READY)")
    p.add_argument("--psk", default="000102030405060708090a0b0c0d0e0f", help="key in hex")
    p.add_argument("--identity", default="Client_identity")
    p.add_argument("--once", action="store_true", help="exit after the first association ends")
    p.add_argument("--timeout", type=float, default=30.0, help="lifetime in seconds")
    p.add_argument("--idle", type=float, default=10.0, help="forget an association silent this long (s)")
    p.add_argument("--hs-timeout", type=float, default=20.0, help="give up a handshake after this (s)")
    p.add_argument("--rto", type=float, default=1.0, help="Mbed TLS initial retransmission timeout (s)")
    p.add_argument("--prefix", default="echo:", help="prepended to every echoed record")
    Server(p.parse_args(argv)).run()


if __name__ == "__main__":
    main()
