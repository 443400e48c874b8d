"""The unix board's A/B firmware slots (the harness's model of two ROMFS partitions):
<state>/slots/a.bin and b.bin, and boot.json, which the harness's bootloader
(tools/harness/slots.py) reads at each boot: the active slot, a new image on trial, how many
trials, a rollback. Loaded only by lwm2m/fota.py; the boot record's operations (activate,
state, confirm) live in board/unix_boot.py, loaded when used (a download wake needs only
erase/write/read). docs/fota.md.
"""
import os


class Slots:
    def __init__(self, d):
        self.dir = d + "/slots"
        self.n = 0
        try:
            os.mkdir(self.dir)
        except OSError:
            pass

    def _spare(self):
        try:
            with open(self.dir + "/boot.json") as f:
                b = f.read()
        except OSError:
            b = ""
        return self.dir + ("/a.bin" if '"active": "b"' in b else "/b.bin")

    def erase(self):
        """Empty the slot that is not running (the download goes there)."""
        with open(self._spare(), "wb"):
            pass

    def write(self, off, data):
        p = self._spare()
        try:
            f = open(p, "r+b")
        except OSError:
            f = open(p, "wb")
        f.seek(off)
        f.write(data)
        f.close()
        sl = os.getenv("LWM2M_DIE_AFTER_SLOT_WRITES")    # harness: a power cut mid-download
        if sl:
            self.n += 1
            if self.n >= int(sl):
                import sys
                sys.exit(9)       # no WAKE line, nothing more persisted: the power went

    def read(self, off, n):
        try:
            with open(self._spare(), "rb") as f:
                f.seek(off)
                return f.read(n)
        except OSError:
            return b""

    def activate(self, max_trials=3):
        from board import unix_boot
        unix_boot.activate(self.dir, max_trials)

    def state(self):
        from board import unix_boot
        return unix_boot.state(self.dir)

    def confirm(self):
        from board import unix_boot
        unix_boot.confirm(self.dir)
