"""The checks of the board config and the secrets (firmware/config.py loads them): every key
for type and range, with a message that names the key and never shows a secret
(`schedule.listen_ms: an integer of milliseconds (0 to 600000), got '1500ms'`).

A module of its own, loaded only on the first wake after the files changed (config.load keeps a
hash in flash); it imports nothing from config.py (no import loop): config.load hands it the
defaults, the merge and the mode choice (the last three arguments of merged() and run()).
Written to add few interned names (each costs heap for the whole wake, and the pool grows by
doubling: a DTLS handshake wake is close to that step): the spec is one string, helpers are
locals, argument names are ones the firmware interns anyway, and literals are longer than 10
characters (mpy-cross interns shorter ones).
"""
from errors import ConfigError


def check(cfg):
    """Check every known key of a merged config for type and range; ConfigError names the key."""
    # "section:key KIND ARGS,...;" with KIND i integer LOW HIGH, n finite number LOW HIGH, b true or
    # false, s string of LOW..HIGH characters, c one of WORD|WORD, l a list (checked below). A key
    # ending in _ms is in milliseconds, _s in seconds. Keys not listed are left alone (extensions).
    spec = ("server:uri s 1 255,lifetime i 60 4294967295,queue_mode b,short_id i 1 65534,"
            "binding c U|UQ|N|UN,omit_ep b,pmin i 0 4294967295,pmax i 0 4294967295,"
            "bind_identities b,uris l;"
            "security:mode c nosec|psk|oscore,kid_context_cbor_wrap b,rederive b,"
            "seq_rtc_block i 1 65536,seq_flash_block i 1 16777216,b2_timeout_ms i 100 600000,"
            "b2_tries i 1 20,ems b,retransmit_ms i 100 600000,max_tries i 1 20,pad i 0 255,"
            "flash_conn b,resume_fallback c inline|raise,cid_len_hint i 0 255,modem b,"
            "piggyback b,rebind_fallback b,modes l;"
            "coap:ack_timeout_ms i 100 600000,ack_random_factor n 1 4,max_retransmit i 0 20,"
            "token_len i 0 8,separate_timeout_ms i 0 600000,probe_retransmit i 0 20;"
            "schedule:sleep_s n 1 31536000,listen_ms i 0 600000,listen_max_ms i 0 3600000,"
            "report c send|none,error_backoff_s n 1 31536000,max_backoff_s n 1 31536000,"
            "sample_s n 0 31536000,reachable b,listen_min_ms i 0 600000;"
            "report:paths l,batch i 1 1000,gt n -1e15 1e15,lt n -1e15 1e15,durable b,"
            "notify c con|non;"
            "radio:profile s 0 64,wake_uJ n 0 1e12,tx_uJ_per_byte n 0 1e9,rx_uJ_per_byte n 0 1e9,"
            "datagram_uJ n 0 1e12,rtt_ms n 0 600000,rx_mW n 0 1e6,nat_timeout_prior_s l,"
            "idle_mW n 0 1e6,tail_ms n 0 3600000,rai_tail_ms n 0 3600000;"
            "board_opts:local_port i 0 65535;"
            "modem:;planner:force s 1 32,explore n 0 100,nat_memory_s n 1 31536000;"
            ":endpoint s 1 128,manufacturer s 0 64,model s 0 64,serial s 0 64,secrets s 1 255,"
            "board s 0 64,net c net.modem")
    # a finite number (an integer if asked) from p to q, never a boolean
    num = lambda v, p, q, w: not isinstance(v, bool) and \
        isinstance(v, int if w else (int, float)) and v == v and v - v == 0 and p <= v <= q  # noqa: E731
    sl, sc, bar, ms, s_, lst, integer = "; : | _ms _s l i".split(" ")
    if not isinstance(cfg, dict):
        raise ConfigError("config: an object at the top level, got %r" % (cfg,))
    for part in spec.split(sl):
        sec, items = part.split(sc)
        d = cfg.get(sec) if sec else cfg
        if d is None and sec in ("report", "board_opts", "modem", "planner"):
            continue
        if not isinstance(d, dict):
            raise ConfigError("%s: an object, got %r" % (sec, d))
        for item in items.split(","):
            a = item.split(" ")
            k = a[0]
            v = d.get(k)
            if not k or k not in d or (v is None and (sec == "report" or k == "endpoint")):
                continue
            name = sec + "." + k if sec else k
            t = a[1]
            what = None
            if t == lst:
                if k == "paths":
                    ok = isinstance(v, list) and 1 <= len(v) <= 8
                    for p in v if ok else ():
                        try:
                            ids = [int(x) for x in p[1:].split("/")]
                            ok = ok and p[0] == "/" and len(ids) == 3 and 0 <= min(ids) \
                                and max(ids) <= 65535
                        except (ValueError, TypeError, AttributeError, IndexError):
                            ok = False
                    if not ok:
                        what = "a list of 1 to 8 resource paths like \"/3303/0/5700\""
                elif k == "modes":
                    if not (isinstance(v, list) and 1 <= len(v) <= 2 and len(set(v)) == len(v)
                            and all(x in ("psk", "oscore") for x in v)):
                        what = "a list of the mechanisms for the server, from \"psk\" and \"oscore\" (each once)"
                elif k[-2:] != s_:       # server.uris (nat_timeout_prior_s below)
                    ok = isinstance(v, dict) and all(x in ("psk", "oscore") and isinstance(v[x], str)
                                                    for x in v)
                    if not ok:
                        what = "an object {\"psk\": \"coaps://HOST:PORT\", \"oscore\": \"coap://HOST:PORT\"}"
                elif not (isinstance(v, list) and len(v) == 2 and num(v[0], 1, 1e6, 0)
                          and num(v[1], 1, 1e6, 0) and v[0] <= v[1]):
                    what = "two numbers of seconds [low, high]"
            elif t == "b":
                if not isinstance(v, bool) and not (k[:4] == "bind" and v == "auto"):
                    what = "true, false or \"auto\"" if k[:4] == "bind" else "true or false"
            elif t == "c":
                if not isinstance(v, str) or v not in a[2].split(bar):
                    what = "one of the words " + a[2].replace(bar, ", ")
            elif t == "s":
                if not isinstance(v, str) or not int(a[2]) <= len(v) <= int(a[3]):
                    what = "a string of %s to %s characters" % (a[2], a[3])
            elif not num(v, float(a[2]), float(a[3]), t == integer):
                unit = " of milliseconds" if k[-3:] == ms else " of seconds" if k[-2:] == s_ else ""
                what = ("an integer%s (%s to %s)" if t == integer else "a number%s (%s to %s)") \
                    % (unit, a[2], a[3])
            if what:
                raise ConfigError("%s: %s, got %r" % (name, what, v))
    cid = cfg["security"].get("cid")
    if cid not in (None, False, "none", "rfc9146", "legacy53", "legacy254", 53, 54, 254):
        raise ConfigError("security.cid: null, rfc9146, legacy53 or legacy254, got %r" % (cid,))
    sch = cfg["schedule"]
    if sch["listen_max_ms"] < sch["listen_ms"]:
        raise ConfigError("schedule.listen_max_ms: at least schedule.listen_ms, got %r"
                          % (sch["listen_max_ms"],))
    return cfg


