"""Fuzz targets with device state: the DM dispatch (sequences of requests, then a next wake that
must work), the config loader and the persisted-state loaders (RTC memory and flash as the wake
cycle loads them). Registered with engine.target like the parsers in targets.py."""
import json

from engine import target
from fakes import Board, Net, split, join
from errors import LwError, ConfigError
from coap import codec as C

CFG = {"server": {"uri": "coap://127.0.0.1:5683", "lifetime": 86400, "short_id": 1},
       "security": {"mode": "nosec"}}


class Never(Exception):
    pass


class Dev:
    def __init__(self, board, store):
        self.board = board
        self.store = store
        self.endpoint = "urn:dev:fuzz"
        self.update_now = False

    def read_temperature(self):
        return 21.5

    def t_min(self):
        return 20.0

    def t_max(self):
        return 23.0

    def now(self):
        return int(self.board.now())

    def mem_free_kib(self):
        return 39

    def reset_minmax(self, arg=b""):
        pass

    def request_reboot(self, arg=b""):
        pass

    def trigger_update(self, arg=b""):
        self.update_now = True

    def dm_changed(self, oid, iid, rid):
        pass


_LOG = []


def _capture():
    import log
    if getattr(log, "_fuzz", None) is None:
        log._fuzz = log.log

        def cap(msg, level="I"):
            _LOG.append((level, msg))
        log.log = cap
    del _LOG[:]


def _wake(board):
    from state import Store
    from lwm2m.objects import Registry
    from lwm2m import std
    from lwm2m.dm import DM
    st = Store(board)
    st.load()
    dev = Dev(board, st)
    reg = std.build(Registry(), board, CFG, dev)
    return st, reg, DM(reg, st, dev.dm_changed, dev.now)


_OK_CODES = (65, 66, 68, 69, 128, 129, 132, 133, 134, 143, 163)
_DECODE_ERRORS = ("DecodeError",)    # lwm2m/fmt.py: the decoding steps only (a bug is 5.00)


def _req(code, path, payload=b"", cf=None, accept=None, query=(), observe=None):
    m = C.Message(C.CON, code, 1, b"\x01", payload)
    m.set_path(path)
    for q in query:
        m.add(C.URI_QUERY, q)
    if observe is not None:
        m.add(C.OBSERVE, observe)
    if cf is not None:
        m.add(C.CONTENT_FORMAT, cf)
    if accept is not None:
        m.add(C.ACCEPT, accept)
    return m


def _good_wake(board):
    """What a good server does at the next wake: every request must succeed."""
    st, reg, dm = _wake(board)
    bad = [x for x in _LOG if x[0] == "E"]
    assert not bad, "state did not load cleanly: %r" % (bad[:2],)
    todo = [(_req(1, "/3/0", accept=11542), 69), (_req(1, "/1/0", accept=112), 69),
            (_req(1, "/3303", accept=40), 69), (_req(3, "/1/0/1", b"3600", cf=0), 68),
            (_req(1, "/3303", accept=110), 69)]
    if 0 in reg.get(3303).inst:      # unless the server deleted it
        todo += [(_req(1, "/3303/0/5700"), 69), (_req(1, "/3303/0", accept=40), 69),
                 (_req(1, "/3303/0/5700", observe=0), 69),
                 (_req(3, "/3303/0/5700", query=["pmax=60"]), 68)]
    for m, want in todo:
        r = dm.handle(m)
        assert r.code == want, "good request %s answered %d.%02d" % (m.path(), r.code >> 5, r.code & 31)
    reg.links()
    from lwm2m.register import Registration
    lt = Registration(st, board, CFG["server"], reg, "ep").lifetime
    assert isinstance(lt, int) and 1 <= lt <= 0xFFFFFFFF, "lifetime %r" % (lt,)
    for k in ("dmw", "att"):
        v = board.flash.get(k)
        if v:
            json.loads(v)


_PATHS = ("/1/0/1", "/1/0", "/1/0/2", "/1/0/3", "/1/0/7", "/1/0/8", "/3303", "/3303/0/5700",
          "/3303/1", "/3303/0", "/3303/0/5750", "/3303/1/5750", "/3/0", "/3/0/13", "/3/0/11",
          "/3/0/11/0", "/3/0/4", "/0/0", "/3", "/1", "/4/0/1", "/3303/0/5605", "/65535/0", "/x",
          "/1/0/1/0", "/3303/65535")
