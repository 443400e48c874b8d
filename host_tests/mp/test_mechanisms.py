"""Several mechanisms for one server (security.modes, wake/mechanisms.py, issue 13): the config
checks name the key; the planner's chain over the paths of OSCORE and DTLS together; one channel
alive at a time, each mechanism with its own sections. Under CPython and the micropython binary."""
import sys

SECRETS = {"psk_identity": "Client_identity", "psk_key": "000102030405060708090a0b0c0d0e0f",
           "oscore": {"master_secret": "0102030405060708090a0b0c0d0e0f10",
                      "master_salt": "9e7ca92223786340", "sender_id": "01", "recipient_id": "00"}}
RADIO = {"tx_uJ_per_byte": 1.5, "rx_uJ_per_byte": 0.8, "datagram_uJ": 300, "rtt_ms": 30,
         "rx_mW": 300, "nat_timeout_prior_s": [60, 300]}
COAP = {"ack_timeout_ms": 300, "max_retransmit": 3}      # the harness scenarios' timers


def _err(f):
    from errors import ConfigError
    try:
        f()
    except ConfigError as e:
        return str(e)
    return ""


def _merged(raw, path="config"):
    # cfgcheck takes config.py's defaults, merge and mode from its caller (no import loop)
    import cfgcheck
    import config
    return cfgcheck.merged(raw, path, config.DEFAULTS, config._merge, config.mode)


def _run(raw, path, sec, spath):
    import cfgcheck
    import config
    return cfgcheck.run(raw, path, sec, spath, config.DEFAULTS, config._merge, config.mode)


def test_modes_config_checked_and_named():
    import cfgcheck
    ok = {"server": {"uri": "coap://10.0.0.1:5683"}, "security": {"modes": ["oscore", "psk"]}}
    c = _run(ok, "c", SECRETS, "s")
    assert c["security"]["mode"] == "oscore"          # the first of the modes, when not given
    c = _merged({"server": {"uri": "coaps://h:5684", "uris": {"oscore": "coap://h:5683"}},
                         "security": {"mode": "psk", "modes": ["oscore", "psk"]}})
    assert c["security"]["mode"] == "psk" and c["_port"] == 5684
    # DTLS in the nRF9160 modem with OSCORE (net/slm.py switches its sockets)
    c = _merged({"server": {"uri": "coap://h:5683"},
                 "security": {"modes": ["oscore", "psk"], "modem": True}})
    assert c["security"]["modem"] is True
    for raw, want in (
            ({"security": {"modes": "oscore,psk"}}, "security.modes: a list"),
            ({"security": {"modes": ["oscore", "oscore"]}}, "security.modes: a list"),
            ({"security": {"modes": ["oscore", "nosec"]}}, "security.modes: a list"),
            ({"security": {"modes": []}}, "security.modes: a list"),
            ({"server": {"uri": "coaps://h:5684"}, "security": {"modes": ["oscore"]}},
             "does not fit server.uri"),
            ({"server": {"uri": "coap://h:5683", "uris": {"psk": "coap://h:5683"}},
              "security": {"modes": ["oscore", "psk"]}}, "server.uris.psk:"),
            ({"server": {"uri": "coap://h:5683", "uris": ["coaps://h"]},
              "security": {"modes": ["oscore", "psk"]}}, "server.uris: an object"),
            ({"server": {"uri": "coap://h:5683", "bind_identities": 1},
              "security": {"modes": ["oscore", "psk"]}}, "server.bind_identities: true, false or \"auto\"")):
        e = _err(lambda: _merged(raw))
        assert want in e, (raw, e)
    # the secrets of each mechanism are checked, the message names the key, never the value
    e = _err(lambda: _run(ok, "c", {"oscore": SECRETS["oscore"]}, "s.json"))
    assert "psk_identity" in e, e
    bad = dict(SECRETS, psk_key="zz11")
    e = _err(lambda: _run(ok, "c", bad, "s.json"))
    assert "secrets psk_key" in e and "zz11" not in e, e
    e = _err(lambda: _run(ok, "c", {"psk_identity": "a", "psk_key": "00"}, "s.json"))
    assert "lacks 'oscore'" in e, e


class Board:
    name = "test"

    def __init__(self):
        self.rtc = b""
        self.flash = {}

    def urandom(self, n):
        return bytes(range(n))

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, b):
        self.rtc = bytes(b)

    def flash_read(self, k):
        return self.flash.get(k)

    def flash_write(self, k, v):
        self.flash[k] = bytes(v)


