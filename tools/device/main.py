"""/main.py on the board's filesystem (`make deploy` copies it there): starts the client from /rom.

After every reset, deep-sleep wakes included, MicroPython runs its frozen _boot.py (mounts the
filesystem), then boot.py and main.py from the filesystem. Firmware built with ROMFS (v1.25.0 or
later, a `romfs` partition) mounts the ROMFS image at /rom during start-up and puts /rom and
/rom/lib on sys.path; this file mounts it itself if that did not happen, puts /rom first (here,
on the filesystem, this file is itself "main"), and imports /rom/main.mpy (firmware/main.py):
one wake, then deep sleep. If the client cannot even start, the board sleeps 5 minutes and
tries again instead of idling at the REPL with the radio's battery draining.
"""
import sys

try:
    import os
    os.stat("/rom/main.mpy")
except OSError:
    try:
        import vfs
        vfs.mount(vfs.VfsRom(vfs.rom_ioctl(2, 0)), "/rom")
    except Exception as e:
        print("E no client in /rom (run make deploy): %r" % (e,))
        raise SystemExit
if sys.path[0] != "/rom":
    sys.path.insert(0, "/rom")
import gc

gc.collect()
try:
    import wake
    wake.HEAP0 = gc.mem_alloc()     # heap figures count what the wake itself uses
    import main                     # noqa: F401  (/rom/main.mpy runs the wake and sleeps)
except Exception as e:              # the client never got to its own error handling
    print("E client failed to start: %r" % (e,))
    sys.print_exception(e)
    import machine
    machine.deepsleep(300000)
