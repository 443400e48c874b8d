#!/usr/bin/env python3
"""Harness LwM2M server with a console, on the real clock (make console).

    console.py [--port 5683] [--plugins nosec,dtls,oscore] [--psk IDENTITY:HEXKEY]
    (--port 0: any free port, printed at start; `make console PORT=N` passes --port N)

Commands (one per line on stdin):
    list                          registrations (endpoint, location, mode, address, queue)
    read EP URI [FORMAT]          e.g. read urn:dev:unix-0001 /3/0 senml-json
    write EP URI VALUE            text/plain write of one resource
    writef EP URI FORMAT JSON     write in a format: JSON {"rid": v} or [["/o/i/r", v], ...];
                                  PUT (replace); writep: POST (partial update)
    exec EP URI [ARGS]            execute, e.g. exec EP /3303/0/5605 0='x'
    discover EP URI               link format with attributes
    write-attr EP URI K=V ...     pmin pmax gt lt st (K= removes one)
    observe EP URI [FORMAT]       notifications print as they arrive
    cancel EP URI                 cancel an observation (GET with Observe 1)
    create EP URI FORMAT JSON     e.g. create EP /3303 senml-json [["/3303/1/5750", "K"]]
    delete EP URI                 delete an object instance
    read-composite EP FORMAT PATH...      Read-Composite (FETCH), FORMAT senml-json or senml-cbor,
                                  e.g. read-composite EP senml-cbor /3/0/9 /3303/0/5700
    observe-composite EP FORMAT PATH...   Observe-Composite: notifications carry every path
    cancel-composite EP FORMAT PATH...    cancel it (FETCH with Observe 1, same paths)
    write-composite EP FORMAT JSON        Write-Composite (iPATCH), JSON {"/o/i/r": v, ...};
                                  all values change or none
    observations [EP]             observations and their notifications so far
    sends [EP] [N]                the last N Send records (resolved SenML: name, time, value)
    events [N]                    the last N server events
    publish NAME FILE             serve a firmware package (tools/fwpkg.py) at coap[s]://HOST:PORT/NAME
                                  with Block2; then: write EP /5/0/1 coap://HOST:PORT/NAME,
                                  read EP /5/0/3 until 2 (Downloaded), exec EP /5/0/2 (docs/fota.md)
    push EP FILE [SZX]            block-wise Write (Block1) of a small package to /5/0/0
    quit
FORMAT: text, tlv, senml-json, senml-cbor, lwm2m-cbor, opaque.
Requests to a queue-mode client wait until its next Update; the answer is printed then.
"""
import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import _paths  # noqa: E402,F401
import json  # noqa: E402

from harness.server import LwServer, CF_TLV, CF_TEXT  # noqa: E402
from simclock import RealClock  # noqa: E402


async def _await_print(what, fut):
    try:
        r = await asyncio.wait_for(fut, 24 * 3600)
        print("%s -> %r" % (what, r), flush=True)
    except Exception as e:
        print("%s failed: %s" % (what, e), flush=True)


FORMATS = {"text": 0, "tlv": CF_TLV, "senml-json": 110, "senml-cbor": 112, "lwm2m-cbor": 11544,
           "opaque": 42, "link": 40}


def _values(text):
    v = json.loads(text)
    if isinstance(v, dict):
        return {int(k): x for k, x in v.items()}
    return [(p, x) for p, x in v]


