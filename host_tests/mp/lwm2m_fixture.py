"""Shared set-up for the LwM2M unit tests (CPython and micropython, 64 KiB heap with every
module compiled from source: kept small): a board without hardware, a store with the same
interface as state.Store (sections in 'RTC memory', keys in 'flash'), the standard objects,
and requests as CoAP messages.

Under micropython the firmware's bytecode comes from build/mpy (mpy-cross output, what the
device runs; `make test` and the scenario runner build it) when every .mpy there is newer than
its source: compiling all the LwM2M modules from source needs more than the 64 KiB heap.
"""
import gc
import sys


def _prefer_mpy():
    import os
    fw = [p for p in sys.path if p.endswith("/firmware")]
    if not fw:
        return
    mpy = fw[0][:-len("firmware")] + "build/mpy"
    try:
        for d in ("lwm2m", "coap"):
            for f in os.listdir(fw[0] + "/" + d):
                if f.endswith(".py") and os.stat(fw[0] + "/" + d + "/" + f)[8] > os.stat(mpy + "/" + d + "/" + f[:-3] + ".mpy")[8]:
                    return
    except OSError:
        return
    sys.path.insert(0, mpy)


if sys.implementation.name == "micropython":
    _prefer_mpy()

from lwm2m.dm import DM   # first, while the heap is empty: compiling it from source is big
from coap import codec as C
from lwm2m.objects import Registry
from lwm2m import std
import state


class Store(state.Store):
    # state.Store (its registry checks every put) over a dict for 'RTC memory'
    def load(self):
        self.sections = dict(self.board.rtc or {})

    def commit(self):
        self.board.rtc = dict(self.sections)

    def flash_get(self, key):
        return self.board.flash.get(key)

    def flash_put(self, key, data):
        self.board.flash[key] = bytes(data)


class Board:
    name = "test"

    def __init__(self):
        self.rtc = {}
        self.flash = {}
        self.t = 1798761600.0
        self.temp = 21.5

    def now(self):
        return self.t

    def temperature(self):
        return self.temp

    def battery(self):
        return 87

    def mem_free(self):
        return 40000

    def urandom(self, n):
        return bytes(n)

    def bearer(self):
        return 21

    def rssi(self):
        return -67

    def ip_address(self):
        return "127.0.0.1"

    def ticks_ms(self):
        return int(self.t * 1000)

    def ticks_diff(self, a, b):
        return a - b


class Dev:
    def __init__(self, board, store):
        self.board = board
        self.store = store
        self.endpoint = "urn:dev:test"
        self.reboots = 0
        self.updates = 0

    def now(self):
        return int(self.board.now())

    def mem_free_kib(self):
        return 39

    def request_reboot(self, arg=b""):
        self.reboots += 1

    def trigger_update(self, arg=b""):
        self.updates += 1


CFG = {"server": {"uri": "coap://127.0.0.1:5683", "lifetime": 86400, "short_id": 1},
       "security": {"mode": "nosec"}}


def setup(board=None):
    """(board, store, registry, dm) with a fresh or given board (flash kept: a new wake)."""
    gc.collect()
    board = board or Board()
    store = Store(board)
    store.load()
    dev = Dev(board, store)
    reg = std.build(Registry(), board, CFG, dev)
    return board, store, reg, DM(reg, store, None, dev.now), dev


def req(code, path, payload=b"", cf=None, accept=None, query=(), observe=None, token=b"\x01"):
    m = C.Message(C.CON, code, 1, token, payload)
    m.set_path(path)
    for q in query:
        m.add(C.URI_QUERY, q)
    if cf is not None:
        m.add(C.CONTENT_FORMAT, cf)
    if accept is not None:
        m.add(C.ACCEPT, accept)
    if observe is not None:
        m.add(C.OBSERVE, observe)
    return m
