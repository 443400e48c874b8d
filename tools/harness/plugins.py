"""The harness server's security plugins: how a datagram becomes an authentic CoAP message.

A plugin claims datagrams (claims(data)), turns them into CoAP messages handed to
server.deliver(peer, msg), and sends the server's messages back (send_message(peer, msg)); a
peer has `plugin`, `addr`, `mode` and `identity` (the PSK identity, the OSCORE kid, or
"host:port" for NoSec). Plain CoAP is here (NoSecPlugin); DTLS 1.2 PSK and OSCORE are in
harness/dtls_server.py and harness/oscore_server.py, loaded only when a scenario asks for them.
make() builds the list the server tries in order: DTLS (by its first byte), OSCORE (by its
option), then plain CoAP.
"""
from harness import coap as C      # the harness's own CoAP codec, not the firmware's


class NoSecPeer:
    mode = "nosec"

    def __init__(self, plugin, addr):
        self.plugin = plugin
        self.addr = addr
        self.identity = "%s:%d" % addr


class NoSecPlugin:
    """Plain CoAP. Claims CoAP datagrams without an OSCORE option."""
    name = "nosec"

    def __init__(self, server, **_cfg):
        self.server = server

    def claims(self, data):
        return len(data) >= 4 and data[0] >> 6 == 1

    def datagram_received(self, data, addr):
        try:
            m = C.decode(data)
        except C.CoapError as e:
            self.server.log("drop", why="malformed CoAP: %s" % e, src=addr)
            if e.mtype == C.CON and e.mid is not None:
                self.server.sendto(C.encode(C.Message(C.RST, C.EMPTY, e.mid)), addr)
            return
        if m.get(C.OSCORE) is not None:
            # OSCORE-protected but no OSCORE plugin: 4.02 Bad Option (RFC 8613 8.2)
            self.server.log("drop", why="OSCORE message, no OSCORE plugin", src=addr)
            if m.mtype == C.CON:
                r = C.Message(C.ACK, C.BAD_OPTION, m.mid, m.token)
                self.server.sendto(C.encode(r), addr)
            return
        self.server.deliver(NoSecPeer(self, addr), m)

    def send_message(self, peer, msg):
        self.server.sendto(C.encode(msg), peer.addr)


# most specific first: DTLS by first byte, OSCORE by option, then plain CoAP
ORDER = {"dtls": 0, "oscore": 1, "nosec": 2}


def make(server, names, plugin_cfg):
    """The plugins `names` for `server`, each with its configuration, in the order they claim."""
    plugins = []
    for name in names:
        cfg = plugin_cfg.get(name, {})
        if name == "nosec":
            plugins.append(NoSecPlugin(server, **cfg))
        elif name == "dtls":
            from harness.dtls_server import DtlsPlugin
            plugins.append(DtlsPlugin(server, **cfg))
        elif name == "oscore":
            from harness.oscore_server import OscorePlugin
            plugins.append(OscorePlugin(server, **cfg))
        else:
            raise ValueError("unknown plugin " + name)
    plugins.sort(key=lambda p: ORDER.get(p.name, 9))
    return plugins
