"""Issue #11, the reproducers that do not need the DM (see test_hostile.py): config and secrets
errors that name the key, a truncated DTLS session in flash, the WAKE line as JSON. Under CPython
and the micropython binary."""
import json


class Board:
    name = "test"

    def __init__(self):
        self.rtc = {}
        self.flash = {}

    def urandom(self, n):
        return bytes(n)


class Store:
    def __init__(self, board):
        self.board = board
        self.sections = {}

    def get(self, name):
        return self.sections.get(name)

    def put(self, name, data):
        if data is None:
            self.sections.pop(name, None)
        else:
            self.sections[name] = bytes(data)

    def drop(self, name):
        self.sections.pop(name, None)

    def commit(self):
        pass

    def flash_get(self, key):
        return self.board.flash.get(key)

    def flash_put(self, key, data):
        self.board.flash[key] = bytes(data)


def _merged(raw, path="config"):
    # cfgcheck takes config.py's defaults, merge and mode from its caller (no import loop)
    import cfgcheck
    import config
    return cfgcheck.merged(raw, path, config.DEFAULTS, config._merge, config.mode)


def test_f5_config_errors_name_the_key():
    import cfgcheck
    from errors import ConfigError
    cases = (({"security": 5}, "security:"), ({"server": False}, "server:"),
             ({"server": {"uri": None}}, "server.uri:"), ({"schedule": 1.5}, "schedule:"),
             ({"coap": {"ack_timeout_ms": "x"}}, "coap.ack_timeout_ms:"), ({"radio": "x"}, "radio:"),
             ({"schedule": {"listen_ms": "1500ms"}},
              "schedule.listen_ms: an integer of milliseconds"),
             ({"schedule": {"report": "email"}}, "schedule.report:"),
             ({"coap": {"max_retransmit": -1}}, "coap.max_retransmit:"),
             ({"server": {"lifetime": 1e300}}, "server.lifetime:"),
             ({"schedule": {"sleep_s": float("inf")}}, "schedule.sleep_s:"),
             ([1], "top level"))
    for raw, want in cases:
        try:
            _merged(raw)
            assert False, raw
        except ConfigError as e:
            assert want in str(e), (raw, str(e))
    assert "'1500ms'" in _err(lambda: _merged({"schedule": {"listen_ms": "1500ms"}}))
    c = _merged({})
    assert c["_port"] == 5683
    for sec in ({"psk_identity": "", "psk_key": "00"}, {"psk_identity": "a", "psk_key": "zz"},
                {"psk_identity": "a"}, [], {"psk_identity": 5, "psk_key": "00"}):
        e = _err(lambda: cfgcheck.check_secrets(sec, "psk"))
        assert "secrets" in e and "zz" not in e, e
    cfgcheck.check_secrets({"psk_identity": "a", "psk_key": "0011"}, "psk")


def _err(f):
    from errors import ConfigError
    try:
        f()
    except ConfigError as e:
        return str(e)
    return ""


def test_f6_truncated_dtls_session_in_flash():
    from sec.dtls_channel import DtlsChannel
    good = bytes((1, 0xC0, 0xA8, 4)) + b"SID!" + bytes(48)
    for bad in (good[:-1], good[:3], good[:10], bytes((1, 0xC0, 0xA8, 200)) + bytes(300), b"\xff" * 60):
        b = Board()
        b.flash["dtls_s"] = bad
        b.flash["dtls_c"] = b"\x01\x00"
        st = Store(b)
        ch = DtlsChannel(None, st, b, {"cid": None}, {"psk_identity": "id", "psk_key": "00" * 16})
        assert ch.restore(None) is False
        assert ch.client.session is None and ch.client.conn is None
        assert "resume" not in ch.paths() and "full-handshake" in ch.paths()
    b = Board()
    b.flash["dtls_s"] = good
    ch = DtlsChannel(None, Store(b), b, {"cid": None}, {"psk_identity": "id", "psk_key": "00" * 16})
    assert ch.restore(None) is True and ch.client.session == good


def test_wake_line_is_json_with_exceptions_and_inf():
    import log
    from errors import NoAnswer
    f = {"drop_reason": NoAnswer("x"), "v": float("inf"), "tried": [("cid", "no-answer")], "n": 3}
    log.wake_line(f)                     # prints the line; the fields are made plain in place
    assert json.loads(json.dumps(f)) == {"drop_reason": "x", "v": "inf",
                                         "tried": [["cid", "no-answer"]], "n": 3}


def test_rescue_after_crashed_wakes_keeps_nonce_bounds():
    from wake import rescue
    b = Board()
    st = Store(b)
    for k in ("reg", "sec", "obs", "qdw", "qosc"):
        st.put(k, b"x")
    for k in ("dmw", "att", "smp", "dtls_s", "seq_dw", "ep"):
        b.flash[k] = b"y"
    rescue.save(st)
    rescue.save(st)
    assert b.flash["crash"] == b"\x02"            # two crashed wakes in a row
    info = {"cause": "deepsleep"}
    rescue.load(st, 1, info)                      # after one: RTC sections but the nonce bounds
    assert sorted(st.sections) == ["qdw", "qosc"] and b.flash["dmw"] == b"y"
    assert "+state-dropped" in info["cause"]
    rescue.load(st, 2, info)                      # after two: the server's data in flash too
    assert [k for k in ("dmw", "att", "smp", "dtls_s") if b.flash[k]] == []
    assert b.flash["seq_dw"] == b"y" and b.flash["ep"] == b"y"
