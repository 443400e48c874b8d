"""A minimal asyncio UDP host for a harness security plugin (tests and interop without the
LwM2M server): runs in a background thread on 127.0.0.1 with a port from bind(0), answers CoAP
GET with 2.05 'hello <path>' and anything else with 2.04, and records every datagram (size,
direction, address) so tests measure bytes from real datagrams.

    with PluginHost(DtlsPlugin, psk={...}) as h:  h.port, h.plugin, h.dgrams, h.delivered
"""
import asyncio
import threading
import time

from harness import _paths  # noqa: F401
from coap import codec as C


class _Clock:
    def now(self):
        return time.time()


class PluginHost(asyncio.DatagramProtocol):
    def __init__(self, plugin_cls, **cfg):
        self.plugin_cls = plugin_cls
        self.cfg = cfg
        self.clock = _Clock()
        self.dgrams = []       # (direction 'up'|'down', size, addr)
        self.delivered = []    # (peer identity, mode, addr, msg)
        self.events = []
        self.transport = None
        self.loop = None
        self.port = None
        self.plugin = None
        self.answer = True
        self._ready = threading.Event()

    # server interface for the plugin
    def sendto(self, data, addr):
        self.dgrams.append(("down", len(data), addr))
        self.transport.sendto(data, addr)

    def deliver(self, peer, m):
        self.delivered.append((peer.identity, peer.mode, peer.addr, m))
        if self.answer and m.is_request():
            if m.code == C.GET:
                r = C.Message(C.ACK if m.mtype == C.CON else C.NON, C.CONTENT, m.mid, m.token,
                              ("hello " + m.path()).encode())
            else:
                r = C.Message(C.ACK if m.mtype == C.CON else C.NON, C.CHANGED, m.mid, m.token)
            peer.plugin.send_message(peer, r)

    def log(self, kind, **f):
        self.events.append((kind, f))

    # asyncio protocol
    def datagram_received(self, data, addr):
        self.dgrams.append(("up", len(data), addr))
        if self.plugin.claims(data):
            try:
                self.plugin.datagram_received(data, addr)
            except Exception as e:   # like server.py: a bad datagram never stops the server
                self.log("error", why="%s: %s" % (type(e).__name__, e))

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def start():
            self.plugin = self.plugin_cls(self, **self.cfg)
            self.transport, _ = await self.loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
            self.port = self.transport.get_extra_info("sockname")[1]
            self._ready.set()
        self.loop.run_until_complete(start())
        self.loop.run_forever()
        self.transport.close()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    def call(self, fn, *a):
        """Run fn(*a) on the host's loop thread and return its result (e.g. plugin.restart)."""
        done = threading.Event()
        out = []
        self.loop.call_soon_threadsafe(lambda: (out.append(fn(*a)), done.set()))
        done.wait(5)
        return out[0] if out else None

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("plugin host did not start")
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def bytes_since(self, i):
        up = sum(n for d, n, _a in self.dgrams[i:] if d == "up")
        down = sum(n for d, n, _a in self.dgrams[i:] if d == "down")
        return up, down
