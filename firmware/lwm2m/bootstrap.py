"""The server account a bootstrap server committed (flash key 'bootstrap'), and when to bootstrap.

Loaded on a device with `bootstrap` in its config or a committed account, dropped after; kept
small and made of names the wake interns anyway (the interned-name pool doubles past ~620 names:
7.3 KiB more in a DTLS handshake). The bootstrap itself is lwm2m/bsrun.py.

Record (written by lwm2m/bsrun.py at Bootstrap-Finish): JSON {"server": {"uri", "lifetime",
"short_id"}, "security": {"mode": nosec|psk|oscore}, "psk_identity", "psk_key" (hex), "oscore":
{...}, "bs_fail": /1/x/16} followed by its SHA-256 (32 bytes). A record that does not check, or
whose fields are not what they should be, is ignored as if absent.

When: `bootstrap.uri` configured and no valid account -> bootstrap; or the last
`bootstrap.after_fails` (default 3) wakes in a row reached no server (the planner's count of
failed wakes) and the account allows it (/1/x/16 Bootstrap on Registration Failure, default
true) -> bootstrap again (LwM2M 1.1.1 Core 6.2.1). Without `bootstrap.uri` the factory account
(the board config's `server` and `security`) applies.
"""
import json


def run(board, store, cfg, secrets, endpoint, info):
    """Returns the (cfg, secrets) to use, or None when this wake was a bootstrap (info says
    how it went). Takes itself out of sys.modules (its work is done for this wake)."""
    import log
    log.unload(__name__)
    bs = cfg.get("bootstrap") or {}
    r = None
    b = store.flash_get("bootstrap")
    if b and len(b) > 32:
        import hashlib
        if hashlib.sha256(b[:-32]).digest() == b[-32:]:
            try:
                r = json.loads(b[:-32])
                srv = r["server"]
                m = r["security"]["mode"]
                u = srv["uri"]
                ok = (isinstance(srv["lifetime"], int) and srv["lifetime"] >= 60 and isinstance(srv["short_id"], int)
                      and u.startswith("coaps://" if m == "psk" else "coap://") and ":" in u[8:])
                if m == "psk":
                    bytes.fromhex(r["psk_key"])
                    ok = ok and r["psk_identity"]
                elif m == "oscore":
                    o = r["oscore"]
                    bytes.fromhex(o["master_secret"] + o["sender_id"] + o["recipient_id"])
                elif m != "nosec":
                    ok = False
                if not ok:
                    r = None
            except (ValueError, KeyError, TypeError, AttributeError):
                r = None
    due = 0
    if bs.get("uri"):
        if r is None:
            due = 1
        else:
            store.load()
            from wake.planner import fails
            n = fails(store)               # wakes in a row that reached no server
            if r.get("bs_fail", True) and n >= int(bs.get("after_fails", 3)):
                due = n + 1
    if due:
        from lwm2m import bsrun
        bsrun.run(board, store, cfg, endpoint, info, due - 1)
        del bsrun
        log.unload("lwm2m.bsrun")
        return None
    if r is None:
        return cfg, secrets
    srv = dict(cfg["server"])
    srv.update(r["server"])
    cfg["server"] = srv
    sec = dict(cfg["security"])
    sec["mode"] = r["security"]["mode"]
    cfg["security"] = sec
    u = srv["uri"].split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    cfg["_host"], cfg["_port"] = u[0], int(u[1])
    s = dict(secrets)
    for k in ("psk_identity", "psk_key", "oscore"):
        if k in r:
            s[k] = r[k]
    return cfg, s
