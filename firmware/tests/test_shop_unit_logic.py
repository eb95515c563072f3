"""The shop unit's door logic with a fake link: green only from a verdict, manual check on
timeout, without a broker and when the outbox is full; acks move the mark only over a
contiguous prefix; the backlog resends oldest first within its window; high_seq counts."""

import json

from firmware import protocol, verdict
from firmware.shop.indicator import Indicator
from firmware.shop.outbox import Outbox
from firmware.shop.unit import Unit

from .minitest import TestCase
from .shop_fakes import Clock, FakePins, clean, scratch

CFG = {"unit": "shop-1", "door": "door-1", "verdict_budget_ms": 1500, "resend_after_ms": 5000,
       "window": 2}


class FakeLink:
    def __init__(self):
        self.connected = True
        self.sent = []  # decoded scans

    def publish(self, kind, payload):
        self.sent.append(json.loads(payload))
        return True


def leds_on(pins):
    return [v for name, v in pins.events if name == "led" and v != (0, 0)]


class UnitCase(TestCase):
    def setUp(self):
        self.root = scratch()
        self.clock = Clock()
        self.pins = FakePins()
        self.box = Outbox(self.root, capacity=4096)
        self.unit = Unit(CFG, self.box, Indicator(self.pins), self.clock)
        self.link = FakeLink()
        self.unit.link = self.link

    def tearDown(self):
        clean(self.root)

    def verdict_for(self, msg, colour, source="platform"):
        v = verdict.for_colour(msg["id"], colour, source)
        self.unit.received(protocol.VERDICT, protocol.verdict(
            v.event_id, "shop-1", v.colour, v.action, v.prompt, v.source, 1))

    def ack(self, *msgs, high_seq=None):
        self.unit.received(protocol.ACK, protocol.ack("shop-1", [m["id"] for m in msgs], 1,
                                                      high_seq))


class TestVisitor(UnitCase):
    def test_green_only_from_a_green_verdict(self):
        self.unit.scanned("code-1", self.clock.now)
        self.verdict_for(self.link.sent[0], "green")
        self.assertEqual(leds_on(self.pins), [(0, 1)])

    def test_no_verdict_in_the_budget_is_a_manual_check(self):
        self.unit.scanned("code-1", self.clock.now)
        self.clock.now += 1499
        self.unit.tick(self.clock.now)
        self.assertEqual(leds_on(self.pins), [])
        self.clock.now += 1
        self.unit.tick(self.clock.now)
        self.assertEqual(leds_on(self.pins), [(1, 1)])
        self.verdict_for(self.link.sent[0], "green")  # too late: ignored
        self.assertEqual(self.unit.shown, {"manual_check": 1})

    def test_a_verdict_for_another_scan_is_ignored(self):
        self.unit.scanned("code-1", self.clock.now)
        other = dict(self.link.sent[0], id=protocol.EventIds().new())
        self.verdict_for(other, "green")
        self.assertEqual(leds_on(self.pins), [])

    def test_no_broker_manual_check_at_once_and_the_scan_kept(self):
        self.link.connected = False
        self.unit.scanned("code-1", self.clock.now)
        self.assertEqual(leds_on(self.pins), [(1, 1)])
        self.assertEqual(self.box.count, 1)

    def test_full_outbox_manual_check_never_silent(self):
        self.link.connected = False
        n = 0
        while self.unit.refused == 0:
            self.unit.scanned("code-%d" % n, self.clock.now)
            n += 1
        self.assertEqual(self.unit.shown["manual_check"], n)
        self.assertEqual(self.box.count, n - 1)
        self.assertEqual(self.unit.status()["health"]["outbox"], "fault: full")


class TestDelivery(UnitCase):
    def test_backlog_oldest_first_within_the_window_and_the_mark_moves_on_acks(self):
        self.link.connected = False
        for n in range(4):
            self.unit.scanned("code-%d" % n, self.clock.now)
        self.link.connected = True
        self.clock.now += 3000
        self.unit.connected()
        self.unit.tick(self.clock.now)
        sent = self.link.sent
        self.assertEqual([m["seq"] for m in sent], [1, 2], "window of 2")
        self.assertTrue(all(m["replay"] for m in sent))
        self.ack(sent[1])  # out of order: the mark cannot pass seq 1
        self.assertEqual(self.box.count, 4)
        self.unit.tick(self.clock.now)
        self.assertEqual([m["seq"] for m in sent], [1, 2, 3])
        self.ack(sent[0])
        self.assertEqual(self.box.count, 2)
        self.unit.tick(self.clock.now)
        self.ack(sent[2], sent[3])
        self.assertEqual(self.box.count, 0)
        self.assertEqual(self.unit.status()["first_seq"], 5)

    def test_unacknowledged_scans_go_out_again_after_resend_after(self):
        self.unit.scanned("code-1", self.clock.now)
        self.verdict_for(self.link.sent[0], "green")
        self.clock.now += 5000
        self.unit.tick(self.clock.now)
        self.assertEqual([m["seq"] for m in self.link.sent], [1, 1])
        self.assertTrue(self.link.sent[1]["replay"])

    def test_high_seq_from_the_gateway_raises_the_numbering(self):
        self.ack(high_seq=41)
        self.unit.scanned("code-1", self.clock.now)
        self.assertEqual(self.link.sent[0]["seq"], 42)


class TestLinkPacketIds(TestCase):
    def test_packet_ids_stay_within_mqtt_range(self):
        from firmware.shop.link import Link

        class Client:
            def __init__(self, *args, **kw):
                self.pid = 65534
                self.sock = None
                self.ids = []

            def set_callback(self, cb):
                pass

            def set_last_will(self, *args):
                pass

            def publish(self, topic, msg, retain, qos):
                self.pid += 1
                self.ids.append(self.pid)

        link = Link({"site": "s", "unit": "shop-1", "host": "h"}, None, Clock(),
                    client_class=Client)
        link.connected = True
        for _ in range(3):
            self.assertTrue(link.publish(protocol.SCAN, b"{}"))
        self.assertEqual(link.client.ids, [65535, 1, 2])
