"""Board configuration and secrets: load, fill defaults, validate with clear errors.

The board config (boards/<board>.json) is what users tune; secrets (PSK, OSCORE master secret)
live in a separate file that is never in git and never printed. On the unix port the paths
come from LWM2M_CONFIG / LWM2M_SECRETS; on a device from /config.json and /secrets.json.
"""
import json
import os

from errors import ConfigError

DEFAULTS = {
    "endpoint": None,
    "server": {"uri": "coap://127.0.0.1:5683", "lifetime": 86400, "queue_mode": True,
               "short_id": 1, "binding": "U", "omit_ep": False},
    "security": {"mode": "nosec", "cid": "rfc9146"},
    "coap": {"ack_timeout_ms": 2000, "ack_random_factor": 1.5, "max_retransmit": 4,
             "token_len": 1, "separate_timeout_ms": 10000, "probe_retransmit": 2},
    "schedule": {"sleep_s": 3600, "listen_ms": 1500, "listen_max_ms": 10000,
                 "report": "send", "error_backoff_s": 300, "max_backoff_s": 86400},
    "radio": {"profile": "generic", "wake_uJ": 50000, "tx_uJ_per_byte": 2.0,
              "rx_uJ_per_byte": 1.0, "datagram_uJ": 500, "rtt_ms": 200, "rx_mW": 150,
              "nat_timeout_prior_s": [30, 120]},
}

MODES = ("nosec", "psk", "oscore")
_U32 = 0xFFFFFFFF

# What every key may hold: section -> {key: (kind, low, high)}; kind "i" integer, "n" number
# (finite), "b" boolean, "s" string (low..high characters), "c" one of the words in `low`,
# "l" a list (checked in _special), "d" an object. A key ending in _ms is in milliseconds, _s
# in seconds (the message says so). Keys not listed here are left alone (board extensions).
_SPEC = {
    "server": {"uri": ("s", 1, 255), "lifetime": ("i", 60, _U32), "queue_mode": ("b",),
               "short_id": ("i", 1, 65534), "binding": ("c", "U UQ N UN"), "omit_ep": ("b",),
               "pmin": ("i", 0, _U32), "pmax": ("i", 0, _U32)},
    "security": {"mode": ("c", "nosec psk oscore"), "kid_context_cbor_wrap": ("b",),
                 "rederive": ("b",), "seq_rtc_block": ("i", 1, 1 << 16),
                 "seq_flash_block": ("i", 1, 1 << 24), "b2_timeout_ms": ("i", 100, 600000),
                 "b2_tries": ("i", 1, 20), "ems": ("b",), "retransmit_ms": ("i", 100, 600000),
                 "max_tries": ("i", 1, 20), "pad": ("i", 0, 255), "flash_conn": ("b",),
                 "resume_fallback": ("c", "inline raise"), "cid_len_hint": ("i", 0, 255)},
    "coap": {"ack_timeout_ms": ("i", 100, 600000), "ack_random_factor": ("n", 1, 4),
             "max_retransmit": ("i", 0, 20), "token_len": ("i", 0, 8),
             "separate_timeout_ms": ("i", 0, 600000), "probe_retransmit": ("i", 0, 20)},
    "schedule": {"sleep_s": ("n", 1, 31536000), "listen_ms": ("i", 0, 600000),
                 "listen_max_ms": ("i", 0, 3600000), "report": ("c", "send none"),
                 "error_backoff_s": ("n", 1, 31536000), "max_backoff_s": ("n", 1, 31536000),
                 "sample_s": ("n", 0, 31536000)},
    "report": {"paths": ("l",), "batch": ("i", 1, 1000), "gt": ("n", -1e15, 1e15),
               "lt": ("n", -1e15, 1e15), "durable": ("b",), "notify": ("c", "con non")},
    "radio": {"profile": ("s", 0, 64), "wake_uJ": ("n", 0, 1e12), "tx_uJ_per_byte": ("n", 0, 1e9),
              "rx_uJ_per_byte": ("n", 0, 1e9), "datagram_uJ": ("n", 0, 1e12),
              "rtt_ms": ("n", 0, 600000), "rx_mW": ("n", 0, 1e6), "nat_timeout_prior_s": ("l",)},
    "board_opts": {"local_port": ("i", 0, 65535)},
    "": {"endpoint": ("s", 1, 128), "manufacturer": ("s", 0, 64), "model": ("s", 0, 64),
         "serial": ("s", 0, 64), "secrets": ("s", 1, 255), "board": ("s", 0, 64)},
}


