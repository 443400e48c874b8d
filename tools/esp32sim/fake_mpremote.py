#!/usr/bin/env python3
"""A stand-in for mpremote in tests (LWM2M_MPREMOTE=this file): records its command line and
applies what it can to a directory that plays the board's flash (LWM2M_FAKE_DEVICE):
`romfs deploy IMAGE` -> romfs0.img (checked like mpremote: ROMFS header, fits the partition),
`cp SRC :DST` -> DST, `reset` -> counted. Anything else fails, as an unknown command would."""
import json
import os
import shutil
import sys

ROMFS_HEADER = b"\xd2\xcd\x31"
PARTITION = 128 * 1024


def main(argv):
    dev = os.environ["LWM2M_FAKE_DEVICE"]
    os.makedirs(dev, exist_ok=True)
    with open(os.path.join(dev, "mpremote.log"), "a") as f:
        f.write(json.dumps(argv) + "\n")
    cmds, cur = [], []
    for a in argv:
        if a == "+":
            cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    cmds.append(cur)
    for c in cmds:
        if c[:1] == ["connect"]:
            if not os.path.exists(c[1]):
                print("mpremote: failed to access %s" % c[1], file=sys.stderr)
                return 1
            c = c[2:]
        if c[:2] == ["romfs", "deploy"]:
            data = open(c[2], "rb").read()
            if not data.startswith(ROMFS_HEADER) or len(data) > PARTITION:
                print("Invalid ROMFS image or too big", file=sys.stderr)
                return 1
            with open(os.path.join(dev, "romfs0.img"), "wb") as f:
                f.write(data)
            print("ROMFS image deployed (%d bytes)" % len(data))
        elif c[:1] == ["cp"] and len(c) == 3 and c[2].startswith(":"):
            shutil.copyfile(c[1], os.path.join(dev, c[2][1:].lstrip("/")))
        elif c == ["reset"]:
            with open(os.path.join(dev, "resets"), "a") as f:
                f.write("1\n")
        else:
            print("fake mpremote: unsupported %r" % c, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
