"""The board firmware's own tests: run under CPython (pytest wrapper) and MicroPython."""