class Net:
    up = down = dg_up = dg_down = 0


def _ways(store, bind=False, force=None):
    from wake import mechanisms
    from wake.planner import Planner
    cfg = {"security": {"modes": ["oscore", "psk"], "mode": "oscore", "cid": "rfc9146"},
           "server": {"bind_identities": bind}, "radio": RADIO, "coap": dict(COAP),
           "planner": dict({"force": force} if force else {}, explore=5), "_host": "127.0.0.1", "_port": 5683}
    w = mechanisms.load(["oscore", "psk"], Net(), store, Board(), cfg, SECRETS)
    return w, Planner(store, cfg)


def _mods(prefix):
    return [n for n in sys.modules if n.startswith(prefix)]


def test_first_wake_chain_spans_both_mechanisms_one_channel_alive():
    from state import Store
    before = list(sys.modules)
    store = Store(Board())
    w, p = _ways(store)
    assert w.paths() == (["full-handshake"], ["oscore-b2"]) or \
        w.paths() == (["oscore-b2"], ["full-handshake"]), w.paths()
    # B.2 (about 160 B) before a DTLS full handshake (about 800 B): both in the chain
    assert p.chain(w, 1 << 30) == ["oscore-b2", "full-handshake"]
    # the survey left only the last mechanism's channel and its modules loaded
    assert w.c is not None and w.refused("oscore-b2") == ("oscore-b2",)
    gone = "sec.oscore_channel" if w.mode == "psk" else "sec.dtls_channel"
    assert gone in before or gone not in sys.modules, (w.mode, _mods("sec."))
    assert w.refused(None) == ()                    # no registration yet: nothing moves


def test_registration_mechanism_makes_the_other_register_unless_bound():
    from state import Store
    store = Store(Board())
    store.put("sm", b"oscore")
    w, p = _ways(store)
    assert w.refused(None) == ("full-handshake",)   # another identity: Register there
    w, p = _ways(store, bind=True)
    assert w.refused(None) == ()                    # the server binds both identities


def test_binding_learned_from_the_server_and_reprobed_rarely():
    # server.bind_identities "auto" (the default): unknown, an Update is tried on a switch
    from state import Store
    store = Store(Board())
    store.put("sm", b"oscore")
    w, p = _ways(store, bind="auto")
    assert w.refused(None) == ()                    # unknown: the Update tells
    w.mode = "psk"                                  # (the Update ran on DTLS)
    w.bound(False)                                  # answered 4.03
    assert store.get("sb") == bytes((2, 0))
    w, p = _ways(store, bind="auto")
    assert w.refused(None) == ("full-handshake",)   # learned: a switch Registers directly
    # each switch that Registered counts; every 6th (planner.explore 5 %) tries the Update again
    for n in range(1, 6):
        w.won = "psk"
        w.settle()                                  # end of wake: settle() writes sb and sm
        assert store.get("sb") == bytes((2, n)), (n, store.get("sb"))
        store.put("sm", b"oscore")                  # (back on OSCORE for the next switch)
        w, p = _ways(store, bind="auto")
        assert w.refused(None) == (("full-handshake",) if n < 5 else ()), (n, w.refused(None))
    w.mode = "psk"
    w.bound(True)                                   # the re-probe's Update answered 2.04
    assert store.get("sb") == bytes((1, 0))
    w, p = _ways(store, bind="auto")
    assert w.refused(None) == ()
    w.mode = "oscore"
    w.bound(False)                                  # an Update on the registration's own: no news
    assert store.get("sb") == bytes((1, 0))
    # damaged state: unknown (an Update tells); a configured true/false is not overridden
    for junk in (b"", b"\x02", b"\x07\x00", b"\x02\x00\x00"):
        store.put("sb", junk)
        w, p = _ways(store, bind="auto")
        assert w.refused(None) == (), junk
    store.put("sb", bytes((2, 0)))
    w, p = _ways(store, bind=True)
    assert w.refused(None) == ()
    w.mode = "psk"
    w.bound(True)
    assert store.get("sb") == bytes((2, 0))         # configured: nothing learned


def test_force_puts_its_mechanism_first():
    from state import Store
    store = Store(Board())
    w, p = _ways(store, force="cid")
    # no DTLS state yet: the forced path's mechanism first (its full handshake), OSCORE after
    assert p.chain(w, 1 << 30) == ["full-handshake", "oscore-b2"]
    w, p = _ways(store, force="oscore")
    assert p.chain(w, 1 << 30) == ["oscore-b2", "full-handshake"]


