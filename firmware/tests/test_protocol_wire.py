"""The MQTT wire protocol module runs on the board's interpreter too: same checks, same
reasons, same event ids as under CPython."""

try:
    from firmware import protocol
except ImportError:
    import protocol

from .minitest import TestCase

TOPIC = "placecode/site-1/kiosk-1/scan"


def _scan(ids, **changes):
    msg = protocol.scan(ids.new(1700000000000), "kiosk-1", "door-1", 1, 1700000000000, "code", "t")
    for key in changes:
        msg[key] = changes[key]
    return msg


class Wire(TestCase):
    def test_scan_round_trip(self):
        ids = protocol.EventIds()
        msg = _scan(ids)
        site, kiosk, kind, back = protocol.decode(TOPIC, protocol.encode("scan", msg))
        self.assertEqual((site, kiosk, kind), ("site-1", "kiosk-1", "scan"))
        self.assertEqual(back, msg)

    def _reason(self, topic, payload):
        try:
            protocol.decode(topic, payload)
        except protocol.ProtocolError as exc:
            return exc.reason
        return None

    def test_rejections_carry_the_same_reasons(self):
        import json

        ids = protocol.EventIds()
        self.assertEqual(self._reason(TOPIC, b"{nope"), "not_json")
        self.assertEqual(
            self._reason(TOPIC, json.dumps(_scan(ids, v=2)).encode()), "unknown_version"
        )
        self.assertEqual(self._reason(TOPIC, json.dumps(_scan(ids, seq="x")).encode()), "bad_type")
        self.assertEqual(
            self._reason(TOPIC, json.dumps(_scan(ids, kiosk="k9")).encode()), "topic_mismatch"
        )
        self.assertEqual(self._reason("placecode/site-1/kiosk-1/nope", b"{}"), "unknown_kind")

    def test_event_ids_are_version_7_and_increase(self):
        ids = protocol.EventIds()
        made = [ids.new(5000) for _ in range(20)] + [ids.new(4000)]
        for event_id in made:
            protocol.check_event_id(event_id)
        self.assertEqual(made, sorted(made))
        self.assertEqual(protocol.event_id_ms(made[0]), 5000)

    def test_ack_with_high_seq_only(self):
        msg = protocol.ack("kiosk-1", [], 1, high_seq=42)
        wire = protocol.encode("ack", msg)
        self.assertEqual(protocol.decode("placecode/s/kiosk-1/ack", wire)[3], msg)