_CFS = (0, 42, 40, 110, 112, 11542, 11544, 60, None)


def _payload(rnd, cf, path):
    import targets as T
    ids = [int(x) for x in path[1:].split("/") if x.isdigit()]
    if cf == 0:
        return rnd.pick((b"1e999", b"-inf", b"nan", b"0", b"-1", b"4294967296", b"3600", b"1e300",
                         b"1.5", b"1", b"\xb6", b"K", b"99999999999999999999999", b"1:2"))
    if cf == 42:
        return rnd.bytes(rnd.below(8))
    if cf in (110, 112):
        recs = T._senml_recs(rnd)
        if rnd.chance(2) and len(ids) >= 1:
            for r in recs:
                r.pop("bn", None)
                r["n"] = rnd.pick(("/%s/%d" % ("/".join([str(x) for x in ids[:2]]) or "1/0",
                                                rnd.pick((1, 2, 3, 5700, 5750, 5701, 13))),
                                   path + "/" + str(rnd.pick((1, 5750, 5700)))))
        if cf == 110:
            s = json.dumps(recs).replace("Infinity", "1e999").replace("NaN", "nan")
            return s.encode()
        return T._cbor_enc(rnd, [{T._SCBOR_KEYS[k]: v for k, v in r.items()} for r in recs])
    if cf == 11542:
        return T.Tlv.gen(rnd)[1:]
    if cf == 11544:
        base = {}
        d = base
        for x in ids[:-1] or [1]:
            d[x] = {}
            d = d[x]
        d[rnd.pick((1, 5750, 5700, 2, 3, 0))] = T._cbor_item(rnd, 2)
        return T._cbor_enc(rnd, base)
    return rnd.bytes(rnd.below(12))


def _one_request(rnd):
    code = rnd.pick((1, 1, 2, 2, 3, 3, 4, 5, 7))      # 5 FETCH, 7 iPATCH: composite
    path = rnd.pick(_PATHS)
    cf = rnd.pick(_CFS)
    if code in (5, 7):
        path = rnd.pick(("/", "/", "/3303", "/1/0"))
        cf = rnd.pick((110, 112, 110, 112, 11544, 60))
    q = ()
    payload = b""
    obs = None
    acc = None
    if code == 3 and rnd.chance(3):
        q = [rnd.pick(("pmin=", "pmax=", "gt=", "lt=", "st=", "epmin=", "x=")) +
             rnd.pick(("inf", "nan", "-1", "60", "1e999", "", "99999999999", "1.5", "\xb6", "-inf"))
             for _ in range(1 + rnd.below(3))]
        cf = None
    elif code in (2, 3, 5, 7):
        payload = _payload(rnd, cf, path if path != "/" else "/3303/0")
        if code == 2 and path.endswith("5605"):
            payload = rnd.pick((b"0='a b',1", b"0='a", b"", b"1,2", b"\xb6"))
    if code == 1:
        acc = rnd.pick(_CFS)
        if rnd.chance(3):
            obs = rnd.pick((0, 1, 2))
    m = _req(code, path, payload, cf, acc, q, obs)
    if rnd.chance(6):
        m.add(rnd.pick((11, 12, 17, 15, 6)), rnd.bytes(rnd.below(5)))
    return C.encode(m)


