"""The shop door unit's firmware (issue 20): a Pico W with a GM65-class QR scanner module,
a red/green LED, a buzzer and an optional relay, speaking docs/protocol.md to the site
gateway as a kiosk of kind "shop".

Everything except board.py (the only module that imports `machine`), main.py and
sim_board.py (the test bridge) is plain logic driven by a clock value and injected UART,
pins and socket module, so it runs under CPython, under MicroPython's WebAssembly port in
CI and on the board. hardware/shop-unit.md has the pin map, wiring and bill of materials.
"""
