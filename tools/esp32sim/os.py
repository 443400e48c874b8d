"""Model of the ESP32 port's `os` (docs/library/os.rst): the filesystem and urandom, but none of
the unix port's process environment: no getenv/putenv/unsetenv/system (firmware that reads
environment variables must not need them on a board)."""
import _sim

_o = _sim.os
sep = "/"
remove = _o.remove
rename = _o.rename
stat = _o.stat
statvfs = _o.statvfs
listdir = _o.listdir
ilistdir = _o.ilistdir
mkdir = _o.mkdir
rmdir = _o.rmdir
chdir = _o.chdir
getcwd = _o.getcwd
urandom = _o.urandom
mount = _o.mount
umount = _o.umount
unlink = _o.remove


def sync():
    pass


def uname():
    return ("esp32", "esp32", "1.25.0", "v1.25.0 on 2025-04-15 (model)", "ESP32 module with ESP32")


def dupterm(stream_object=None, index=0):
    return None