def _what(key, kind, lo=None, hi=None):
    unit = " of milliseconds" if key.endswith("_ms") else " of seconds" if key.endswith("_s") else ""
    if kind == "i":
        return "an integer%s from %d to %d" % (unit, lo, hi) if unit == "" else \
            "an integer%s (%d to %d)" % (unit, lo, hi)
    if kind == "n":
        return "a number%s from %s to %s" % (unit, lo, hi)
    if kind == "b":
        return "true or false"
    if kind == "c":
        return "one of " + ", ".join(lo.split())
    if kind == "d":
        return "an object"
    return "a string of %d to %d characters" % (lo, hi)


def _ok(v, kind, lo=None, hi=None):
    if kind == "b":
        return isinstance(v, bool)
    if kind == "c":
        return isinstance(v, str) and v in lo.split()
    if kind == "s":
        return isinstance(v, str) and lo <= len(v) <= hi
    if kind == "d":
        return isinstance(v, dict)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if kind == "i" and not isinstance(v, int):
        return False
    return v == v and v - v == 0 and lo <= v <= hi     # finite, in range


def _bad(name, what, v):
    raise ConfigError("%s: %s, got %r" % (name, what, v))


def _special(name, v):
    if name == "report.paths":
        if not isinstance(v, list) or not 1 <= len(v) <= 8:
            _bad(name, "a list of 1 to 8 resource paths like \"/3303/0/5700\"", v)
        for p in v:
            ok = isinstance(p, str) and p[:1] == "/"
            if ok:
                try:
                    ids = [int(x) for x in p[1:].split("/")]
                    ok = len(ids) == 3 and min(ids) >= 0 and max(ids) <= 65535
                except ValueError:
                    ok = False
            if not ok:
                _bad(name, "resource paths like \"/3303/0/5700\"", p)
    elif name == "radio.nat_timeout_prior_s":
        if not (isinstance(v, list) and len(v) == 2 and _ok(v[0], "n", 1, 1e6)
                and _ok(v[1], "n", 1, 1e6) and v[0] <= v[1]):
            _bad(name, "two numbers of seconds [low, high]", v)


def check(cfg):
    """Check every known key of a merged config for type and range; ConfigError names the key
    (`schedule.listen_ms: an integer of milliseconds (0 to 600000), got '1500ms'`)."""
    if not isinstance(cfg, dict):
        raise ConfigError("config: the top level must be an object, got %r" % (cfg,))
    for sec in _SPEC:
        d = cfg if sec == "" else cfg.get(sec)
        if d is None and sec in ("report", "board_opts"):
            continue
        if not isinstance(d, dict):
            _bad(sec, "an object", d)
        for k, spec in _SPEC[sec].items():
            if k not in d or (d[k] is None and (sec == "report" or k == "endpoint")):
                continue
            name = sec + "." + k if sec else k
            v = d[k]
            if spec[0] == "l":
                _special(name, v)
            elif not _ok(v, *spec):
                _bad(name, _what(k, *spec), v)
    cid = cfg["security"].get("cid")
    if cid not in (None, False, "none", "rfc9146", "legacy53", "legacy254", 53, 54, 254):
        _bad("security.cid", "null, rfc9146, legacy53 or legacy254", cid)
    if cfg["schedule"]["listen_max_ms"] < cfg["schedule"]["listen_ms"]:
        _bad("schedule.listen_max_ms", "at least schedule.listen_ms",
             cfg["schedule"]["listen_max_ms"])
    return cfg


def _hex(name, v, lo, hi):
    ok = isinstance(v, str) and len(v) % 2 == 0 and lo <= len(v) // 2 <= hi
    if ok:
        try:
            bytes.fromhex(v)
        except ValueError:
            ok = False
    if not ok:
        raise ConfigError("secrets %s: a hex string of %d to %d bytes (the value is not shown)"
                          % (name, lo, hi))


