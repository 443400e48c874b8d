"""What the wake cycle does when persisted state does not load or a wake crashed (issue #11),
in a module of its own: it is imported only then (its code and strings would otherwise take
heap in every wake). The function names are ones the firmware interns anyway (each new name
costs heap in the interned-name pool).

- drop(store, name, e): a section that did not load is dropped and logged; the caller builds
  its object again without it (Register, full handshake, B.2: as after a power cut).
- save(store): a wake ended in `crash`: the flash counter `crash` counts them in a row.
- load(store, n, info): at the start of the wake after n crashed wakes in a row, drop what a
  crash could come from: RTC sections (not the nonce bounds q*), and after two in a row also
  the server's writes, attributes, waiting samples and the DTLS session in flash. Nonce bounds
  (seq_* keys) and the endpoint always stay.
- _backoff(sch, result, fails): the sleep after a failed wake (the cycle imports this module
  only after a failed wake: its code is no heap in the wakes that work).
"""
from log import log


def drop(store, name, e):
    log("state: %s dropped: %s: %s" % (name, type(e).__name__, e), "E")
    store.drop(name)


def save(store):
    try:
        c = store.flash_get("crash")
        store.flash_put("crash", bytes((min((c[0] if c else 0) + 1, 255),)))
    except Exception:
        pass


def load(store, n, info):
    for k in list(store.sections):
        if k[0] != "q":
            store.drop(k)
    for k in ("dmw", "att", "smp", "dtls_s") if n > 1 else ():
        if store.flash_get(k):
            store.flash_put(k, b"")
    log("state: %d crashed wakes in a row: RTC memory dropped%s"
        % (n, ", and flash dmw att smp dtls_s" if n > 1 else ""), "E")
    info["cause"] += "+state-dropped"


def _backoff(sch, result, fails):
    """Sleep after a failed wake, doubling with each failed wake in a row. A transient failure
    (no answer, network down) retries sooner than the schedule: error_backoff_s, 2x, 4x ... up to
    sleep_s. Wrong credentials (auth-failed) will not fix themselves: at least sleep_s, then 2x,
    4x ... up to max_backoff_s (a day by default), so a misprovisioned fleet stays quiet."""
    base = sch.get("error_backoff_s", 300)
    k = min(max(int(fails), 1) - 1, 10)
    if result == "auth-failed":
        return min(max(sch["sleep_s"], base) * (1 << k), max(sch.get("max_backoff_s", 86400), sch["sleep_s"]))
    return min(sch["sleep_s"], base * (1 << k))
