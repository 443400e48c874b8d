"""Run one host_tests/mp/test_*.py module under the micropython binary.

Usage: micropython -X heapsize=91K host_tests/mp_run.py test_coap_codec
   or, as host_tests/mp/test_micropython.py does: boot the firmware ROMFS image (like the device)
   with the device's heap budget (tools/heap_budget.py, via runner.device_argv) and call
   run(name); firmware modules then come precompiled from /rom.
Calls every function whose name starts with test_, prints one line per test and a closing
'N passed, M failed' line; exits 1 on any failure. pytest runs the same files under CPython.
"""
import sys


def run(name, here=None):
    here = here or sys.path[0]
    sys.path.insert(0, here + "/mp")
    if "/rom" not in sys.path:
        sys.path.insert(1, here + "/../firmware")
    mod = __import__(name)
    passed = failed = 0
    for k in sorted(dir(mod)):
        if not k.startswith("test_"):
            continue
        f = getattr(mod, k)
        if not callable(f):
            continue
        try:
            f()
            passed += 1
            print("ok  ", k)
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL", k, repr(e))
            sys.print_exception(e)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__" and len(sys.argv) > 1:
    run(sys.argv[1])
