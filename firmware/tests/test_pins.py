"""The pin layer against a fake `machine`: polarity of every input and output, the relay
off from the first instruction, and the serial port over stdin/stdout as on the board."""

import sys

from . import fake_machine
from .minitest import TestCase

sys.modules["machine"] = fake_machine
try:
    import micropython  # noqa: F401 - MicroPython: the real one has kbd_intr
except ImportError:
    sys.modules["micropython"] = fake_machine

try:
    from firmware import board_link as link
    from firmware.board import pins
    from firmware.board.core import Board
except ImportError:
    import board_link as link
    from board import pins
    from board.core import Board

P = pins.PIN_MAP
Pin = fake_machine.Pin


class _Buffer:
    def __init__(self):
        self.data = b""

    def read(self, n):
        out, self.data = self.data[:n], self.data[n:]
        return out

    def write(self, b):
        self.data += bytes(b)


class _Stream:
    def __init__(self):
        self.buffer = _Buffer()


class FakeSys:
    def __init__(self):
        self.stdin = _Stream()
        self.stdout = _Stream()


class _Poll:
    def __init__(self, sys_):
        self.sys = sys_

    def register(self, stream, mask):
        pass

    def poll(self, timeout):
        return [1] if self.sys.stdin.buffer.data else []


class FakeSelect:
    POLLIN = 1

    def __init__(self, sys_):
        self.sys = sys_

    def poll(self):
        return _Poll(self.sys)


class PinLayer(TestCase):
    def setUp(self):
        fake_machine.reset()
        self.fake_sys = FakeSys()
        self._saved = (pins.sys, pins.select)
        pins.sys = self.fake_sys
        pins.select = FakeSelect(self.fake_sys)
        self.pins = pins.Pins()

    def tearDown(self):
        pins.sys, pins.select = self._saved

    def test_outputs_start_off_and_follow_commands(self):
        for name in ("relay", "red", "amber", "green"):
            self.assertEqual(Pin.levels[P[name]], 0, name)
        self.assertEqual(fake_machine.PWM.last[P["buzzer"]]["duty"], 0)
        self.pins.light("amber")
        levels = [Pin.levels[P[c]] for c in ("red", "amber", "green")]
        self.assertEqual(levels, [0, 1, 0])
        self.pins.light("off")
        self.assertEqual([Pin.levels[P[c]] for c in ("red", "amber", "green")], [0, 0, 0])
        self.pins.relay(True)
        self.assertEqual(Pin.levels[P["relay"]], 1)
        self.pins.relay(False)
        self.assertEqual(Pin.levels[P["relay"]], 0)
        self.pins.buzzer(1200)
        self.assertEqual(fake_machine.PWM.last[P["buzzer"]], {"freq": 1200, "duty": 32768})
        self.pins.buzzer(0)
        self.assertEqual(fake_machine.PWM.last[P["buzzer"]]["duty"], 0)

    def test_input_polarity(self):
        self.assertEqual(self.pins.beams(), (False, False))  # pulled up: beams intact
        Pin.levels[P["beam_a"]] = 0
        self.assertEqual(self.pins.beams(), (True, False))
        Pin.levels[P["tamper"]] = 0  # the switch closes to GND while the lid is shut
        self.assertFalse(self.pins.tamper_open())
        Pin.levels[P["tamper"]] = 1
        self.assertTrue(self.pins.tamper_open())

    def test_maintenance_jumper_and_reset_cause(self):
        self.assertFalse(pins.maintenance_jumper())
        Pin.levels[P["maint"]] = 0
        self.assertTrue(pins.maintenance_jumper())
        fake_machine._cause[0] = fake_machine.WDT_RESET
        self.assertEqual(pins.reset_cause(), "watchdog")
        self.assertTrue(0 < pins.boot_id() < 2**32)

    def test_board_on_real_pin_layer_opens_gate_from_usb_bytes(self):
        Pin.levels[P["tamper"]] = 0  # lid shut
        board = Board(self.pins, 0, boot=7)
        kiosk = link.Session(link.ROLE_KIOSK, 9)
        self.fake_sys.stdin.buffer.write(kiosk.hello()[1] + kiosk.frame(link.GATE, 500)[1])
        board.tick(5)
        self.assertEqual(Pin.levels[P["relay"]], 1)
        board.tick(600)
        self.assertEqual(Pin.levels[P["relay"]], 0)
        frames = link.FrameReader().feed(self.fake_sys.stdout.buffer.data)
        self.assertIn(link.ACK, [f.type for f in frames])
        self.assertEqual(fake_machine.WDT.feeds[0], 2)
