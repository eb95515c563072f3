"""The shop unit's LED and buzzer show each Look of firmware/verdict.py: its colour on a
two-colour LED, its pattern, its tone; the relay closes only for an opening look, for at
most relay_ms; everything is off when the show ends."""



from firmware import verdict
from firmware.shop.indicator import Indicator

from .minitest import TestCase
from .shop_fakes import FakePins


def run(look, until=3100, step=10):
    pins = FakePins()
    ind = Indicator(pins, show_ms=3000, relay_ms=2500)
    pins.events = []
    ind.show(look, 0)
    timeline = []
    for now in range(0, until, step):
        before = len(pins.events)
        ind.update(now)
        for event in pins.events[before:]:
            timeline.append((now, event[0], event[1]))
    first = pins.events[:3]
    return first, timeline, ind


class TestLooks(TestCase):
    def test_open_is_steady_green_one_beep_and_the_relay_for_its_time(self):
        first, timeline, ind = run(verdict.LOOKS["open"])
        self.assertIn(("led", (0, 1)), first)
        self.assertIn(("relay", True), first)
        self.assertIn((2500, "relay", False), timeline)
        self.assertIn((3000, "led", (0, 0)), timeline)
        self.assertFalse(ind.busy())

    def test_hold_is_slow_amber_blink_and_never_the_relay(self):
        first, timeline, _ = run(verdict.LOOKS["hold"])
        self.assertIn(("led", (1, 1)), first)
        self.assertIn((500, "led", (0, 0)), timeline)
        self.assertIn((1000, "led", (1, 1)), timeline)
        self.assertFalse([e for e in timeline if e[1] == "relay" and e[2]])
        tones = [e[2] for e in timeline if e[1] == "tone" and e[2]]
        self.assertEqual(tones, [2000])  # the second beep of the pair; the first came on show()

    def test_refuse_is_fast_red_blink_three_low_tones(self):
        first, timeline, _ = run(verdict.LOOKS["refuse"])
        self.assertIn(("led", (1, 0)), first)
        self.assertIn((150, "led", (0, 0)), timeline)
        self.assertEqual([e[2] for e in timeline if e[1] == "tone" and e[2]], [800, 800])

    def test_an_unchecked_open_is_amber_never_green(self):
        look = verdict.look_for(verdict.manual_check("", gate_unchecked="open"))
        first, timeline, _ = run(look)
        self.assertFalse([e for e in timeline if e[1] == "led" and e[2] == (0, 1)])
        self.assertIn(("led", (1, 1)), first)
