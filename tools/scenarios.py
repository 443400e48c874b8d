"""Scenario definitions for the runner: what the device, the server and the NAT do.

A scenario is a dict. Keys: wakes, board (overrides merged into boards/<board>.json), mode
(nosec | psk | oscore), plugins (server side), nat (NatSim knobs, None = no NAT), local_port
('fresh' per wake or 'fixed'), actions ({wake index: [(op, args...)]} done by the server
*before* that wake, while the device sleeps: queued in queue mode), power_cut (probability that
RTC memory is lost before a wake), server_restart (wake indices before which the server forgets
all security state), sleep_override ({wake index: seconds} the device stays off after that wake,
whatever it asked), nat_timeout ({wake index: seconds}: the NAT's mapping timeout from that
wake on), settle_s (real seconds the server keeps running after each wake), seed.
Action ops: read, write, exec (queued for a queue-mode client), read-now (sent at once),
forget (the server drops every registration). drop_down ({wake index: n or [skip, n, first
byte]}): from that wake on, the server's next n datagrams starting with that byte (default 23,
DTLS application data) are lost, after `skip` of them went through; drop_send_acks ({wake
index: n}): the server's answers to the next n Send transmissions are lost. heap_budget ({wake index: bytes}) gives one
wake a different heap budget than the device's (tools/heap_budget.py; to study what fits).
heap (bytes) gives every wake of the scenario another budget. modem: the firmware runs over an
nRF9160 Serial LTE Modem emulator (tools/modem_emu/__init__.py documents the keys).
"""

FAST_COAP = {"ack_timeout_ms": 300, "ack_random_factor": 1.5, "max_retransmit": 3}
FAST_SCHED = {"listen_ms": 300, "listen_max_ms": 3000}

SCENARIOS = {
    "demo": {
        "title": "24 hourly wakes, NoSec, queue mode, through a 120 s NAT",
        "wakes": 24, "mode": "nosec", "plugins": ["nosec"],
        "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
        "nat": {"timeout_s": 120, "filtering": "APDF", "port_alloc": "random"},
        "local_port": "fresh",
        # wake 2: the server observes the temperature (notify on a 0.5 C move, at least every
        # 3 h); the device's Send goes out every wake; reads through queue mode
        "actions": {2: [("write-attr", "/3303/0/5700", {"pmax": 10800, "st": 0.5}),
                        ("observe", "/3303/0/5700")],
                    3: [("read", "/3/0")], 12: [("read", "/3303/0")], 18: [("read", "/3/0/9")]},
    },
    "nosec-fixed-port": {
        "title": "NoSec, fixed local port, sleeping 60 s (< NAT timeout)",
        "wakes": 6, "mode": "nosec", "plugins": ["nosec"],
        "board": {"schedule": dict(FAST_SCHED, sleep_s=60), "coap": FAST_COAP},
        "nat": {"timeout_s": 120}, "local_port": "fixed",
    },
    "oscore": {
        "title": "OSCORE: B.2 on first contact, then one small exchange per wake after NAT expiry",
        "wakes": 6, "mode": "oscore", "plugins": ["oscore", "nosec"],
        "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
        "nat": {"timeout_s": 120}, "local_port": "fresh",
        "actions": {2: [("read", "/3/0/9")]},
    },
    "dtls": {
        "title": "DTLS 1.2 PSK without CID: full handshake once, then resumption + Update per wake",
        "wakes": 6, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None},
        "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
        "nat": {"timeout_s": 120}, "local_port": "fresh",
        "server_restart": [4], "actions": {2: [("read", "/3/0/9")]},
    },
    "dtls-cid": {
        "title": "DTLS 1.2 with Connection ID (RFC 9146): one record each way per wake after NAT expiry",
        "wakes": 6, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"},
        "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
        "nat": {"timeout_s": 120}, "local_port": "fresh",
        "server_restart": [4], "actions": {2: [("read", "/3/0/9")]},
    },
}

