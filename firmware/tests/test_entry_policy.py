"""The door's entry policy (firmware/verdict.py) decides the same on the board's
interpreter as on the kiosk and the gateway, and travels in its protocol message."""

try:
    from firmware import protocol, verdict
except ImportError:
    import protocol
    import verdict

from .minitest import TestCase

NOW = 1700000000000
HOUR = 3600000
CAREFUL = verdict.Policy("refuse", 0, "hold")
TESTED = verdict.Policy("hold", 48, "site")


class Policies(TestCase):
    def test_a_yellow_is_refused_where_the_category_refuses_yellow(self):
        held = verdict.for_colour("e", verdict.YELLOW)
        self.assertEqual(held.action, verdict.HOLD)
        refused = verdict.apply_policy(held, CAREFUL, None, NOW)
        self.assertEqual(refused.fields(), ("yellow", "refuse", "yellow_no_entry", "platform"))
        stale = verdict.for_colour("e", verdict.YELLOW, verdict.STALE)
        self.assertEqual(verdict.apply_policy(stale, CAREFUL, None, NOW).action, "refuse")

    def test_a_green_needs_a_recent_negative_test_where_one_is_asked(self):
        green = verdict.for_colour("e", verdict.GREEN)
        ok = verdict.apply_policy(green, TESTED, NOW - 47 * HOUR, NOW)
        self.assertEqual(ok, green)
        for tested in (None, NOW - 49 * HOUR, NOW + 2 * HOUR):
            held = verdict.apply_policy(green, TESTED, tested, NOW)
            self.assertEqual(held.fields(), ("green", "hold", "test_required", "platform"))
        self.assertEqual(verdict.apply_policy(green, CAREFUL, None, NOW), green)

    def test_nobody_passes_unchecked_where_the_category_forbids_it(self):
        fail_open = verdict.manual_check("e", "open")
        self.assertEqual(fail_open.action, verdict.OPEN)
        held = verdict.apply_policy(fail_open, CAREFUL, None, NOW)
        self.assertEqual((held.colour, held.action), ("unknown", "hold"))
        self.assertEqual(verdict.apply_policy(fail_open, TESTED, None, NOW), fail_open)

    def test_a_policy_never_opens_what_was_closed(self):
        policies = (verdict.NO_POLICY, CAREFUL, TESTED, verdict.Policy("refuse", 1, "hold"))
        for colour in verdict.COLOURS:
            for source in (verdict.PLATFORM, verdict.STALE):
                before = verdict.for_colour("e", colour, source)
                for policy in policies:
                    for tested in (None, NOW):
                        after = verdict.apply_policy(before, policy, tested, NOW)
                        if before.action != verdict.OPEN:
                            self.assertFalse(after.action == verdict.OPEN)
                        if before.action == verdict.REFUSE:
                            self.assertEqual(after, before)
                        self.assertTrue(after.prompt in verdict.PROMPT_TEXT)

    def test_the_strictest_of_two_policies(self):
        both = CAREFUL.stricter(TESTED)
        self.assertEqual(both.fields(), ("refuse", 48, "hold"))
        self.assertEqual(verdict.NO_POLICY.stricter(verdict.NO_POLICY), verdict.NO_POLICY)
        self.assertEqual(TESTED.stricter(verdict.Policy("hold", 24)).test_within_h, 24)

    def test_bad_policies_are_refused_with_their_reason(self):
        for bad in ({"yellow": "open"}, {"test_within_h": -1}, {"test_within_h": "48"},
                    {"unchecked": "open"}, {"colour": "green"}, "refuse"):
            try:
                verdict.Policy.from_dict(bad)
            except ValueError:
                continue
            self.fail("accepted %r" % (bad,))

    def test_the_policy_message_round_trips_and_is_checked(self):
        topic = protocol.topic("site-1", "kiosk-1", protocol.POLICY)
        msg = protocol.policy("kiosk-1", TESTED, NOW, "medical")
        _site, _kiosk, kind, back = protocol.decode(topic, protocol.encode(protocol.POLICY, msg))
        self.assertEqual(kind, "policy")
        self.assertEqual(protocol.policy_of(back), TESTED)
        for field, value in (("yellow", "open"), ("test_within_h", 10000),
                             ("unchecked", "open")):
            bad = dict(msg)
            bad[field] = value
            try:
                protocol.validate(protocol.POLICY, bad)
            except protocol.ProtocolError as exc:
                self.assertEqual(exc.reason, "bad_value")
                continue
            self.fail("accepted " + field)
