"""One wake, from reset to reset: load state, plan, act, persist, sleep.

1. load the config and the persisted state (RTC memory; flash for what survives power cuts)
2. plan: the action (Register or Update) and the chain of paths (wake/planner.py)
3. act: bring the radio up, run the first path of the chain; on a typed failure fall back to
   the next; an Update answered 4.04 becomes a Register; deliver the report (LwM2M Send);
   answer the server's queued requests while it still sends some (queue mode)
4. learn and persist everything the next wake needs, log one WAKE line (path, cost, result)
5. deep sleep until the next wake (never close_notify, never de-register before sleeping)

A failure never leads to a crash loop: any exception ends in a logged, persisted wake and a
sleep (with back-off after errors).
"""
import gc

from micropython import const

from coap import codec as C
from coap.exchange import Exchange
from errors import LwError, AuthFailed, NetworkDown, RegistrationUnknown, ConfigError
from log import log, wake_line, unload
from state import Store

_SERVICE_UNAVAILABLE = const(163)   # 5.03 (coap.codec SERVICE_UNAVAILABLE)


class DeviceCtx:
    """What the objects need from the wake: endpoint, actions to carry out. (The sensor state,
    3303's min/max, lives with object 3303: lwm2m/objects.py Obj.sensor, section 'temp'.)"""

    def __init__(self, board, endpoint, store):
        self.board = board
        self.endpoint = endpoint
        self.reboot = False
        self.update_now = False
        self.sampled = False      # a sample wake already took this wake's sample
        self.store = store

    def now(self):
        return int(self.board.now())

    def mem_free_kib(self):
        return self.board.mem_free() // 1024

    def request_reboot(self, _arg=b""):
        self.reboot = True

    def trigger_update(self, _arg=b""):
        self.update_now = True

    def dm_changed(self, oid, iid, rid):
        """The server changed the lifetime (/1/0/1) or created/deleted an instance: Update."""
        if rid is None or (oid == 1 and rid == 1):
            self.update_now = True


class Heap:
    """Live-heap high-water mark at checkpoints (collect first: garbage is not use)."""

    def __init__(self):
        import wake
        gc.collect()
        self.base = wake.HEAP0 if wake.HEAP0 is not None else gc.mem_alloc()
        self.peak = 0
        self.at = None
        self.marks = []

    def mark(self, label=None):
        gc.collect()
        u = gc.mem_alloc() - self.base
        if label:
            ms = self.marks
            if ms and ms[-1][0] == label:       # a run of one label (requests) is one mark,
                if u > ms[-1][1]:               # its highest: the list must not grow per request
                    ms[-1][1] = u
            else:
                ms.append([label, u])
        if u > self.peak:
            self.peak = u
            self.at = label
        return u


HEAP = None


def heap_figures():
    """(free bytes, largest free block) after a collection: a shortage or a fragmented heap."""
    gc.collect()
    lo, hi = 0, gc.mem_free()
    f = hi
    while hi - lo > 16:
        n = (lo + hi) // 2
        try:
            b = bytearray(n)
            del b
            lo = n
        except MemoryError:
            hi = n
    return f, lo


class LazyDM:
    """Loads the device-management code only when the server actually sends a request."""

    def __init__(self, registry, dev):
        self.registry = registry
        self.dev = dev
        self.dm = None
        self.cbor = 1
        self.n = 0            # requests handled this wake (duplicates are answered by Exchange)
        self.refused = 0      # of which answered 5.03 for lack of heap
        import sys            # the lwm2m modules the whole wake uses (objects, register) stay
        self.keep = tuple(n for n in sys.modules if n[:6] == "lwm2m.")

    def handle(self, m):
        # 5.03 Service Unavailable is the last guard against a real shortage (no 2 KiB block
        # left, or a MemoryError while loading or running the DM code), not a MemoryError
        # that would end the wake; it is logged with the heap figures, counted in the WAKE
        # line ('refused') and the wake is 'partial'. The server may ask again at the next wake.
        gc.collect()
        self.n += 1
        try:
            if m.get(C.URI_PATH) == b"5" and self.registry.get(5):   # Firmware Update (fota.py)
                from lwm2m import fota        # (smaller than the DM code)
                d = self.dev
                r = fota.handle(m, d.store, d.board, d)
                del fota
                self.drop()
                return r
            b = bytearray(2048)   # the code loads in pieces, but some need a contiguous block
            del b
            if self.dm is None:
                import sys
                self.cbor = sys.modules.get("cbor")
                from lwm2m.dm import DM
                d = self.dev
                self.dm = DM(self.registry, d.store, d.dm_changed, d.now)
            r = self.dm.handle(m)
        except MemoryError:
            self.drop()
            self.refused += 1
            log("request /%s refused 5.03: heap free %d, largest block %d" % ((m.path(),) + heap_figures()), "W")
            r = C.Message(C.ACK, _SERVICE_UNAVAILABLE)
        self.drop()           # code is in flash (ROMFS): importing again costs little heap
        return r

    def drop(self):
        """Forget the DM code, the formats and the reporting modules until they are needed
        again (their code objects are heap; a request can leave holes between long-lived
        objects otherwise): every lwm2m module loaded since the wake built its objects and
        its registration, out of sys.modules and out of the package."""
        import sys
        self.dm = None
        for n in [n for n in sys.modules if n[:6] == "lwm2m." and n not in self.keep]:
            unload(n)
        if self.cbor is None:       # the CBOR codec, unless another layer had it before us
            sys.modules.pop("cbor", None)
        self.cbor = 1
        gc.collect()