def check_secrets(sec, mode, sp="secrets"):
    """Check the secrets a mode needs; messages name the key, never the value."""
    if not isinstance(sec, dict):
        raise ConfigError("secrets file %s: the top level must be an object" % sp)
    need = {"psk": ("psk_identity", "psk_key"), "oscore": ("oscore",)}.get(mode, ())
    for k in need:
        if k not in sec:
            raise ConfigError("secrets file %s lacks %r (see secrets/example.json)" % (sp, k))
    if mode == "psk":
        i = sec["psk_identity"]
        if not isinstance(i, str) or not 1 <= len(i) <= 128:
            raise ConfigError("secrets psk_identity: a string of 1 to 128 characters")
        _hex("psk_key", sec["psk_key"], 1, 64)
    elif mode == "oscore":
        o = sec["oscore"]
        if not isinstance(o, dict):
            raise ConfigError("secrets oscore: an object with master_secret, master_salt, "
                              "sender_id, recipient_id (hex)")
        for k, lo, hi in (("master_secret", 1, 64), ("master_salt", 0, 64), ("sender_id", 0, 7),
                          ("recipient_id", 0, 7)):
            if k not in o and k != "master_salt":
                raise ConfigError("secrets oscore lacks %r" % k)
            if k in o:
                _hex("oscore." + k, o[k], lo, hi)
        if o.get("sender_id") == o.get("recipient_id"):
            raise ConfigError("secrets oscore: sender_id and recipient_id must differ")
        if "id_context" in o and o["id_context"] is not None:
            _hex("oscore.id_context", o["id_context"], 0, 32)
    w = sec.get("wifi")
    if w is not None and not isinstance(w, dict):
        raise ConfigError("secrets wifi: an object")
    return sec


def _merge(base, over):
    out = {}
    for k in base:
        out[k] = base[k]
    for k in over:
        if isinstance(out.get(k), dict) and isinstance(over[k], dict):
            out[k] = _merge(out[k], over[k])
        else:
            out[k] = over[k]
    return out


def parse_uri(uri):
    """coap://host:port or coaps://host:port -> (scheme, host, port)."""
    if "://" not in uri:
        raise ConfigError("server.uri %r: expected coap://HOST:PORT or coaps://HOST:PORT" % uri)
    scheme, rest = uri.split("://", 1)
    if scheme not in ("coap", "coaps"):
        raise ConfigError("server.uri scheme %r: coap or coaps" % scheme)
    rest = rest.split("/", 1)[0]
    if rest.startswith("["):
        raise ConfigError("IPv6 literals are not supported yet")
    if ":" in rest:
        host, p = rest.rsplit(":", 1)
        try:
            port = int(p)
        except ValueError:
            raise ConfigError("server.uri port %r is not a number" % p)
    else:
        host, port = rest, (5684 if scheme == "coaps" else 5683)
    if not host or not 0 < port < 65536:
        raise ConfigError("server.uri %r: bad host or port" % uri)
    return scheme, host, port


def _read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise ConfigError("%s file %s not found" % (what, path))
    except ValueError as e:
        raise ConfigError("%s file %s is not valid JSON: %s" % (what, path, e))


def merged(raw, path="config"):
    """The board config `raw` (parsed JSON) with the defaults filled in, every key checked."""
    if not isinstance(raw, dict):
        raise ConfigError("config %s: the top level must be an object" % path)
    for k in DEFAULTS:
        if k in raw and isinstance(DEFAULTS[k], dict) and not isinstance(raw[k], dict):
            _bad(k, "an object", raw[k])
    cfg = check(_merge(DEFAULTS, raw))
    mode = cfg["security"]["mode"]
    scheme, host, port = parse_uri(cfg["server"]["uri"])
    if (scheme == "coaps") != (mode == "psk"):
        raise ConfigError("security.mode %s does not fit server.uri %s (coaps:// is DTLS-PSK)"
                          % (mode, cfg["server"]["uri"]))
    cfg["_host"], cfg["_port"] = host, port
    return cfg


def load(path=None, secrets_path=None):
    path = path or os.getenv("LWM2M_CONFIG") or "/config.json"
    cfg = merged(_read_json(path, "config"), path)
    mode = cfg["security"]["mode"]
    secrets = {}
    if mode != "nosec":
        sp = secrets_path or os.getenv("LWM2M_SECRETS") or cfg.get("secrets") or "/secrets.json"
        secrets = check_secrets(_read_json(sp, "secrets"), mode, sp)
    return cfg, secrets