@target("dm", ok=(Never,))
class DmTarget:
    """The property test of issue #11: sequences of requests (valid and hostile) over up to 8
    wakes (the registry rebuilt from flash each time), then a wake of a good server: no
    exception, no 5.00, a 4.00 only from a decode error, flash always readable, and every
    request of the good server succeeds."""

    @staticmethod
    def run(d):
        _capture()
        board = Board()
        for wake in split(d, 8):
            st, reg, dm = _wake(board)
            for dg in split(wake, 6):
                try:
                    m = C.decode(dg)
                except ValueError:
                    continue
                if not m.is_request():
                    continue
                del _LOG[:]
                r = dm.handle(m)
                assert r.code in _OK_CODES, "answered %d.%02d: %r" % (r.code >> 5, r.code & 31, _LOG)
                for lv, msg in _LOG:
                    if msg.startswith("dm: request rejected"):
                        t = msg.split(": ")[2] if msg.count(": ") >= 2 else msg
                        assert t in _DECODE_ERRORS, msg
            st.commit()
            board.t += 3600
        del _LOG[:]
        _good_wake(board)

    @staticmethod
    def gen(rnd):
        wakes = []
        for _ in range(1 + rnd.below(rnd.pick((2, 8)))):
            wakes.append(join([_one_request(rnd) for _ in range(1 + rnd.below(4))]))
        return join(wakes)

    @staticmethod
    def seeds():
        return [join([join([bytes.fromhex(
            "4102000101b4333330331170ff81a321682f333330332f312f00643537303002f97c00")])]),
            join([join([bytes.fromhex("4102000101b13101301170ff81a221652f312f302f00613102f97c00")])])]


# -- config --------------------------------------------------------------------------------------
@target("config", ok=(ConfigError,))
class ConfigTarget:
    """A board config (JSON text; "_secrets" inside it: the secrets file): rejected with a
    ConfigError that names the key, or accepted and then usable by every layer that reads it."""

    @staticmethod
    def run(d):
        import cfgcheck
        import config
        try:
            raw = json.loads(d)
        except (ValueError, UnicodeError):
            raise ConfigError("not JSON")
        sec = raw.pop("_secrets", None) if isinstance(raw, dict) else None
        cfg = cfgcheck.merged(raw, "config", config.DEFAULTS, config._merge, config.mode)
        mode = cfg["security"]["mode"]
        secrets = cfgcheck.check_secrets(sec, mode) if mode != "nosec" else {}
        from state import Store
        from wake import cycle
        from wake.planner import Planner
        from coap.exchange import Exchange
        from lwm2m import send, std
        from lwm2m.objects import Registry
        from lwm2m.register import Registration
        b = Board()
        st = Store(b)
        for r in ("no-answer", "auth-failed", "network-down"):
            for f in (1, 3, 30):
                s = __import__("wake.rescue", None, None, (1,))._backoff(cfg["schedule"], r, f)
                assert s == s and s - s == 0 and s >= 1, "backoff %r" % (s,)
        net = Net(b, [])
        ch = cycle.make_channel(mode, net, st, b, cfg, secrets)
        p = Planner(st, cfg)
        p.chain(ch, 3600)
        Exchange(ch, st, b, cfg["coap"])
        dev = Dev(b, st)
        reg = std.build(Registry(), b, cfg, dev)
        Registration(st, b, cfg["server"], reg, "ep").register
        send.paths(cfg)
        send.due(st, cfg)

    @staticmethod
    def gen(rnd):
        import targets as T
        d = {}
        for sec, keys in (("server", ("uri", "lifetime", "queue_mode", "short_id", "binding")),
                          ("security", ("mode", "cid", "kid_context_cbor_wrap")),
                          ("coap", ("ack_timeout_ms", "ack_random_factor", "max_retransmit",
                                    "token_len", "probe_retransmit")),
                          ("schedule", ("sleep_s", "listen_ms", "listen_max_ms", "report",
                                        "error_backoff_s", "max_backoff_s", "sample_s")),
                          ("report", ("paths", "batch", "gt", "lt", "durable", "notify")),
                          ("radio", ("wake_uJ", "rtt_ms", "nat_timeout_prior_s"))):
            if rnd.chance(3):
                d[sec] = rnd.pick((5, False, None, "x", [], 1.5))
                continue
            s = d[sec] = {}
            for k in keys:
                if rnd.chance(3):
                    s[k] = rnd.pick((0, -1, 1, 60, 1.5, 1e300, "1500ms", "", None, True, [], {},
                                     "coap://127.0.0.1:5683", "coaps://h:5684", "coap://h:99999",
                                     "psk", "oscore", "nosec", "send", "email", "con", "rfc9146",
                                     ["/3303/0/5700"], ["/3303/0"], [1, 2], [120, 30], 65536,
                                     "coap://[::1]", "coap://:1", 4294967296))
        if rnd.chance(2):
            d["_secrets"] = rnd.pick(({"psk_identity": "id", "psk_key": "00112233"},
                                      {"psk_identity": "", "psk_key": "0"},
                                      {"psk_identity": 5, "psk_key": "zz"}, [],
                                      {"oscore": {"master_secret": "01", "sender_id": "01",
                                                  "recipient_id": "00"}},
                                      {"oscore": {"master_secret": "", "sender_id": "0102030405060708",
                                                  "recipient_id": 1}}, {"oscore": 5}))
        if rnd.chance(8):
            d = rnd.pick(([], 5, None, "x"))
        s = json.dumps(d).replace("Infinity", "1e999")
        return s.encode()

    @staticmethod
    def seeds():
        return [b'{"schedule": {"listen_ms": "1500ms"}}', b'{"server": {"uri": null}}',
                b'{"security": {"mode": "psk"}, "server": {"uri": "coaps://127.0.0.1:5684"},'
                b' "_secrets": {"psk_identity": "id", "psk_key": "0011"}}',
                b'{"security": {"mode": "oscore"}, "_secrets": {"oscore": {"master_secret": "01",'
                b' "sender_id": "01", "recipient_id": "00"}}}']