def make_channel(mode, net, store, board, cfg, secrets):
    if isinstance(mode, list):      # several mechanisms for one server: wake/mechanisms.py
        return __import__("wake.mechanisms", None, None, (1,)).load(mode, net, store, board, cfg, secrets)
    if mode == "nosec":
        from sec.nosec import NoSecChannel
        return NoSecChannel(net, store, board, cfg["security"], secrets)
    if mode == "psk":
        c = getattr(net, "open", None)     # DTLS run by the modem (net/modem.py), if asked for
        c = c and c(store, board, cfg["security"], secrets)
        if c:
            return c
        from sec.dtls_channel import DtlsChannel
        return DtlsChannel(net, store, board, cfg["security"], secrets)
    if mode == "oscore":
        from sec.oscore_channel import OscoreChannel
        return OscoreChannel(net, store, board, cfg["security"], secrets)
    raise ConfigError("security.mode " + mode)


def _endpoint(cfg, board):
    ep = cfg.get("endpoint")
    if ep:
        return ep
    return "urn:dev:" + board.name + "-" + board.urandom(4).hex()


def run(board):
    """Run one wake on `board` and sleep. Never returns on a device."""
    global HEAP
    t0 = board.ticks_ms()
    HEAP = Heap()
    HEAP.mark("boot")
    import sys
    sys.modules["log"].trace = HEAP.mark    # the one trace hook (log.py): heap checkpoints
    info = {"t": int(board.now()), "cause": board.reset_cause()}
    sleep_s = 300
    store = Store(board)
    try:
        import config
        cfg, secrets = config.load(board=board)
        del config              # the local name would keep the module alive
        unload("config")
        unload("cfgcheck")
        # the board learns its own options (local port, Wi-Fi credentials from the secrets)
        board.cfg = dict(cfg.get("board_opts") or {})
        if secrets.get("wifi"):
            board.cfg["wifi"] = secrets["wifi"]
        sleep_s = cfg["schedule"]["sleep_s"]
        r = (cfg, secrets)
        if cfg.get("bootstrap") or store.flash_get("bootstrap"):
            # the account a bootstrap server committed, after a bootstrap when one is due
            # (lwm2m/bootstrap.py, docs/bootstrap.md; it unloads itself)
            ep = cfg.get("endpoint") or (store.flash_get("ep") or b"").decode()
            if not ep:
                ep = _endpoint(cfg, board)
                store.flash_put("ep", ep.encode())
            from lwm2m import bootstrap
            r = bootstrap.run(board, store, cfg, secrets, ep, info)
            del bootstrap
        if r:
            info.update(_wake(board, store, r[0], r[1], info))
        if store.flash_get("crash"):     # no crash this time: the count starts again
            store.flash_put("crash", b"")
        if info.get("result") not in ("ok", "partial"):
            from wake import rescue      # (a failed wake's code, loaded only then)
            sleep_s = rescue._backoff(cfg["schedule"], info.get("result"), info.get("fails", 1))
            del rescue
        if info.get("next_s"):
            sleep_s = min(sleep_s, info.pop("next_s"))
    except ConfigError as e:
        info["result"] = "config-error"
        info["error"] = str(e)
        log("config-error %s" % e, "E")
        sleep_s = 3600
    except Exception as e:   # last line of defence: log, persist what we have, sleep
        info["result"] = "crash"
        if not isinstance(e, MemoryError):    # heap, not state: dropping state would not help
            from wake import rescue      # the next wake drops what this one may have crashed on
            rescue.save(store)
        info["error"] = "%s: %s" % (type(e).__name__, e)
        log("wake failed: %s" % info["error"], "E")
        import sys
        sys.print_exception(e)
        if isinstance(e, MemoryError):
            import micropython
            micropython.mem_info()     # plain shortage, or a fragmented heap (max free block)
        sleep_s = 300
    try:
        store.commit()
    except Exception as e:
        log("persist failed: %s" % e, "E")
    info["awake_ms"] = board.ticks_diff(board.ticks_ms(), t0)
    HEAP.mark("end")
    info["heap_peak"] = HEAP.peak
    info["heap_at"] = HEAP.at
    info["heap_marks"] = " ".join("%s:%d" % (m[0], m[1]) for m in HEAP.marks)
    info["heap_free"] = gc.mem_free()
    info["sleep_s"] = int(sleep_s)
    info["rtc_bytes"] = len(store.encode())
    wake_line(info)
    if info.get("reboot"):
        sleep_s = 1
    board.deepsleep(int(sleep_s * 1000))


