"""CPython stand-in for MicroPython's `micropython` module, so firmware/ imports on the host."""


def const(x):
    return x


def mem_info(*_a):
    print("mem_info: not available under CPython")


def alloc_emergency_exception_buf(_n):
    pass