def check_secrets(sec, mode, path="secrets"):
    """Check the secrets a mode needs; messages name the key, never the value."""
    def m(name, v, p, q):
        ok = isinstance(v, str) and len(v) % 2 == 0 and p <= len(v) // 2 <= q
        try:
            ok = ok and bytes.fromhex(v) is not None
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError("%s: a hex string of %d to %d bytes (the value is not shown)"
                              % (name, p, q))
    if not isinstance(sec, dict):
        raise ConfigError("secrets file %s: the top level must be an object" % path)
    for k in {"psk": ("psk_identity", "psk_key"), "oscore": ("oscore",)}.get(mode, ()):
        if k not in sec:
            raise ConfigError("secrets file %s lacks %r (see secrets/example.json)" % (path, k))
    if mode == "psk":
        i = sec["psk_identity"]
        if not isinstance(i, str) or not 1 <= len(i) <= 128:
            raise ConfigError("secrets psk_identity: a string of 1 to 128 characters")
        m("secrets psk_key", sec["psk_key"], 1, 64)
    elif mode == "oscore":
        o = sec["oscore"]
        if not isinstance(o, dict):
            raise ConfigError("secrets oscore: an object with master_secret, master_salt, "
                              "sender_id, recipient_id (hex)")
        ids = []
        for item in ("master_secret 1 64 1,master_salt 0 64 0,sender_id 0 7 2,"
                     "recipient_id 0 7 2,id_context 0 32 0").split(","):
            k, p, q, need = item.split(" ")
            if o.get(k) is None:
                if int(need):
                    raise ConfigError("secrets oscore lacks %r (see secrets/example.json)" % k)
                continue
            m("secrets oscore.%s" % k, o[k], int(p), int(q))
            if int(need) == 2:
                ids.append(o[k])
        if ids[0] == ids[1]:
            raise ConfigError("secrets oscore: sender_id and recipient_id must differ")
    if not isinstance(sec.get("wifi") or {}, dict):
        raise ConfigError("secrets wifi: an object with ssid and password")
    return sec