def _wake(board, store, cfg, secrets, info):
    """One wake's work, in steps read top to bottom (each returns what the next one needs):
      load      state, objects, registration, this wake's sample (a sample wake ends here)
      socket    the radio and a socket (none: the wake ends 'network-down')
      plan      the channel, its saved session, the exchange, the planner's chain of paths
      connect   the first path of the chain that works: Register or Update
      serve     the server's queued requests, the report (Send), notifications, FOTA
      schedule  what the next wake needs (planner, channel), the WAKE line's fields, when next
    (Step names are names MicroPython interns anyway: a new name costs heap, see socket.)
    """
    r = load(board, store, cfg, info)
    if len(r) < 5:
        return r[0]             # a sample wake: no deadline needed the radio
    dev, registry, dm, reg, out = r
    from wake.planner import Planner
    planner = Planner(store, cfg, board.local_port())   # checks its section's version and length
    net = socket(board, store, cfg, secrets, planner, out)
    if net is None:
        return out              # 'network-down'
    chan, ex, chain, asleep_s, update = plan(board, store, cfg, secrets, net, reg, dm, planner)
    out["chain"] = chain
    HEAP.mark("planned")
    result, label = connect(board, chain, chan, ex, reg, planner, net, out, cfg, asleep_s, update)
    HEAP.mark("registered")
    if result == "ok":
        serve(board, store, cfg, registry, dev, dm, reg, planner, ex, label, out)
    HEAP.mark("served")
    return schedule(board, store, cfg, dev, dm, reg, planner, net, chan, ex, result, label, out)


def load(board, store, cfg, info):
    """Load the persisted state, build the objects and the registration, take this wake's
    sample (persisted before any radio work). Returns (out,) when the wake is a radio-less
    sample wake, else (dev, registry, dm, reg, out)."""
    from lwm2m.objects import Registry
    from lwm2m import std
    from lwm2m.register import Registration

    valid = store.load()
    if not valid:
        info["cause"] += "+rtc-lost" if info["cause"] == "deepsleep" else ""
    cr = store.flash_get("crash")
    if cr:          # the last cr[0] wakes crashed: drop what they may have crashed on
        from wake import rescue
        rescue.load(store, cr[0], info)
        del rescue
    now = board.now()
    endpoint = cfg.get("endpoint")
    if not endpoint:
        e = store.flash_get("ep")
        endpoint = e.decode() if e else _endpoint(cfg, board)
        if not e:
            store.flash_put("ep", endpoint.encode())
    dev = DeviceCtx(board, endpoint, store)
    registry = std.build(Registry(), board, cfg, dev)
    del std                    # built: its code (heap) is not needed for the rest of the wake
    unload("lwm2m.std")
    try:
        reg = Registration(store, board, cfg["server"], registry, endpoint)
    except Exception as e:   # the section does not load: dropped (logged), as after a power cut
        from wake import rescue
        rescue.drop(store, "reg", e)
        reg = Registration(store, board, cfg["server"], registry, endpoint)
    dm = LazyDM(registry, dev)
    if cfg["schedule"].get("sample_s") and valid and reg.is_registered(now):
        # radio-less sample wake unless a deadline needs the radio (lwm2m/send.py)
        from lwm2m import send
        w = send.sample_wake(store, cfg, registry, reg, dev, now)
        if w:
            return (w,)
        del send
        dm.drop()
    out = {"ep": endpoint, "taken": 1 if dev.sampled else 0}
    if cfg["schedule"].get("report") == "send" and not dev.sampled:
        # this wake's sample is taken and persisted before any radio work: a Send that fails
        # (no answer, a shortage) loses no reading, it goes out at the next wake
        from lwm2m import sample
        sample.take(store, cfg, registry, dev.now())
        dev.sampled = True
        out["taken"] = info["taken"] = 1     # (info: in the WAKE line even if the wake crashes)
        store.commit()
        del sample
        dm.drop()
    return dev, registry, dm, reg, out


