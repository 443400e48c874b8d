"""gc for recorded and replayed wakes (tools/wasm; not firmware).

Unix port: the real gc. Webassembly port (pyscript variant, the one on npm): its heap grows on
demand and gc.collect() only sets a flag, the collection runs when control is back at the JS
top level (the port cannot see pointers held in wasm locals). A live-heap checkpoint needs a
real collection, so collect() asks the host (replay.mjs) to run one now: the host makes the
port believe it is at the top level for one call into a no-op Python function, whose return
collects. Roots are then the VM's root pointers and the Python stack (pystack), where every
Python frame lives; a live object held only by a C local of a frame below would be freed, and
the byte-for-byte check of the replay would show the damage.
"""
import gc as _gc
import sys

mem_alloc = _gc.mem_alloc
mem_free = _gc.mem_free
threshold = _gc.threshold
enable = _gc.enable
disable = _gc.disable
isenabled = _gc.isenabled
if sys.platform == "webassembly":
    import host

    def _nop():
        pass

    def collect():
        _gc.collect()
        host.collect(_nop)
else:
    collect = _gc.collect
