"""Millisecond clock arithmetic that is right on the board and under CPython.

MicroPython's ticks_ms() wraps around (2**30 on the RP2040), so differences must go
through ticks_diff/ticks_add; under CPython the clock is a plain growing integer.
"""

try:
    from time import ticks_add, ticks_diff, ticks_ms  # MicroPython
except ImportError:
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


def reached(now, deadline):
    """True once `now` is at or past `deadline` (wrap-safe)."""
    return ticks_diff(now, deadline) >= 0