def socket(board, store, cfg, secrets, planner, out):
    """The network this wake talks through, or None: the wake ends 'network-down' (the
    planner counts a failed wake, out['error'] says why, the samples wait for the next wake).
    "net": "net.modem" in the board config: an nRF9160 on a UART is the network
    (docs/nrf9160.md). Written with names this module has anyway: the DTLS wakes sit at a
    doubling of MicroPython's name pool, and one new name here tips them over 64 KiB."""
    m = cfg.get("net")
    if m:
        try:
            return __import__(m, None, None, (1,)).socket(cfg, board, store, secrets)
        except NetworkDown as e:   # no modem, no registration, no coverage
            out["error"] = str(e)
    elif board.net_up():
        from net.udp import Udp
        try:
            return Udp(cfg["_host"], cfg["_port"], board.local_port())
        except NetworkDown as e:      # host not resolvable, no socket: no radio this wake
            out["error"] = str(e)
    planner.last_wake = int(board.now())
    planner.fails += 1
    planner.save()
    out.update({"result": "network-down", "path": "none", "fails": planner.fails})
    if out["taken"]:
        from lwm2m import send
        out["waiting"] = send.count(store, cfg)    # kept for the next wake
    return None


def plan(board, store, cfg, secrets, net, reg, dm, planner):
    """The channel (with its saved session), the exchange over it and the planner's chain of
    paths for this wake's action (Register if the registration lapsed, else Update). Returns
    (chan, ex, chain, asleep_s, update): update False for a Register; planner.reg[0] holds
    the paths after which an Update is a Register (a new security context)."""
    from wake.planner import PATHS
    now = board.now()
    s = cfg["security"]
    m = s.get("modes")         # several mechanisms (a list): one channel alive at a time
    chan = make_channel(m if m and len(m) > 1 else s["mode"], net, store, board, cfg, secrets)
    # (each channel loads its own RTC section and checks it: the cycle reads none)
    ex = Exchange(chan, store, board, cfg["coap"], handler=dm.handle, log=lambda m: log(m, "D"))
    asleep_s = int(now - planner.last_exchange) if planner.last_exchange else 1 << 30
    # a new security context needs a Register, not an Update (LwM2M 1.1.1 Transport 6.4.3):
    # server.register_after_handshake "full" (default: a full handshake), "any" (a
    # resumption too) or "never" (docs/dtls.md); the planner counts the Register's bytes
    rah = cfg["server"].get("register_after_handshake", "full")
    new_ctx = () if rah == "never" else PATHS[-2:] if rah == "any" else PATHS[-1:]
    update = reg.is_registered(now)
    if update:
        # (several mechanisms: a path of another one than the registration's Registers too)
        planner.reg = (new_ctx + chan.refused(None) if m and len(m) > 1 else new_ctx, 150)
    return chan, ex, planner.chain(chan, asleep_s), asleep_s, update


