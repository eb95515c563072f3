"""Just enough of MicroPython's `machine` for firmware/board/pins.py to run off the board.

Installed in sys.modules as "machine" by test_pins.py only. Input levels are set in
`Pin.levels` by pin number; outputs are read back from the same table.
"""

PWRON_RESET = 1
WDT_RESET = 3
_cause = [PWRON_RESET]


def reset_cause():
    return _cause[0]


class Pin:
    # class-level tables on purpose: shared by every fake pin
    IN = 0
    OUT = 1
    PULL_UP = 1
    levels = {}  # pin number -> 0/1
    modes = {}  # pin number -> (mode, pull)

    def __init__(self, number, mode=-1, pull=-1, value=None):
        self.number = number
        Pin.modes[number] = (mode, pull)
        if value is not None:
            Pin.levels[number] = value
        elif mode == Pin.IN and pull == Pin.PULL_UP:
            Pin.levels.setdefault(number, 1)

    def value(self, v=None):
        if v is None:
            return Pin.levels.get(self.number, 0)
        Pin.levels[self.number] = 1 if v else 0
        return None


class PWM:
    last = {}

    def __init__(self, pin):
        self.pin = pin
        PWM.last[pin.number] = {"freq": 0, "duty": 0}

    def freq(self, f):
        PWM.last[self.pin.number]["freq"] = f

    def duty_u16(self, d):
        PWM.last[self.pin.number]["duty"] = d


class I2C:
    """A bus with nothing on it: every read finds no device."""

    def __init__(self, bus_id, sda=None, scl=None, freq=400000):
        self.bus_id = bus_id
        self.freq = freq

    def readfrom_mem(self, address, register, n):
        raise OSError(19)


class WDT:
    feeds = [0]

    def __init__(self, timeout=5000):
        self.timeout = timeout

    def feed(self):
        WDT.feeds[0] += 1


def kbd_intr(ch):  # stands in for micropython.kbd_intr under CPython
    pass


def reset():
    Pin.levels.clear()
    Pin.modes.clear()
    PWM.last.clear()
    WDT.feeds[0] = 0
    _cause[0] = PWRON_RESET