# OSCORE: the server reboots before wake 3 and loses the contexts B.2 derived (only the master
# secret is provisioned): the device's Update gets an unprotected 4.01, the planner falls back
# to 'oscore-b2' in the same wake and the context heals without operator action.
SCENARIOS["oscore-heal"] = {
    "title": "OSCORE: the server loses the B.2 context; the device heals through B.2 in the same wake",
    "wakes": 5, "mode": "oscore", "plugins": ["oscore", "nosec"],
    "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
    "nat": {"timeout_s": 120}, "local_port": "fresh",
    "plugin_cfg": {"oscore": {"restart_loses_contexts": True, "secrets": {
        "master_secret": "0102030405060708090a0b0c0d0e0f10", "master_salt": "9e7ca92223786340",
        "sender_id": "01", "recipient_id": "00"}}},      # = secrets/example.json's oscore
    "server_restart": [3], "actions": {2: [("read", "/3/0/9")]},
}

# DTLS path scenarios: each wake takes a sample and Sends it (the runner's summary counts the
# samples the server received). host_tests/e2e/test_e2e_dtls.py runs them with schedule.report
# "none", so that each wake's bytes are its path's own cost (make bench's rows).
_DTLS_KA = {"schedule": dict(FAST_SCHED, sleep_s=3600, report="send"), "coap": FAST_COAP}

# No CID: the NAT forgets the device every hour, so every wake resumes the session with the
# Update piggy-backed on the client's CCS + Finished. Before wake 3 the server restarts and loses
# its sessions (full handshake + Update); before wake 5 it loses sessions and registrations
# (full handshake + Register).
SCENARIOS["dtls-resume"] = {
    "title": "DTLS without CID: resume+update each hour; server restarts (sessions lost, then registrations too)",
    "wakes": 7, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None},
    "board": _DTLS_KA, "nat": {"timeout_s": 120}, "local_port": "fresh",
    "server_restart": [3, 5], "actions": {5: [("forget",)]},
}
# RFC 9146 CID: one record each way per wake from a new NAT port; the server follows the new
# address. Before wake 4 it restarts and forgets sessions, CIDs and registrations: in that wake
# the CID record goes unanswered, the resumption is refused (the server starts a full
# handshake, which the client finishes inline) and the device registers again.
SCENARIOS["dtls-cid-fallback"] = {
    "title": "DTLS CID (RFC 9146): cid+update each hour; server loses everything: cid -> resume -> full handshake + Register",
    "wakes": 6, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"},
    "board": _DTLS_KA, "nat": {"timeout_s": 120}, "local_port": "fresh",
    "server_restart": [4], "actions": {4: [("forget",)]},
}
# No CID, fixed local port, sleeping 60 s under a 120 s NAT timeout: the mapping and the DTLS
# connection are both still alive, so wakes after the first reuse the connection (one record each way).
SCENARIOS["dtls-reuse"] = {
    "title": "DTLS without CID, fixed port, 60 s sleeps < 120 s NAT timeout: dtls-reuse+update, one record each way",
    "wakes": 5, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None},
    "board": dict(_DTLS_KA, schedule=dict(_DTLS_KA["schedule"], sleep_s=60)),
    "nat": {"timeout_s": 120}, "local_port": "fixed",
}