def connect(board, chain, chan, ex, reg, planner, net, out, cfg, asleep_s, update):
    """Run the chain's paths in turn until one Registers or Updates; a typed failure falls back
    to the next path (auth-failed and network-down stop). Returns (result, label)."""
    new_ctx = planner.reg[0]
    result = "no-path"
    label = "none"
    probe = min(ex.max_retransmit, int(cfg["coap"].get("probe_retransmit", 2)))
    skip = ()
    for i, path in enumerate(chain):
        if path in skip:
            continue
        up0, down0, t1 = net.up, net.down, board.ticks_ms()
        # a path with a fallback behind it gives up sooner: listening through the whole
        # retransmission budget (62 s at the RFC 7252 defaults) costs more than the fallback
        # (the Register/Update's own budget; None: the config's)
        budget = None if i == len(chain) - 1 else probe
        try:
            chan.connect(path)
            HEAP.mark("connected")
            # a channel may have taken another way than asked (a resumption the server
            # answered with a full handshake): the log and the planner say what happened
            took = chan.path_taken or path
            # (took[-14:]: 'modem-full-handshake' is a new context like 'full-handshake')
            if update and took[-14:] not in new_ctx:
                multi = len(cfg["security"].get("modes") or ()) > 1
                try:
                    reg.update(ex, budget)
                    label = took + "+update"
                    if multi:
                        chan.bound(True)       # (several mechanisms: the server binds?)
                except RegistrationUnknown as e:
                    if multi and str(e)[-4:] == "4.03":
                        chan.bound(False)      # another identity's registration
                    log("server lost the registration: Register", "W")
                    reg.register(ex, budget)
                    label = took + "+register"
            else:
                reg.register(ex, budget)
                label = took + "+register"
            if took != path:
                log("%s refused by the server: %s instead" % (path, took), "W")
                planner.record(path, "session-unknown", asleep_s)
            planner.record(took, "ok", asleep_s, net.up - up0 + net.down - down0,
                           board.ticks_diff(board.ticks_ms(), t1))
            result = "ok"
            break
        except LwError as e:
            result = e.outcome
            label = path
            out["error"] = str(e)
            if isinstance(e, NetworkDown):      # no radio: no path would do better
                break
            # (with the listening time this failure cost: the planner's detect cost)
            planner.record(path, e.outcome, asleep_s, board.ticks_diff(board.ticks_ms(), t1))
            if isinstance(e, AuthFailed):
                log("%s: %s (stopping; check the credentials)" % (path, e), "E")
                if len(cfg["security"].get("modes") or ()) < 2:
                    break
                skip = chan.refused(path)    # several mechanisms: only this one's paths end
                continue
            log("%s failed: %s (%s); falling back" % (path, e.outcome, e), "W")
            chan.forget_path(path)
    return result, label


def serve(board, store, cfg, registry, dev, dm, reg, planner, ex, label, out):
    """Registered: answer what the server queued (queue mode), deliver the report and the
    notifications due, Update again when the server asked for it, go on with a download."""
    planner.last_exchange = int(board.now())
    if store.flash_get("fota") == b"u" and not dev.reboot:   # a new image reached the
        # server: it confirms itself, or the old one reports the rollback (lwm2m/fota.py)
        from lwm2m import fota
        out.update(fota.wake(ex, store, board, cfg, planner))
        del fota
        dm.drop()
    sch = cfg["schedule"]
    # queue mode: answer what the server queued while we slept, stop when it is quiet (the
    # window is the planner's: wake/plan_wake.py, loaded for this and dropped)
    from wake import plan_wake
    w = out["listen_ms"] = plan_wake.listen_ms(planner)
    del plan_wake
    unload("wake.plan_wake")
    t = board.ticks_ms()
    if ex.serve(w, sch["listen_max_ms"]):
        planner.served(board.ticks_diff(board.ticks_ms(), t) - w)
    if dm.n:
        planner.last_exchange = int(board.now())
    dm.drop()
    # then the reports, once the DM code is gone (requests that arrive meanwhile are
    # served); what cannot go out now stays in the store for the next wake
    if sch.get("report") == "send":
        _send_report(ex, store, cfg, out)
        HEAP.mark("sent")
        dm.drop()
    if store.owned("lwm2m.observe"):    # observations: notifications may be due
        from lwm2m import observe
        try:
            out["notified"] = observe.notify(ex, registry, store,
                                             (cfg.get("report") or {}).get("notify", "con") == "con")
        except (LwError, MemoryError) as e:
            log("Notify failed: %r (heap free %d, largest block %d)" % ((e,) + heap_figures()), "W")
        out["notify_due"] = observe.due_count
        del observe
        HEAP.mark("notified")
        dm.drop()
    for _ in range(3):      # a lifetime write or Registration Update Trigger: Update now,
        if not dev.update_now:  # then keep listening: a queue-mode server sends what it
            break               # queued when the Update arrives (issue 18)
        dev.update_now = False
        try:
            reg.update(ex, None)
        except LwError as e:
            log("triggered Update failed: %s" % e, "W")
            break
        n = ex.serve(sch["listen_ms"], sch["listen_max_ms"])
        dm.drop()
        if n:
            out["served"] = out.get("served", 0) + n
            planner.last_exchange = int(board.now())
    if store.flash_get("fota") == b"d" and not dev.reboot:  # Object 5 (lwm2m/fota.py):
        from lwm2m import fota     # a download goes on, after the wake's own work
        out.update(fota.wake(ex, store, board, cfg, planner))
        del fota
        dm.drop()
        HEAP.mark("fota")


