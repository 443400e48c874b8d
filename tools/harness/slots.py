"""The harness's model of a board's A/B firmware slots and of the bootloader that picks one.

The device state directory holds slots/boot.json (written by the firmware through
board/unix.py: slot_activate, slot_confirm) and slots/a.bin / b.bin (the images the firmware
downloaded). Slot "a" without a file is the factory image, build/firmware.romfs. At each boot
(`boot(devdir)`, called by tools/runner.py before starting a wake) an unconfirmed image counts
one more trial; past max_trials the bootloader goes back to the previous slot and marks the
boot record rolled_back (the firmware reports Update Result 8). Returns the ROMFS image to
mount, or None for the factory image.
"""
import json
import os


def boot(devdir):
    p = os.path.join(devdir, "slots", "boot.json")
    try:
        with open(p) as f:
            b = json.load(f)
    except (OSError, ValueError):
        return None
    if b.get("confirmed") is False:
        b["trial"] = b.get("trial", 0) + 1
        if b["trial"] > b.get("max_trials", 3):
            b = {"active": b.get("prev", "a"), "confirmed": True, "rolled_back": True,
                 "failed": b.get("active")}
        tmp = p + ".tmp"
        with open(tmp, "w") as f:
            json.dump(b, f)
        os.replace(tmp, p)
    img = os.path.join(devdir, "slots", b.get("active", "a") + ".bin")
    return img if os.path.exists(img) and os.path.getsize(img) else None
