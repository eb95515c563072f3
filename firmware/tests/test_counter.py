"""Two beams tell in from out; turn-backs and flutter are not people. Door events and the
tamper switch reach the Pi and are re-sent until acknowledged."""

try:
    from firmware import board_link as link
    from firmware.board.counter import DoorCounter
except ImportError:
    import board_link as link
    from board.counter import DoorCounter

from .minitest import TestCase
from .rig import Rig

IN = link.DIRECTIONS.index("in")
OUT = link.DIRECTIONS.index("out")


def feed(counter, samples, start=0, step=5):
    """samples: list of (a, b, ms held); returns the directions counted."""
    got = []
    t = start
    for a, b, ms in samples:
        end = t + ms
        while t < end:
            d = counter.update(t, a, b)
            if d:
                got.append(d)
            t += step
    return got


class Direction(TestCase):
    def test_in_and_out(self):
        c = DoorCounter(15)
        walk_in = [(1, 0, 60), (1, 1, 60), (0, 1, 60), (0, 0, 60)]
        walk_out = [(0, 1, 60), (1, 1, 60), (1, 0, 60), (0, 0, 60)]
        self.assertEqual(feed(c, walk_in + walk_out + walk_in), ["in", "out", "in"])
        self.assertEqual(c.counts, {"in": 2, "out": 1})

    def test_turn_back_and_peek_are_not_counted(self):
        c = DoorCounter(15)
        peek = [(1, 0, 100), (0, 0, 60)]
        turn_back = [(1, 0, 60), (1, 1, 60), (1, 0, 60), (0, 0, 60)]
        self.assertEqual(feed(c, peek + turn_back), [])

    def test_flutter_shorter_than_debounce_is_ignored(self):
        c = DoorCounter(15)
        flutter = [(1, 0, 5), (0, 0, 5)] * 10
        walk_in = [(1, 0, 60), (1, 1, 60), (0, 1, 60), (0, 0, 60)]
        self.assertEqual(feed(c, flutter + walk_in), ["in"])


class DoorEvents(TestCase):
    def test_people_reach_the_pi_in_order_with_numbers(self):
        rig = Rig()
        rig.handshake()
        rig.walk("beam_a", "beam_b")
        rig.walk("beam_b", "beam_a")
        passed = rig.events(link.PASSED)
        self.assertEqual([v for _, v in passed], [IN, OUT])
        self.assertEqual([n for n, _ in passed], [2, 3])  # 1 is "restarted"
        self.assertEqual(rig.board.pending_events, 0)
        self.assertEqual(rig.events(link.RESTARTED), [(1, link.RESET_CAUSES.index("power_on"))])

    def test_unacknowledged_events_are_resent_then_dropped_when_acked(self):
        rig = Rig(auto_ack=False)
        rig.handshake()
        rig.walk("beam_a", "beam_b")
        rig.run(1000, every=200)
        sent = [f for f in rig.frames(link.PASSED)]
        self.assertGreaterEqual(len(sent), 3)
        self.assertEqual(len({f.fields()[0] for f in sent}), 1)
        rig.pins.deliver(rig.kiosk.ack(sent[-1].seq))
        rig.run(20)
        self.assertEqual(rig.board.pending_events, 1)  # "restarted" still waits
        for f in rig.frames(link.RESTARTED):
            rig.pins.deliver(rig.kiosk.ack(f.seq))
        rig.run(20)
        self.assertEqual(rig.board.pending_events, 0)
        n = len(rig.received)
        rig.run(1000, every=0)
        self.assertEqual([f for _, f in rig.received[n:] if f.type in link.EVENTS], [])

    def test_events_wait_for_a_pi_and_survive_a_pi_restart(self):
        rig = Rig(auto_ack=False)
        rig.walk("beam_a", "beam_b")  # no Pi yet
        self.assertEqual(rig.frames(link.PASSED), [])
        rig.handshake()
        rig.run(50)
        first = rig.frames(link.PASSED)[0].fields()[0]
        # the Pi restarts (new boot id) before acknowledging
        rig.kiosk = link.Session(link.ROLE_KIOSK, 0x2222)
        rig.reader = link.FrameReader(rig.kiosk.counters)
        rig.auto_ack = True
        rig.received = []
        rig.handshake()
        rig.run(100)
        self.assertEqual([n for n, _ in rig.events(link.PASSED)], [first])
        self.assertEqual(rig.board.pending_events, 0)

    def test_tamper_open_and_close(self):
        rig = Rig()
        rig.handshake()
        rig.pins.tamper = True
        rig.run(100, every=50)
        rig.pins.tamper = False
        rig.run(100, every=50)
        self.assertEqual([v for _, v in rig.events(link.TAMPER)], [1, 0])