def merged(raw, path="config", DEFAULTS=None, _merge=None, mode=None):
    """The board config `raw` (parsed JSON) with the defaults filled in, every key checked, the
    server URI parsed (cfg["_host"], cfg["_port"]). DEFAULTS, _merge and mode: config.py's."""
    D = DEFAULTS
    if not isinstance(raw, dict):
        raise ConfigError("config file %s: an object at the top level, got %r" % (path, raw))
    for k in D:
        if k in raw and isinstance(D[k], dict) and not isinstance(raw[k], dict):
            raise ConfigError("%s: an object, got %r" % (k, raw[k]))
    cfg = check(_merge(D, raw))
    uri = cfg["server"]["uri"]
    mode = mode(cfg)
    scheme, _, rest = uri.partition("://")
    rest = rest.split("/", 1)[0]
    host, _, p = rest.rpartition(":") if ":" in rest else (rest, "", "")
    try:
        port = int(p) if p else 5684 if scheme == "coaps" else 5683
    except ValueError:
        port = -1
    if scheme not in ("coap", "coaps") or not host or ord(host[0]) == 91 or not 0 < port < 65536:
        raise ConfigError("server.uri: coap://HOST:PORT or coaps://HOST:PORT (no IPv6 literal "
                          "yet), got %r" % (uri,))
    modes = cfg["security"].get("modes") or [mode]
    if len(modes) > 1:
        # several mechanisms for one server (wake/mechanisms.py): server.uri is the address
        # of those without an entry in server.uris
        us = cfg["server"].get("server.uris"[7:]) or {}   # (a long literal: no new interned name)
        if ("psk" if scheme == "coaps" else "oscore") not in modes:
            raise ConfigError("server.uri %s fits none of security.modes (coaps:// is DTLS-PSK, "
                              "coap:// OSCORE)" % (uri,))
        for m in us:
            u = us[m]
            if u.partition("://")[0] != ("coaps" if m == "psk" else "coap") or ":" not in u[8:]:
                raise ConfigError("server.uris.%s: %s is not a %s://HOST:PORT (coaps:// is DTLS-PSK, "
                                  "coap:// OSCORE)" % (m, u, "coaps" if m == "psk" else "coap"))
    elif (scheme == "coaps") != (mode == "psk"):
        raise ConfigError("security.mode %s does not fit server.uri %s (coaps:// is DTLS-PSK, "
                          "coap:// NoSec or OSCORE)" % (mode, uri))
    cfg["_host"], cfg["_port"] = host, port
    return cfg


def run(raw, path, sec, spath, DEFAULTS, _merge, mode):
    """What config.load needs: the merged config, checked, and the secrets checked."""
    cfg = merged(raw, path, DEFAULTS, _merge, mode)
    for m in cfg["security"].get("modes") or [cfg["security"]["mode"]]:
        check_secrets(sec, m, spath)      # nosec: only "wifi" if given; each mechanism's
    return cfg
