"""A silent Pi puts the door into "manual check" and the gate into its safe state within
the configured time; heartbeats coming back end it."""

try:
    from firmware import board_link as link
except ImportError:
    import board_link as link

from .minitest import TestCase
from .rig import STEP, Rig

TIMEOUT = 1500


class Failsafe(TestCase):
    def setUp(self):
        self.rig = Rig({"heartbeat_timeout_ms": TIMEOUT})
        self.rig.handshake()
        self.rig.run(2000, every=500)
        self.assertFalse(self.rig.board.failsafe)

    def test_silence_gives_amber_slow_blink_within_timeout_then_recovers(self):
        rig = self.rig
        rig.send(link.HEARTBEAT)
        silent_from = rig.now
        rig.run(TIMEOUT - 2 * STEP)
        self.assertFalse(rig.board.failsafe, "too early")
        rig.run(4 * STEP)
        self.assertTrue(rig.board.failsafe)
        first_change = rig.pins.changes("light", silent_from)[0][0]
        self.assertLessEqual(first_change - silent_from, TIMEOUT + STEP)
        rig.run(4000)
        lights = rig.pins.changes("light", silent_from)
        self.assertEqual([v for _, v in lights[:4]], ["amber", "off", "amber", "off"])
        self.assertEqual(lights[1][0] - lights[0][0], 1000)
        self.assertIn(800, [v for _, v in rig.pins.changes("buzzer", silent_from)])
        self.assertFalse(rig.pins.state["relay"])  # default safe state: locked
        # the Pi is back
        back = rig.now
        rig.run(100, every=50)
        self.assertFalse(rig.board.failsafe)
        self.assertEqual(rig.pins.state["light"], "off")  # ready idle look
        rig.run(3000, every=500)
        self.assertEqual(rig.pins.changes("light", back + 100), [])
        self.assertEqual(rig.board.failsafe_entered, 1)

    def test_silence_cuts_an_open_gate(self):
        rig = self.rig
        rig.send(link.GATE, 8000)
        rig.run(20)
        self.assertTrue(rig.pins.state["relay"])
        rig.run(TIMEOUT + 2 * STEP)
        self.assertTrue(rig.board.failsafe)
        self.assertFalse(rig.pins.state["relay"])
        rig.run(200, every=50)  # heartbeats return: the cancelled opening stays cancelled
        self.assertFalse(rig.pins.state["relay"])

    def test_free_safe_state_holds_relay_only_while_silent(self):
        rig = Rig({"heartbeat_timeout_ms": TIMEOUT, "gate_safe_state": "free"})
        rig.handshake()
        rig.run(TIMEOUT + 20)
        self.assertTrue(rig.board.failsafe)
        self.assertTrue(rig.pins.state["relay"])
        rig.run(100, every=50)
        self.assertFalse(rig.pins.state["relay"])

    def test_board_without_pi_from_boot_goes_to_manual_check(self):
        rig = Rig({"heartbeat_timeout_ms": TIMEOUT})
        rig.run(TIMEOUT + 20)
        self.assertTrue(rig.board.failsafe)
        self.assertEqual(rig.pins.changes("light", 1)[0][1], "amber")

    def test_garbage_does_not_count_as_a_heartbeat(self):
        rig = self.rig
        rig.send(link.HEARTBEAT)
        start = rig.now
        while rig.now - start < TIMEOUT + 50:
            rig.pins.deliver(b"\xa5\x5a\x00\x03garbage-not-a-frame")
            rig.run(50)
        self.assertTrue(rig.board.failsafe)
        counters = rig.board.counters
        self.assertGreaterEqual(counters["garbled"] + counters["noise_bytes"], 1)

    def test_watchdog_fed_every_tick(self):
        rig = self.rig
        before = rig.pins.watchdog_feeds
        rig.run(100, every=50)
        self.assertEqual(rig.pins.watchdog_feeds - before, 100 // STEP)
