"""The nRF9160 (Serial LTE Modem) as the wake's network: the board config's `"net": "net.modem"`
makes wake/cycle.py import this module and call socket(); the options are the `modem` section.
The entry point is named so that wake/cycle.py interns no new name for it (the DTLS wakes sit at
a doubling of MicroPython's name pool):

    socket(cfg, board, store, secrets) -> net/slm.py SlmNet: the modem's UDP socket, or, with
        security.mode "psk" and security.modem true, its DTLS socket (PSK in %CMNG), whose
        open() then gives wake/cycle.py the channel (sec/modem_dtls.py)

docs/nrf9160.md.
"""


def socket(cfg, board, store, secrets):
    from net.slm import SlmNet
    m = cfg["modem"]
    m["_sleep_s"] = cfg["schedule"]["sleep_s"]
    sec = None
    s = cfg["security"]
    if s.get("modem") and (s["mode"] == "psk" or "psk" in (s.get("modes") or ())):
        sec = (int(m.get("sec_tag", 16842753)), secrets["psk_identity"], secrets["psk_key"])
        if s.get("modes"):
            # several mechanisms (wake/mechanisms.py switches the sockets): start on the socket
            # of the registration's mechanism (RTC 'sm'), else of security.mode; a 4th item
            # starts on the UDP one
            r = store.get("sm")
            if (r if r in (b"psk", b"oscore") else s["mode"].encode()) != b"psk":
                sec += (0,)
    return SlmNet(cfg["_host"], cfg["_port"], board, store, m, sec)
