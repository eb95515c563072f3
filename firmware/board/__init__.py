"""The door board's firmware: lights, buzzer, gate relay, people counter, tamper, fail-safe.

Everything here except pins.py and main.py is plain logic driven by a clock value and a
pin object, so it runs unchanged under CPython, the WebAssembly MicroPython in CI and on
the RP2040. pins.py is the only module that imports `machine`.
"""
