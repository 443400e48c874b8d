"""Board layer (HAL): clock, RTC memory, flash store, sleep, reset cause, radio, sensors.

`load()` picks the implementation: the unix port (host harness) or the ESP32. Every board
offers the same methods; see board/unix.py for the reference and its docstrings.
"""
import sys


def load(cfg=None):
    # webassembly: MicroPython's 32-bit port under Node, used to measure the heap (tools/wasm)
    if sys.platform in ("linux", "darwin", "webassembly"):
        try:
            import esp32   # noqa: F401  the harness's model of the ESP32 port (tools/esp32sim)
        except ImportError:
            esp32 = None
        if esp32:
            from board.esp32 import Esp32Board
            return Esp32Board(cfg)
        from board.unix import UnixBoard
        return UnixBoard(cfg)
    if sys.platform == "esp32":
        from board.esp32 import Esp32Board
        return Esp32Board(cfg)
    raise OSError("no board for platform " + sys.platform)
