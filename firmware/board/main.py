"""The board's entry point: copied to the RP2040 as /main.py (see hardware/pins.md).

Builds the real pins, the Board logic and runs the tick loop forever. The watchdog is
fed only from inside Board.tick, so a hung loop resets the board, which boots with the
relay off and tells the Pi it restarted.
"""

import json
import time

from board import pins as board_pins
from board.core import Board

TICK_MS = 5
SETTINGS = "settings.json"  # optional, beside main.py: overrides of board/config.py DEFAULTS


def load_settings():
    try:
        with open(SETTINGS) as f:
            return json.load(f)
    except OSError:  # no file: defaults
        return {}


def run():
    if board_pins.maintenance_jumper():
        print("placecode board: MAINT jumper set, firmware not started")
        return
    settings = load_settings()  # a bad key raises ConfigError before any pin is touched
    pins = board_pins.Pins()
    board = Board(
        pins, time.ticks_ms(), settings, boot=board_pins.boot_id(),
        reset_cause=board_pins.reset_cause(),
    )
    while True:
        board.tick(time.ticks_ms())
        time.sleep_ms(TICK_MS)


run()