def schedule(board, store, cfg, dev, dm, reg, planner, net, chan, ex, result, label, out):
    """What the next wake needs (planner, channel session) and when it is due; the WAKE
    line's fields (path, result, bytes, retransmissions, what was delivered)."""
    planner.last_wake = int(board.now())
    planner.fails = 0 if result == "ok" else planner.fails + 1
    out["fails"] = planner.fails
    if dm.n:
        out["served"] = dm.n - dm.refused
    if dm.refused:
        out["refused"] = dm.refused
    if result == "ok":
        result = _delivered(out)
    elif out["taken"] and "waiting" not in out:
        from lwm2m import send
        out["waiting"] = send.count(store, cfg)    # kept for the next wake
        del send
        dm.drop()
    planner.save(ex.retransmissions)
    chan.settle()               # counters exact; the channel writes its own RTC section
    if len(planner.tried) > 1:      # the fallbacks this wake went through, with their outcomes
        out["tried"] = planner.tried
    if len(cfg["security"].get("modes") or ()) > 1:    # several mechanisms: which one (a>b:
        out["kind"] = chan.kind                           # fell back from a to b)
    out.update({"path": label, "result": result, "up": net.up, "down": net.down,
                "dg_up": net.dg_up, "dg_down": net.dg_down, "retx": ex.retransmissions,
                "dropped": chan.dropped})
    if chan.last_error and chan.dropped:
        out["drop_reason"] = str(chan.last_error)     # an exception object is not JSON
    if cfg.get("net"):
        out["net"] = net.report()
    if dev.reboot:
        out["reboot"] = 1
    if reg.location:
        out["loc"] = reg.location
        due = reg.renew_due() - board.now()
        if due > 0:
            out["next_s"] = int(due)
    nxt = [cfg["schedule"].get("sample_s") or 1 << 30]     # next sample, next notification
    for d in store.owned("d"):      # the deadlines modules persisted (notifications)
        nxt.append(int.from_bytes(store.get(d), "big") - board.now())
    # the sleep is the planner's too: the lifetime renewal, the NAT timeout when the device
    # must stay reachable or a keep-alive is cheaper than what follows an expiry
    s = cfg["schedule"]["sleep_s"]
    from wake import plan_wake
    k = plan_wake.sleep_s(planner, chan, s, out.get("next_s", s))
    del plan_wake
    unload("wake.plan_wake")
    if k < s:
        nxt.append(k)
        out["plan"] = k
    nxt = int(max(1, min(nxt)))
    if nxt < 1 << 30:
        out["next_s"] = min(out.get("next_s", nxt), nxt)
    net.close()
    return out


def _send_report(ex, store, cfg, out):
    """LwM2M 1.1 Send (POST /dp, SenML CBOR) of the waiting samples (lwm2m/send.py), when
    report.batch samples wait or a threshold was crossed. Sets out['send_due'] (samples that
    were due), out['sent'] (samples the server acknowledged) and out['waiting'] (samples still
    in the store). A failure keeps the samples for the next wake."""
    from lwm2m import send
    n0 = send.count(store, cfg)
    if send.due(store, cfg):
        out["send_due"] = n0
        try:
            send.flush(ex, store, cfg)
        except (LwError, MemoryError) as e:
            log("Send failed: %r (heap free %d, largest block %d)" % ((e,) + heap_figures()), "W")
        n1 = send.count(store, cfg)
        out["sent"] = n0 - n1       # samples leave the store only after the server's 2.04
        n0 = n1
    out["waiting"] = n0


def _delivered(out):
    """The result of a wake that reached the server: 'ok' when all the work that was due was
    done (the Send of the samples due, the notifications due, every server request served),
    else 'partial' with out['undone'] naming what was not. A partial wake is no failure of the
    path (the planner records it as working, no back-off): what was not delivered waits in the
    store and goes out at the next wake."""
    undone = []
    if out.get("sent", 0) < out.get("send_due", 0):
        undone.append("send")
    if out.get("notified", 0) < out.get("notify_due", 0):
        undone.append("notify")
    if out.get("refused"):
        undone.append("requests")
    if not undone:
        return "ok"
    out["undone"] = ",".join(undone)
    return "partial"
