"""The unix board's A/B firmware slots (the harness's model of two ROMFS partitions):
<state>/slots/a.bin and b.bin, and boot.json, which the harness's bootloader
(tools/harness/slots.py) reads at each boot: the active slot, a new image on trial, how many
trials, a rollback. Loaded only by lwm2m/fota.py (board.slots()). docs/fota.md.
"""
import os
import sys


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _mkdir(p):
    try:
        os.mkdir(p)
    except OSError:
        pass


class Slots:
    def __init__(self, d):
        self.dir = d

    def _boot(self):
        import json
        try:
            with open(self.dir + "/slots/boot.json") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"active": "a"}

    def _set_boot(self, b):
        import json
        p = self.dir + "/slots/boot.json"
        with open(p + ".tmp", "w") as f:
            f.write(json.dumps(b))
        os.rename(p + ".tmp", p)

    def _spare(self):
        return self.dir + "/slots/" + ("a" if self._boot().get("active") == "b" else "b") + ".bin"

    def erase(self):
        """Empty the slot that is not running (the download goes there)."""
        _mkdir(self.dir + "/slots")
        with open(self._spare(), "wb"):
            pass

    def write(self, off, data):
        p = self._spare()
        _mkdir(self.dir + "/slots")
        if not _exists(p):
            with open(p, "wb"):
                pass
        with open(p, "r+b") as f:
            f.seek(off)
            f.write(data)
        sl = os.getenv("LWM2M_DIE_AFTER_SLOT_WRITES")    # harness: a power cut mid-download
        if sl:
            self._slot_n = getattr(self, "_slot_n", 0) + 1
            if self._slot_n >= int(sl):
                sys.exit(9)       # no WAKE line, nothing more persisted: the power went

    def read(self, off, n):
        try:
            with open(self._spare(), "rb") as f:
                f.seek(off)
                return f.read(n)
        except OSError:
            return b""

    def activate(self, max_trials=3):
        """Boot the spare slot from the next reset on, on trial: the bootloader goes back to the
        running one if the new image has not confirmed after max_trials boots."""
        b = self._boot()
        cur = b.get("active", "a")
        self._set_boot({"active": "b" if cur == "a" else "a", "prev": cur, "trial": 0,
                        "max_trials": max_trials, "confirmed": False})

    def state(self):
        """'pending' (activated, not booted yet), 'trial' (the new image runs, not confirmed
        yet), 'rolled-back' (the bootloader went back to the old one), or 'ok'."""
        b = self._boot()
        if b.get("rolled_back"):
            return "rolled-back"
        if b.get("confirmed") is False:
            return "trial" if b.get("trial", 0) > 0 else "pending"
        return "ok"

    def confirm(self):
        b = self._boot()
        b["confirmed"] = True
        b.pop("rolled_back", None)
        self._set_boot(b)