# -- persisted state ---------------------------------------------------------------------------
_FLASH = ("dmw", "att", "dtls_s", "dtls_c", "osc", "seq_dw", "seq_osc", "smp", "ep", "crash")
_SECTIONS = ("reg", "coap", "plan", "sec", "obs", "obd", "temp", "smp", "qdw", "qosc", "osq", "hs")
_MODES = ("nosec", "psk", "oscore")
_SECRETS = {"psk_identity": "id", "psk_key": "000102030405060708090a0b0c0d0e0f",
            "oscore": {"master_secret": "0102030405060708090a0b0c0d0e0f10",
                       "master_salt": "9e7ca92223786340", "sender_id": "01", "recipient_id": "00"}}


@target("state", ok=(Never,))
class StateTarget:
    """RTC memory and flash as found after a reset (damaged, truncated, from older firmware):
    the wake cycle's loaders must drop what does not validate and go on (never an exception)."""

    @staticmethod
    def run(d):
        _capture()
        from state import Store
        from wake import cycle
        from wake.planner import Planner
        from coap.exchange import Exchange
        from lwm2m.objects import Registry
        from lwm2m import std, observe, send
        from lwm2m.register import Registration
        parts = split(d[1:], 1 + len(_FLASH))
        mode = _MODES[d[0] % 3] if d else "nosec"
        board = Board()
        board.rtc = parts[0][1:] if parts else b""
        for i, k in enumerate(_FLASH):
            if i + 1 < len(parts) and parts[i + 1]:
                board.flash[k] = parts[i + 1]
        import cfgcheck
        import config
        cfg = cfgcheck.merged({"server": {"uri": "coaps://127.0.0.1:5684" if mode == "psk" else
                                        "coap://127.0.0.1:5683"},
                             "security": {"mode": mode}, "schedule": {"sample_s": 60},
                             "report": {"paths": ["/3303/0/5700"], "batch": 2}},
                            "config", config.DEFAULTS, config._merge, config.mode)
        st = Store(board)
        st.load()
        # as wake/cycle.py _wake loads them (only the registration is retried there)
        cr = st.flash_get("crash")
        if cr:
            from wake import rescue
            rescue.load(st, cr[0], {"cause": ""})
        dev = cycle.DeviceCtx(board, "ep", st)
        reg = std.build(Registry(), board, cfg, dev)
        try:
            rg = Registration(st, board, cfg["server"], reg, "ep")
        except Exception as e:
            from wake import rescue
            rescue.drop(st, "reg", e)
            rg = Registration(st, board, cfg["server"], reg, "ep")
        pl = Planner(st, cfg)
        ch = cycle.make_channel(mode, Net(board, []), st, board, cfg, _SECRETS)
        ex = Exchange(ch, st, board, cfg["coap"])
        now = board.now()
        rg.is_registered(now)
        rg.renew_due(now)
        pl.chain(ch, 3600)
        ch.paths()
        observe.load(st)
        observe.next_due(st)
        observe.attrs(st)
        send.count(st, cfg)
        send.due(st, cfg)
        ex.next_mid()
        i = reg.get(3303).inst.get(0) or {}    # (the server may have deleted /3303/0)
        if callable(i.get(5700)):
            i[5700]()                          # the sensor read moves /3303/0's min/max
        pl.save()
        ch.settle()                           # the channel persists its section 'sec'
        st.commit()

    @staticmethod
    def gen(rnd):
        import targets as T
        from state import Store
        import struct
        b = Board()
        st = Store(b)
        for name in _SECTIONS:
            if rnd.chance(2):
                continue
            k = rnd.below(5)
            if name == "reg" and k < 2:
                v = struct.pack(">IIHB", rnd.below(1 << 31), rnd.pick((0, 60, 86400, 0xFFFFFFFF)),
                                rnd.below(65536), rnd.below(256)) + rnd.pick((b"rd/abc", b"\xb6", b""))
            elif name == "temp" and k < 2:
                v = rnd.pick((b"[1e999, 2]", b"[null, null]", b"[1]", b"{}", b"[\"a\", 2]", b"x"))
            elif name == "obs" and k < 2:
                v = struct.pack(">I", rnd.below(100)) + bytes((1, 1, 3)) + \
                    struct.pack(">HHH", 3303, 0, 5700) + rnd.bytes(rnd.pick((16, 15, 3)))
            elif name == "sec" and k < 2:
                v = bytes((rnd.pick((1, 2, 3)), rnd.below(4), rnd.below(256), rnd.below(256))) + \
                    bytes((1, 0xC0, 0xA8, rnd.pick((4, 32, 200)))) + rnd.bytes(rnd.below(120))
            else:
                v = rnd.bytes(rnd.pick((0, 1, 4, 5, 8, 11, 16, rnd.below(60))))
            st.put(name, v)
        rtc = st.encode()
        if rnd.chance(5):
            rtc = rtc[:rnd.below(len(rtc) + 1)]
        fl = []
        for k in _FLASH:
            if rnd.chance(2):
                fl.append(b"")
                continue
            if k == "dmw":
                dd = {}
                for _ in range(rnd.below(3)):
                    dd[rnd.pick(("1/0", "3303/1", "3303/0", "3/0", "x", "1/5", "3303/70000"))] = \
                        rnd.pick((None, {"+": 1}, {"1": rnd.pick((0, -1, 1e300, "a", 3600, [1]))},
                                  {"5750": rnd.pick(("K", 5, None))}, {"11": {"0": "x"}}, 5))
                v = json.dumps(dd).encode().replace(b"1e+300", b"inf")
            elif k == "att":
                v = rnd.pick((b'{"3303/0/5700": {"gt": inf}}', b'{"3303/0/5700": {"pmax": 60}}',
                              b'{"a": 5}', b"[]", b'{"3303/0/5700": {"gt": "x"}}'))
            elif k == "dtls_s":
                v = bytes((1, 0xC0, 0xA8, rnd.pick((4, 0, 32, 33)))) + rnd.bytes(rnd.pick((4, 52, 20, 0)))
                v = v + bytes(48) if rnd.chance(2) else v
            elif k == "crash":
                v = bytes((rnd.below(4),))
            elif k in ("seq_dw", "seq_osc"):
                v = rnd.pick((b"\xff" * 8, bytes(8), bytes(7), b"\x00\x00\xff\xff\xff\xff\xff\xff"))
            else:
                v = rnd.bytes(rnd.pick((1, 8, 45, 60, rnd.below(80))))
            fl.append(v)
        return bytes((rnd.below(3),)) + join([b"\x00" + rtc] + fl)

    @staticmethod
    def seeds():
        return [b"\x00" + join([b"\x00", b"", b"", bytes((1, 0xC0, 0xA8, 4)) + b"SID!" + bytes(20)]),
                b"\x01" + join([b"\x00", b"", b"", bytes((1, 0xC0, 0xA8, 4)) + b"SID!" + bytes(20)])]
