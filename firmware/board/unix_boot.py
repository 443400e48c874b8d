"""The unix board's boot record (<state>/slots/boot.json), read by the harness's bootloader
(tools/harness/slots.py) at each boot. Used by board/unix_slots.py. docs/fota.md."""
import json
import os


def _get(d):
    try:
        with open(d + "/boot.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"active": "a"}


def _put(d, b):
    with open(d + "/boot.json.tmp", "w") as f:
        f.write(json.dumps(b))
    os.rename(d + "/boot.json.tmp", d + "/boot.json")


def activate(d, max_trials=3):
    """Boot the spare slot from the next reset on, on trial: the bootloader goes back to the
    running one if the new image has not confirmed after max_trials boots."""
    cur = _get(d).get("active", "a")
    _put(d, {"active": "b" if cur == "a" else "a", "prev": cur, "trial": 0,
             "max_trials": max_trials, "confirmed": False})


def state(d):
    """'pending' (activated, not booted yet), 'trial' (the new image runs, not confirmed
    yet), 'rolled-back' (the bootloader went back to the old one), or 'ok'."""
    b = _get(d)
    if b.get("rolled_back"):
        return "rolled-back"
    if b.get("confirmed") is False:
        return "trial" if b.get("trial", 0) > 0 else "pending"
    return "ok"


def confirm(d):
    b = _get(d)
    b["confirmed"] = True
    b.pop("rolled_back", None)
    _put(d, b)
