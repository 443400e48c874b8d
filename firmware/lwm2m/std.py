"""The standard objects this client offers: 0 (Security, hidden), 1 (Server), 3 (Device),
4 (Connectivity Monitoring), 3303 (Temperature). Values come from the board and the config;
nothing is read at import or at build (callables are read when a request or a notification
needs them). What the server wrote, created or deleted (lwm2m/persist.py) is put back last.

Resource specs (see lwm2m/objects.py for the notation), with the OMA names:
  1 Server:  0 Short Server ID, 1 Lifetime, 2 Default Minimum Period, 3 Default Maximum Period,
             6 Notification Storing, 7 Binding, 8 Registration Update Trigger
  3 Device:  0 Manufacturer, 1 Model Number, 2 Serial Number, 3 Firmware Version, 4 Reboot,
             9 Battery Level, 10 Memory Free (KiB), 11 Error Code, 13 Current Time,
             16 Supported Binding and Modes
  4 Connectivity Monitoring: 0 Network Bearer, 1 Available Network Bearer, 2 Radio Signal
             Strength (dBm), 3 Link Quality, 4 IP Addresses
  3303 Temperature (several instances: Create/Delete): 5700 Sensor Value, 5701 Sensor Units,
             5601 Min Measured Value, 5602 Max Measured Value, 5605 Reset Min and Max,
             5750 Application Type (writable; set by a Create, not in instance 0)"""
from lwm2m.objects import Obj

FW_VERSION = "0.1.0"


def build(reg, board, cfg, dev):
    # Fill registry `reg`. `dev` is the wake context (actions such as reboot are recorded
    # there and carried out by the wake cycle; dev.store holds what the server wrote).
    srv = cfg["server"]
    mode = cfg["security"]["mode"]
    sec = {0: srv["uri"], 1: False, 2: 0 if mode == "psk" else 3, 10: srv.get("short_id", 1)}
    if mode == "oscore":
        # LwM2M 1.1: Security /0/0/17 (OSCORE Security Mode) links Object 21 instance 0; the
        # server URI is coap:// with Security Mode 3. Object 21 (bootstrap-only, never listed or
        # readable) records the algorithms; the master secret, salt and IDs stay in the secrets
        # file (read by sec/oscore_channel.py), never in the object tree.
        sec[17] = (21, 0)
        reg.add(Obj(21, "0s,1s,2s,3i,4i,5s", hidden=True)).add(0, {3: 10, 4: 5})
    reg.add(Obj(0, "0s,1b,2i,3o,5o,10i,17l", hidden=True)).add(0, sec)
    reg.add(Obj(1, "0iR,1iRW,2iRW,3iRW,6bRW,7sRW,8eE")).add(
        0, {0: srv.get("short_id", 1), 1: srv.get("lifetime", 86400), 2: srv.get("pmin", 0),
            3: srv.get("pmax", 0), 6: True, 7: "U", 8: dev.trigger_update})
    reg.add(Obj(3, "0sR,1sR,2sR,3sR,4eE,9iR,10iR,11iRM,13tRW,16sR", ver="1.1")).add(
        0, {0: cfg.get("manufacturer", "LwM2M-sleepy"), 1: cfg.get("model", board.name),
            2: cfg.get("serial", dev.endpoint), 3: FW_VERSION, 4: dev.request_reboot,
            9: board.battery, 10: dev.mem_free_kib, 11: {0: 0}, 13: dev.now, 16: "UQ"})
    if cfg.get("fota") is not None:
        # 5 Firmware Update: listed in Register; every request under /5 goes to lwm2m/fota.py
        reg.add(Obj(5, "0oW,1sRW,2eE,3iR,5iR,6sR,7sR,8iRM,9iR")).add(0, {})
    b = getattr(board, "bearer", None)
    if b:
        reg.add(Obj(4, "0iR,1iRM,2iR,3iR,4sRM")).add(
            0, {0: b, 1: {0: b()}, 2: board.rssi, 3: 0, 4: lambda: {0: board.ip_address()}})
    reg.add(Obj(3303, "5700fR,5701sR,5601fR,5602fR,5605eE,5750sRW", multi=True)).add(
        0, {5700: dev.read_temperature, 5701: "Cel", 5601: dev.t_min, 5602: dev.t_max,
            5605: dev.reset_minmax})
    w = dev.store.flash_get("dmw") if getattr(dev, "store", None) else None
    if w:
        import log
        from lwm2m import persist
        persist.restore(reg, dev.store)
        del persist
        log.unload("lwm2m.persist")            # its work is done for this wake (heap)
    return reg
