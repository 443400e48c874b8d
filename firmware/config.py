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


def _env(name):
    """The unix port's environment (harness); a board's os has no getenv."""
    g = getattr(os, "getenv", None)
    return g(name) if g else None


def load(path=None, secrets_path=None):
    path = path or _env("LWM2M_CONFIG") or "/config.json"
    raw = _read_json(path, "config")
    if not isinstance(raw, dict):
        raise ConfigError("config %s: top level must be an object" % path)
    cfg = _merge(DEFAULTS, raw)
    mode = cfg["security"].get("mode")
    if mode not in MODES:
        raise ConfigError("security.mode %r: one of %s" % (mode, ", ".join(MODES)))
    scheme, host, port = parse_uri(cfg["server"]["uri"])
    if (scheme == "coaps") != (mode == "psk"):
        raise ConfigError("security.mode %s does not fit server.uri %s (coaps:// is DTLS-PSK)"
                          % (mode, cfg["server"]["uri"]))
    cfg["_host"], cfg["_port"] = host, port
    for k in ("lifetime",):
        v = cfg["server"].get(k)
        if not isinstance(v, int) or v < 60:
            raise ConfigError("server.lifetime must be an integer >= 60, got %r" % (v,))
    sl = cfg["schedule"].get("sleep_s")
    if not isinstance(sl, (int, float)) or sl < 1:
        raise ConfigError("schedule.sleep_s must be a number >= 1, got %r" % (sl,))
    secrets = {}
    sp = secrets_path or _env("LWM2M_SECRETS") or cfg.get("secrets") or "/secrets.json"
    if mode == "nosec":
        # no keys needed, but the file may hold the board's Wi-Fi credentials ("wifi")
        try:
            os.stat(sp)
            secrets = _read_json(sp, "secrets")
        except OSError:
            pass
    else:
        secrets = _read_json(sp, "secrets")
        need = {"psk": ("psk_identity", "psk_key"), "oscore": ("oscore",)}[mode]
        for k in need:
            if k not in secrets:
                raise ConfigError("secrets file %s lacks %r (see secrets/example.json)" % (sp, k))
    return cfg, secrets