# Heap: the AT driver (net/slm.py) costs about 8 KiB more than net/udp.py on the unix port;
# every way back over the modem fits the harness budget (tools/heap_budget.py). docs/nrf9160.md.
# nRF9160 behind the Serial LTE Modem (tools/modem_emu): the firmware drives the modem's AT
# commands over the UART (a loopback TCP socket here); datagrams leave from the modem's socket
# through the NAT; each wake's energy comes from the emulated modem's radio states.
_NRF = {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": dict(FAST_COAP, ack_timeout_ms=1500)}


def _nrf(title, mode, plugins, wakes=24, modem=None, **kw):
    sc = {"title": title, "wakes": wakes, "mode": mode, "plugins": plugins, "board_name": "nrf9160",
          "board": _NRF, "nat": {"timeout_s": 120}, "local_port": "fresh",
          "modem": dict({"dialect": "A", "profile": "lte-m"}, **(modem or {}))}
    sc.update(kw)
    return sc


SCENARIOS["nrf9160"] = _nrf("nRF9160 (SLM dialect A, LTE-M): a day of hourly reports, OSCORE; modem reset at 8, "
                            "coverage gap at 15", "oscore", ["oscore", "nosec"],
                            modem={"faults": {8: {"reset": True}, 15: {"coverage": False}}},
                            expect_fail=[15])
SCENARIOS["nrf9160-nosec"] = _nrf("nRF9160 LTE-M, NoSec: a day of hourly reports", "nosec", ["nosec"])
SCENARIOS["nrf9160-oscore"] = _nrf("nRF9160 LTE-M, OSCORE: a day of hourly reports", "oscore", ["oscore", "nosec"])
SCENARIOS["nrf9160-dtls-cid"] = _nrf("nRF9160 LTE-M, host DTLS with CID: a day of hourly reports", "psk",
                                     ["dtls", "nosec"], security={"cid": "rfc9146"})
SCENARIOS["nrf9160-reset"] = _nrf("nRF9160: the modem resets while the host sleeps (before wake 3)", "oscore",
                                  ["oscore", "nosec"], wakes=6, modem={"faults": {3: {"reset": True}}})
SCENARIOS["nrf9160-coverage"] = _nrf("nRF9160: no coverage at wakes 2-3 (registration lost), back at 4", "nosec",
                                     ["nosec"], wakes=6, modem={"faults": {2: {"coverage": False},
                                                                           3: {"coverage": False}}},
                                     expect_fail=[2, 3])
SCENARIOS["nrf9160-b"] = _nrf("nRF9160-class modem with the Serial Modem add-on (dialect B, hex mode), NoSec",
                              "nosec", ["nosec"], wakes=6, modem={"dialect": "B"})
SCENARIOS["nrf9160-modem-dtls"] = _nrf("nRF9160 LTE-M, DTLS in the modem (#XSSOCKET, CID): a day of hourly reports",
                                       "psk", ["dtls", "nosec"], security={"modem": True})
SCENARIOS["nrf9160-modem-dtls-reset"] = _nrf("nRF9160, DTLS in the modem: modem reset before wake 3 (new handshake by "
                                             "the modem), server loses its sessions before wake 5", "psk",
                                             ["dtls", "nosec"], security={"modem": True}, wakes=7, modem={"faults": {3: {"reset": True}}},
                                             server_restart=[5], actions={5: [("forget",)]})
SCENARIOS["nrf9160-edrx"] = _nrf("nRF9160 LTE-M, NoSec, no PSM but eDRX 81.92 s: reachable between wakes, at a cost",
                                 "nosec", ["nosec"], wakes=4,
                                 modem={"board": {"psm": {"enable": False}, "edrx": "0101"}})

# 50 server requests queued while the device sleeps, all served in one DTLS resumption wake
# (no CID: the NAT forgot the device, the session is resumed with the Update piggy-backed, then
# the server sends everything it queued): Read of /3/0 in SenML CBOR and TLV, Write,
# Write-Attributes, Observe, Discover, Create and Delete. Every answer must be 2.xx.
_BURST = ([("read-cf", "/3/0", 112)] * 10 + [("read-cf", "/3/0", 11542)] * 10
          + [("write", "/1/0/3", str(300 + k)) for k in range(6)]
          + [("write-attr", "/3303/0/5700", {"pmax": 10800 + k, "st": 0.5}) for k in range(6)]
          + [("observe", "/3303/0/5700"), ("observe", "/3/0/9")]
          + [("discover", "/3"), ("discover", "/3303/0")] * 3
          + [("create", "/3303", [("/3303/%d/5750" % k, "K")], 11542) for k in range(5, 10)]
          + [("delete", "/3303/%d" % k) for k in range(5, 10)])
assert len(_BURST) == 50
SCENARIOS["dtls-resume-burst"] = {
    "title": "DTLS without CID: 50 requests queued for one resumption wake (read SenML CBOR/TLV, write, "
             "write-attributes, observe, discover, create, delete), all answered 2.xx",
    "wakes": 4, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": None},
    "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
    "nat": {"timeout_s": 120}, "local_port": "fresh",
    "actions": {2: _BURST},
}

# The ESP32 board layer (firmware/board/esp32.py) on the models of MicroPython's ESP32 APIs
# (tools/esp32sim), booted from the image and the files `make deploy` puts on a board; each
# wake's Wi-Fi association time and energy are in its notes and in reports/esp32-sim.json.
SCENARIOS["esp32-sim"] = {
    "title": "ESP32 board layer on the API models: OSCORE through a 120 s NAT, Wi-Fi association each wake",
    "wakes": 6, "mode": "oscore", "plugins": ["oscore", "nosec"], "board_name": "esp32-sim",
    "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
    "nat": {"timeout_s": 120}, "local_port": "fresh",
    "esp32sim": {"ap": {"assoc_ms": 400}, "clock_set": True},   # set before the run (no NTP in the table)
    "actions": {2: [("read", "/4/0")]},
}

# LwM2M bootstrap (docs/bootstrap.md): the device knows only its bootstrap server; the first wake
# bootstraps (Delete, Discover, Write /0/1 /1/0 /21/0, Read /1/0, Finish), commits the account
# to flash and registers with the server it was given, here over OSCORE. The first account
# points at a dead port: three failed wakes later the device bootstraps again (LwM2M 1.1
# bootstrap after registration failure) and gets the working one.
SCENARIOS["bootstrap"] = {
    "title": "Bootstrap: a dead account first, bootstrap again after 3 failed wakes, then OSCORE",
    "wakes": 7, "mode": "nosec", "plugins": ["oscore", "nosec"],
    "board": {"schedule": dict(FAST_SCHED, sleep_s=3600, error_backoff_s=600), "coap": FAST_COAP},
    "nat": {"timeout_s": 120}, "local_port": "fresh",
    "bootstrap": {"mode": "oscore", "dead_first": True, "board": {"after_fails": 3}},
    "actions": {6: [("read", "/1/0")]},
    "expect_fail": (1, 2, 3),    # the dead account's wakes (runner exit status)
}

# Firmware update of a sleeping device (docs/fota.md): the server writes a Package URI (its own
# CoAP server, Block2); the device fetches a share of the image per wake within fota.wake_uJ,
# through a NAT losing 10 % of the datagrams; the power goes mid-download in wake 3 (and RTC
# memory with it) and the download resumes from what is in flash; the image is verified, the
# server executes Update, the device boots the new slot on trial, confirms it, and reports
# State 0 / Update Result 1 and the new version in /3/0/3.
SCENARIOS["fota"] = {
    "title": "Firmware update: Block2 pull over several wakes, 10 % loss, power cut mid-download, install, new version",
    "wakes": 16, "mode": "nosec", "plugins": ["nosec"],
    "board": {"schedule": dict(FAST_SCHED, sleep_s=3600, report="none", listen_ms=1000), "coap": FAST_COAP,
              "fota": {"wake_uJ": 400000}},
    "nat": {"timeout_s": 120, "loss": 0.1, "seed": 3}, "local_port": "fresh",
    "wake_env": {3: {"LWM2M_DIE_AFTER_SLOT_WRITES": "12"}}, "power_cut_at": [4],
    "wake_notes": {3: ["the power goes after 12 blocks (no WAKE line)"]},
    "actions": {1: [("read", "/3/0/3"), ("fota", "0.2.0")], 9: [("read", "/5/0/3")], 10: [("exec", "/5/0/2")],
                13: [("read", "/5/0/3"), ("read", "/5/0/5"), ("read", "/3/0/3")]},
    "expect_fail": (3,),         # the wake the power cut ends
}

# Several mechanisms for one server (security.modes, docs/planner.md "Several mechanisms"):
# OSCORE and DTLS-PSK provisioned together; the server loses its OSCORE records before wake 3
# (B.2 cannot restore them): the wake falls back to DTLS and Registers under the PSK identity.
SCENARIOS["multi"] = {
    "title": "OSCORE + DTLS provisioned together: the server loses OSCORE at wake 3, the wake falls back to DTLS",
    "wakes": 5, "mode": "oscore", "modes": ["oscore", "psk"], "plugins": ["dtls", "oscore", "nosec"],
    "security": {"cid": "rfc9146", "retransmit_ms": 300, "max_tries": 2},
    "board": {"schedule": dict(FAST_SCHED, sleep_s=3600), "coap": FAST_COAP},
    "nat": {"timeout_s": 120}, "local_port": "fresh", "server_drop": {3: ["oscore"]},
}
