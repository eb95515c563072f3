"""Each verdict gives its own light, buzzer and gate sequence, and the gate relay is never
energised past its command's duration."""

try:
    from firmware import board_link as link
    from firmware import verdict
    from firmware.board.buzzer import TONES
except ImportError:
    import board_link as link
    import verdict
    from board.buzzer import TONES

from .minitest import TestCase
from .rig import Rig

# what the kiosk sends for each look of the verdict vocabulary (firmware/verdict.py)
VERDICT_COMMANDS = {
    name: (look.light, look.pattern, look.tone, look.gate)
    for name, look in verdict.LOOKS.items()
}
SHOW_MS = 3000
GATE_MS = 2500


def show(rig, action):
    light, pattern, tone, gate = VERDICT_COMMANDS[action]
    seqs = [
        rig.send(
            link.SHOW, link.LIGHTS.index(light), link.PATTERNS.index(pattern),
            link.TONES.index(tone), SHOW_MS,
        )
    ]
    if gate:
        seqs.append(rig.send(link.GATE, GATE_MS))
    return seqs


def lit_intervals(pins, since):
    """[(colour, on ms)] of the light ring from `since`, ignoring the final state."""
    changes = pins.changes("light", since)
    out = []
    for i in range(len(changes) - 1):
        out.append((changes[i][1], changes[i + 1][0] - changes[i][0]))
    return out


class VerdictSequences(TestCase):
    def setUp(self):
        self.rig = Rig()
        self.rig.handshake()
        self.start = self.rig.now

    def test_open_is_green_steady_one_chirp_and_gate(self):
        rig = self.rig
        seqs = show(rig, "open")
        rig.run(4000, every=500)
        for seq in seqs:
            self.assertEqual(rig.acks(seq), [link.ACK_STATUS.index("ok")])
        light = rig.pins.changes("light", self.start)
        self.assertEqual([v for _, v in light], ["green", "off"])
        self.assertEqual(light[1][0] - light[0][0], SHOW_MS)
        buzz = rig.pins.changes("buzzer", self.start)
        self.assertEqual([v for _, v in buzz], [2400, 0])
        self.assertEqual(buzz[1][0] - buzz[0][0], TONES["pass"][0][1])
        relay = rig.pins.changes("relay", self.start)
        self.assertEqual([v for _, v in relay], [True, False])
        self.assertEqual(relay[1][0] - relay[0][0], GATE_MS)

    def test_hold_is_amber_slow_blink_two_beeps_no_gate(self):
        rig = self.rig
        show(rig, "hold")
        rig.run(4000, every=500)
        intervals = lit_intervals(rig.pins, self.start)
        self.assertEqual(intervals[:3], [("amber", 1000), ("off", 1000), ("amber", 1000)])
        freqs = [v for _, v in rig.pins.changes("buzzer", self.start)]
        self.assertEqual(freqs, [1200, 0, 1200, 0])
        self.assertEqual(rig.pins.changes("relay", self.start), [])
        self.assertFalse(rig.pins.state["relay"])

    def test_refuse_is_red_fast_blink_three_low_tones_no_gate(self):
        rig = self.rig
        show(rig, "refuse")
        rig.run(4000, every=500)
        intervals = lit_intervals(rig.pins, self.start)
        self.assertEqual(intervals[:4], [("red", 250), ("off", 250), ("red", 250), ("off", 250)])
        self.assertEqual(rig.pins.state["light"], "off")  # back to idle after SHOW_MS
        freqs = [v for _, v in rig.pins.changes("buzzer", self.start)]
        self.assertEqual(freqs, [400, 0, 400, 0, 400, 0])
        self.assertEqual(rig.pins.changes("relay", self.start), [])

    def test_gate_clamped_to_max_and_never_longer(self):
        rig = Rig({"max_gate_ms": 1000})
        rig.handshake()
        start = rig.now
        rig.send(link.GATE, 60000)
        rig.run(3000, every=500)
        relay = rig.pins.changes("relay", start)
        self.assertEqual([v for _, v in relay], [True, False])
        self.assertEqual(relay[1][0] - relay[0][0], 1000)
        self.assertEqual(rig.board.gate.clamped, 1)

    def test_bad_arguments_are_refused_not_guessed(self):
        rig = self.rig
        seq = rig.send(link.SHOW, 9, 0, 0, 1000)
        rig.run(50, every=500)
        self.assertEqual(rig.acks(seq), [link.ACK_STATUS.index("bad_args")])
        self.assertEqual(rig.pins.changes("light", self.start), [])

    def test_idle_modes(self):
        rig = self.rig
        rig.send(link.IDLE, link.IDLE_MODES.index("closed"))
        rig.run(50, every=500)
        self.assertEqual(rig.pins.state["light"], "red")
        show(rig, "open")
        rig.run(100, every=500)
        self.assertEqual(rig.pins.state["light"], "green")
        rig.run(3000, every=500)
        self.assertEqual(rig.pins.state["light"], "red")  # the idle look comes back

    def test_commands_before_handshake_are_not_obeyed(self):
        rig = Rig()
        seq = rig.send(link.GATE, 1000)
        rig.run(50)
        self.assertFalse(rig.pins.state["relay"])
        self.assertEqual(rig.board.counters["no_session"], 1)
        self.assertEqual(rig.acks(seq), [link.ACK_STATUS.index("no_session")])


class Settings(TestCase):
    def test_unknown_or_out_of_range_settings_are_named(self):
        try:
            from firmware.board.config import ConfigError, make_config
        except ImportError:
            from board.config import ConfigError, make_config
        with self.assertRaises(ConfigError) as raised:
            make_config({"heartbeat_timout_ms": 1000})
        self.assertIn("heartbeat_timout_ms", str(raised.exception))
        with self.assertRaises(ConfigError) as raised:
            make_config({"max_gate_ms": 999999})
        self.assertIn("max_gate_ms", str(raised.exception))
        with self.assertRaises(ConfigError):
            make_config({"gate_safe_state": "open"})
        self.assertEqual(make_config({"gate_safe_state": "free"})["gate_safe_state"], "free")