def _queue(server, out, what, ep, fut):
    asyncio.get_running_loop().create_task(_await_print(what, fut))
    out("queued" if server.regs[ep].queue else "sent")


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
            accept = FORMATS[args[2]] if len(args) > 2 else None
            _queue(server, out, "read %s %s" % (args[0], args[1]), args[0], server.read(args[0], args[1], accept=accept))
        elif cmd == "write" and len(args) >= 3:
            _queue(server, out, "write %s %s" % (args[0], args[1]), args[0],
                   server.write(args[0], args[1], " ".join(args[2:])))
        elif cmd in ("writef", "writep") and len(args) >= 4:
            fut = server.write(args[0], args[1], _values(" ".join(args[3:])), FORMATS[args[2]], cmd == "writef")
            _queue(server, out, "%s %s %s" % (cmd, args[0], args[1]), args[0], fut)
        elif cmd == "exec" and len(args) >= 2:
            _queue(server, out, "exec %s %s" % (args[0], args[1]), args[0],
                   server.execute(args[0], args[1], " ".join(args[2:])))
        elif cmd in ("discover", "cancel", "delete") and len(args) == 2:
            _queue(server, out, "%s %s %s" % (cmd, args[0], args[1]), args[0], getattr(server, cmd)(args[0], args[1]))
        elif cmd == "write-attr" and len(args) >= 3:
            attrs = {}
            for kv in args[2:]:
                k, _, v = kv.partition("=")
                attrs[k] = v if v else None
            _queue(server, out, "write-attr %s %s" % (args[0], args[1]), args[0],
                   server.write_attrs(args[0], args[1], **attrs))
        elif cmd == "observe" and len(args) >= 2:
            accept = FORMATS[args[2]] if len(args) > 2 else None
            _queue(server, out, "observe %s %s" % (args[0], args[1]), args[0],
                   server.observe(args[0], args[1], accept=accept))
        elif cmd == "create" and len(args) >= 4:
            _queue(server, out, "create %s %s" % (args[0], args[1]), args[0],
                   server.create(args[0], args[1], _values(" ".join(args[3:])), FORMATS[args[2]]))
        elif cmd in ("read-composite", "observe-composite", "cancel-composite") and len(args) >= 3:
            cf = FORMATS[args[1]]
            if cf not in (110, 112):
                raise ValueError("composite operations use senml-json or senml-cbor")
            fut = getattr(server, cmd.replace("-", "_"))(args[0], args[2:], cf)
            _queue(server, out, "%s %s %s" % (cmd, args[0], " ".join(args[2:])), args[0], fut)
        elif cmd == "write-composite" and len(args) >= 3:
            cf = FORMATS[args[1]]
            if cf not in (110, 112):
                raise ValueError("composite operations use senml-json or senml-cbor")
            vals = json.loads(" ".join(args[2:]))
            if not isinstance(vals, dict):
                raise ValueError('values as JSON {"/o/i/r": value, ...}')
            _queue(server, out, "write-composite %s" % args[0], args[0], server.write_composite(args[0], vals, cf))
        elif cmd == "observations":
            for ep, reg in server.regs.items():
                if args and ep != args[0]:
                    continue
                for o in reg.observations.values():
                    last = o.notifications[-1]
                    out("%s %s token=%s notifications=%d seq=%s last=%r" % (
                        ep, o.uri if o.uri.startswith("composite:") else "/" + o.uri, o.token.hex(), len(o.notifications) - 1, last.observe, last.decoded()))
        elif cmd == "sends":
            n = int(args[-1]) if args and args[-1].isdigit() else 20
            for ep, reg in server.regs.items():
                if args and not args[0].isdigit() and ep != args[0]:
                    continue
                out("%s: %d Sends, %d records" % (ep, len(reg.sends), len(reg.samples)))
                for name, t, v in reg.samples[-n:]:
                    out("  %s t=%s v=%r" % (name, t, v))
        elif cmd == "publish" and len(args) == 2:      # firmware packages (docs/fota.md)
            with open(args[1], "rb") as f:
                server.files[args[0].strip("/")] = f.read()
            out("serving %s (%d B) at /%s" % (args[1], len(server.files[args[0].strip("/")]), args[0].strip("/")))
        elif cmd == "push" and len(args) >= 2:
            from harness import blockserve
            with open(args[1], "rb") as f:
                data = f.read()
            fut = asyncio.ensure_future(blockserve.push(server, args[0], "/5/0/0", data, int(args[2]) if len(args) > 2 else 5))
            _queue(server, out, "push %s" % args[1], args[0], fut)
        elif cmd == "events":
            n = int(args[0]) if args else 20
            for e in server.events[-n:]:
                out(" ".join("%s=%s" % kv for kv in e.items()))
        else:
            out("commands: list | read EP URI [FORMAT] | write EP URI VALUE | writef/writep EP URI FORMAT JSON | "
                "exec EP URI [ARGS] | discover EP URI | write-attr EP URI K=V.. | observe EP URI [FORMAT] | "
                "cancel EP URI | create EP URI FORMAT JSON | delete EP URI | read-composite EP FORMAT PATH.. | "
                "observe-composite EP FORMAT PATH.. | cancel-composite EP FORMAT PATH.. | "
                "write-composite EP FORMAT JSON | observations [EP] | sends [EP] [N] | "
                "events [N] | publish NAME FILE | push EP FILE [SZX] | quit")
    except (KeyError, ValueError) as e:
        out("error: %s" % e)
    return True


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5683)
    ap.add_argument("--plugins", default="nosec")
    ap.add_argument("--psk", action="append", default=[], help="IDENTITY:HEXKEY for the DTLS plugin")
    ap.add_argument("--bind-identities", action="store_true",
                    help="one registration for every identity that registered the same endpoint "
                         "(OSCORE and DTLS of one device: docs/planner.md)")
    args = ap.parse_args()
    cfg = {}
    if args.psk:
        cfg["dtls"] = {"psk_store": {i: bytes.fromhex(k) for i, k in (p.split(":", 1) for p in args.psk)}}
    server = LwServer(RealClock(), args.host, args.port, args.plugins.split(","), cfg, verbose=True,
                      bind_identities=args.bind_identities or None)
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
