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


def _read_json(path, what, hs):
    # the parsed file; its bytes go into the hash hs (hashlib.sha256), read in small pieces
    # (json.load streams too: no copy of the whole file in the heap, which is at its emptiest
    # here and should stay in one piece for the wake)
    try:
        with open(path, "rb") as f:
            b = bytearray(64)
            n = f.readinto(b)
            while n:
                hs.update(memoryview(b)[:n])
                n = f.readinto(b)
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise ConfigError("%s file %s not found" % (what, path))
    except ValueError as e:
        raise ConfigError("%s file %s is not valid JSON: %s" % (what, path, e))


def mode(cfg):
    """security.mode; with security.modes (several mechanisms), the first of them unless it is
    one of them (the Security object and the secrets checks use it)."""
    s = cfg["security"]
    m = s.get("modes")
    if m and isinstance(m, list) and s.get("mode") not in m:
        s["mode"] = m[0]
    return s["mode"]


def _env(name):
    """The unix port's environment (harness); a board's os has no getenv."""
    g = getattr(os, "getenv", None)
    return g(name) if g else None


def load(path=None, secrets_path=None, board=None):
    """(config, secrets), both checked (firmware/cfgcheck.py). With a board, a hash of both
    files (and of the checks' version) is kept in flash ('cfg') once they pass, and the checks
    are not even loaded while the files stay the same (their names would take heap)."""
    import hashlib
    hs = hashlib.sha256(b"cfgcheck v1 (bump when the checks change)")
    path = path or _env("LWM2M_CONFIG") or "/config.json"
    raw = _read_json(path, "config", hs)
    d = raw if isinstance(raw, dict) else {}
    sp = secrets_path or _env("LWM2M_SECRETS") or d.get("secrets") or "/secrets.json"
    m = d.get("security")
    m = (m.get("modes") or m.get("mode", "nosec")) if isinstance(m, dict) else "nosec"
    sec = {}
    if m in ("psk", "oscore") or isinstance(m, list):
        sec = _read_json(sp, "secrets", hs)
    else:
        # no keys needed, but the file may hold the board's Wi-Fi credentials ("wifi")
        try:
            os.stat(sp)
            sec = _read_json(sp, "secrets", hs)
        except OSError:
            pass
    hs = hs.digest()[:8]
    if board is not None and board.flash_read("cfg") == hs:
        cfg = _merge(DEFAULTS, raw)           # these very files passed the checks before
    else:
        import cfgcheck
        cfg = cfgcheck.run(raw, path, sec, sp, DEFAULTS, _merge, mode)
        if board is not None:
            board.flash_write("cfg", hs)
    mode(cfg)
    uri = cfg["server"]["uri"]
    scheme, rest = uri.split("://", 1)
    rest = rest.split("/", 1)[0]
    if ":" in rest:
        host, p = rest.rsplit(":", 1)
        port = int(p)
    else:
        host, port = rest, (5684 if scheme == "coaps" else 5683)
    cfg["_host"], cfg["_port"] = host, port
    return cfg, sec
