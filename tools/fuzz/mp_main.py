"""Entry point under the micropython binary: mp_main.py TARGET SEED COUNT | TARGET replay FILE
(see engine.py). FUZZ_FIRMWARE: the firmware directory (and, under CPython, the shims)."""
import sys

import engine

engine.main(sys.argv)
