#!/usr/bin/env python3
"""Harness LwM2M server with a console, on the real clock (make console).

    console.py [--port 5683] [--plugins nosec,dtls,oscore] [--psk IDENTITY:HEXKEY]

Commands (one per line on stdin):
    list                          registrations (endpoint, location, mode, address, queue)
    read EP URI [tlv|text]        e.g. read urn:dev:unix-0001 /3/0
    write EP URI VALUE            text/plain write of one resource
    exec EP URI [ARGS]            execute
    events [N]                    the last N server events
    quit
Requests to a queue-mode client wait until its next Update; the answer is printed then.
"""
import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import _paths  # noqa: E402,F401
from harness.server import LwServer, CF_TLV, CF_TEXT  # noqa: E402
from simclock import RealClock  # noqa: E402


async def _await_print(what, fut):
    try:
        r = await asyncio.wait_for(fut, 24 * 3600)
        print("%s -> %r" % (what, r), flush=True)
    except Exception as e:
        print("%s failed: %s" % (what, e), flush=True)


def command(server, line, out=print):
    """Run one console command; returns False on quit. Futures print when they resolve."""
    parts = line.split()
    if not parts:
        return True
    cmd, args = parts[0], parts[1:]
    try:
        if cmd == "quit":
            return False
        if cmd == "list":
            if not server.regs:
                out("no registrations")
            for ep, reg in server.regs.items():
                s = reg.summary()
                out("%s loc=%s mode=%s addr=%s lt=%s queue=%s updates=%s links=%s" % (
                    ep, s["loc"], s["mode"], s["addr"], s["lt"], s["queue"], s["updates"], s["links"]))
        elif cmd == "read" and len(args) >= 2:
            accept = {"tlv": CF_TLV, "text": CF_TEXT}.get(args[2]) if len(args) > 2 else None
            fut = server.read(args[0], args[1], accept=accept)
            asyncio.get_running_loop().create_task(_await_print("read %s %s" % (args[0], args[1]), fut))
            out("queued" if server.regs[args[0]].queue else "sent")
        elif cmd == "write" and len(args) >= 3:
            fut = server.write(args[0], args[1], " ".join(args[2:]))
            asyncio.get_running_loop().create_task(_await_print("write %s %s" % (args[0], args[1]), fut))
            out("queued" if server.regs[args[0]].queue else "sent")
        elif cmd == "exec" and len(args) >= 2:
            fut = server.execute(args[0], args[1], " ".join(args[2:]))
            asyncio.get_running_loop().create_task(_await_print("exec %s %s" % (args[0], args[1]), fut))
            out("queued" if server.regs[args[0]].queue else "sent")
        elif cmd == "events":
            n = int(args[0]) if args else 20
            for e in server.events[-n:]:
                out(" ".join("%s=%s" % kv for kv in e.items()))
        else:
            out("commands: list | read EP URI [tlv|text] | write EP URI VALUE | exec EP URI [ARGS] | events [N] | quit")
    except KeyError as e:
        out("error: %s" % e)
    return True


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5683)
    ap.add_argument("--plugins", default="nosec")
    ap.add_argument("--psk", action="append", default=[], help="IDENTITY:HEXKEY for the DTLS plugin")
    args = ap.parse_args()
    cfg = {}
    if args.psk:
        cfg["dtls"] = {"psk_store": {i: bytes.fromhex(k) for i, k in (p.split(":", 1) for p in args.psk)}}
    server = LwServer(RealClock(), args.host, args.port, args.plugins.split(","), cfg, verbose=True)
    await server.start()
    print("harness server on %s:%d; type 'help'" % (server.host, server.port), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or not command(server, line.strip()):
            break
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