def test_sections_apart_and_nonce_counters_apart():
    from state import Store
    b = Board()
    store = Store(b)
    w, p = _ways(store)
    w._build("oscore")
    w.settle()                              # end of wake: the live channel writes its section
    assert store.get("osc") is not None and store.get("osc")[0] == 1        # OSCORE's own
    assert store.get("sec") is None or store.get("sec")[0] == 2             # DTLS's layout
    w._build("psk")
    assert w.c.kind == "dtls" and w.c.seq.name == "dw"
    w._build("oscore")
    assert w.c.kind == "oscore" and w.c.seq.name == "osc"


def test_a_damaged_registration_mechanism_is_ignored():
    from state import Store
    store = Store(Board())
    for junk in (b"\xff\xfe", b"", b"nosec", b"psk\x00"):
        store.put("sm", junk)
        w, p = _ways(store)
        assert w.refused(None) == (), junk      # unknown: no path is taken for another identity's


class Udp:
    """net/udp.py's shape: dst, counters, close(), __init__ again to re-aim."""

    def __init__(self, host, port, local_port=0):
        self.dst = (host, port)
        self.lp = local_port
        self.up = self.down = self.dg_up = self.dg_down = 0

    def close(self):
        self.dst = None


def test_server_uris_aims_the_socket_per_mechanism():
    from state import Store
    from wake import mechanisms
    store = Store(Board())
    b = Board()
    b.local_port = lambda: 4711
    cfg = {"security": {"modes": ["oscore", "psk"], "mode": "oscore"},
           "server": {"uris": {"psk": "coaps://10.1.2.3:5684"}}, "radio": RADIO, "coap": dict(COAP),
           "_host": "10.1.2.3", "_port": 5683}
    n = Udp("10.1.2.3", 5683)
    n.up = 99
    w = mechanisms.load(["oscore", "psk"], n, store, b, cfg, SECRETS)
    assert n.dst == ("10.1.2.3", 5683)          # the survey sends nothing: no new socket
    w._aim("psk")
    assert n.dst == ("10.1.2.3", 5684) and n.lp == 4711 and n.up == 99
    w._aim("oscore")                            # no entry of its own: server.uri
    assert n.dst == ("10.1.2.3", 5683)


def test_the_other_mechanism_is_planned_from_its_summary_not_built():
    from state import Store
    store = Store(Board())
    w, p = _ways(store)                     # first wake: both built in turn (no summaries)
    first = w.paths()
    assert store.get("wo") is not None      # the dropped one's summary
    w.settle()                              # end of wake: the summaries with it
    assert store.get("wp") is not None      # the live one's, at the end of the wake
    store.put("sm", b"oscore")
    built = []
    from wake import cycle
    mk = cycle.make_channel

    def spy(mode, *a):
        built.append(mode)
        return mk(mode, *a)
    cycle.make_channel = spy
    try:
        w, p = _ways(store)
        assert built == ["oscore"], built    # DTLS's paths and estimates from its summary
        assert sorted(map(tuple, w.paths())) == sorted(map(tuple, first)), (w.paths(), first)
        assert w.estimate("full-handshake") == tuple(w.est["full-handshake"])
        store.put("wp", b"\x01\x02")          # damaged: the channel is built again
        built[:] = []
        w, p = _ways(store)
        assert built == ["psk", "oscore"], built
    finally:
        cycle.make_channel = mk


def test_summary_keeps_the_modem_paths():
    # DTLS in the nRF9160 modem: its paths ('modem-cid', 'modem-full-handshake') survive the
    # summary the dropped channel leaves (a PATHS index + 128 each)
    from state import Store
    from wake import mechanisms

    class Modem:
        def paths(self):
            return ["modem-cid", "modem-full-handshake"]

        def estimate(self, p):
            return (47, 39, 2, 1) if p == "modem-cid" else (397, 339, 10, 4)
    store = Store(Board())
    w, p = _ways(store)
    w.mode = "psk"
    w._sum(Modem())
    got = mechanisms._unpack(store.get("wp"))
    assert got == [("modem-cid", (47, 39, 2, 1)), ("modem-full-handshake", (397, 339, 10, 4))], got
    assert mechanisms._unpack(b"\xff" + bytes(6)) is None      # no such path: damaged
