"""The serial framing: exact bytes, and garbled or replayed frames rejected and counted."""

try:
    from firmware import board_link as link
except ImportError:
    import board_link as link

from .minitest import TestCase
from .rig import Rig


class Framing(TestCase):
    def test_crc16_ccitt_false_check_value(self):
        self.assertEqual(link.crc16(b"123456789"), 0x29B1)

    def test_exact_bytes_of_a_gate_command(self):
        data = link.encode(link.GATE, 0x01020304, 7, link.pack(link.GATE, 2500))
        self.assertEqual(data[:2], b"\xa5\x5a")
        self.assertEqual(data[2:12], b"\x04\x11\x04\x03\x02\x01\x07\x00\x00\x00")
        self.assertEqual(data[12:16], b"\xc4\x09\x00\x00")
        self.assertEqual(data[16:], b"\x43\x67")
        self.assertEqual(len(data), link.OVERHEAD + 4)

    def test_frames_split_across_reads_and_noise_between(self):
        sender = link.Session(link.ROLE_KIOSK, 5)
        heartbeat = sender.frame(link.HEARTBEAT)[1]
        blob = b"\x00\xff" + heartbeat + b"\xa5" + sender.frame(link.IDLE, 1)[1]
        reader = link.FrameReader()
        got = []
        for i in range(len(blob)):
            got.extend(reader.feed(blob[i : i + 1]))
        self.assertEqual([f.type for f in got], [link.HEARTBEAT, link.IDLE])
        self.assertEqual(reader.counters["noise_bytes"], 3)

    def test_boot_ids_are_random_and_non_zero(self):
        ids = {link.Session(link.ROLE_BOARD).boot for _ in range(20)}
        self.assertEqual(len(ids), 20)
        self.assertFalse(0 in ids)

    def test_too_long_payload_refused_at_encode(self):
        with self.assertRaises(link.LinkError):
            link.encode(link.SHOW, 1, 1, b"x" * 65)

    def test_bad_field_values_refused_at_pack(self):
        with self.assertRaises(link.LinkError):
            link.pack(link.GATE, -1)


class Rejection(TestCase):
    def setUp(self):
        self.rig = Rig()
        self.rig.handshake()

    def test_garbled_gate_frame_is_rejected_and_counted(self):
        rig = self.rig
        seq, data = rig.kiosk.frame(link.GATE, 3000)
        bad = bytearray(data)
        bad[13] ^= 0x40  # one flipped bit in the duration
        rig.pins.deliver(bytes(bad))
        rig.run(50)
        self.assertFalse(rig.pins.state["relay"])
        self.assertEqual(rig.board.counters["garbled"], 1)
        self.assertEqual(rig.acks(seq), [])
        # the link is still in step: the next good frame is obeyed
        good = rig.send(link.GATE, 500)
        rig.run(20)
        self.assertTrue(rig.pins.state["relay"])
        self.assertEqual(rig.acks(good), [0])

    def test_truncated_frame_followed_by_good_one(self):
        rig = self.rig
        _, data = rig.kiosk.frame(link.GATE, 3000)
        rig.pins.deliver(data[:9])
        good = rig.send(link.IDLE, link.IDLE_MODES.index("closed"))
        rig.run(50)
        self.assertEqual(rig.pins.state["light"], "red")
        self.assertEqual(rig.acks(good), [0])
        self.assertFalse(rig.pins.state["relay"])

    def test_replayed_gate_frame_is_rejected_and_counted(self):
        rig = self.rig
        start = rig.now
        _, data = rig.kiosk.frame(link.GATE, 300)
        rig.pins.deliver(data)
        rig.run(20)
        rig.send(link.HEARTBEAT)
        rig.run(500)
        opened = len(rig.pins.changes("relay", start))
        self.assertEqual(opened, 2)  # on, then off after 300 ms
        rig.pins.deliver(data)  # the same bytes again, later
        rig.run(100)
        self.assertEqual(len(rig.pins.changes("relay", start)), opened)
        self.assertEqual(rig.board.counters["replay"], 1)

    def test_retransmitted_command_is_acknowledged_not_redone(self):
        rig = self.rig
        seq, data = rig.kiosk.frame(link.SHOW, 3, 0, 1, 1000)
        rig.pins.deliver(data)
        rig.run(20)
        rig.pins.deliver(data)
        rig.run(20)
        self.assertEqual(rig.acks(seq), [0, 0])
        self.assertEqual(rig.board.commands, 1)
        self.assertEqual(rig.board.counters["duplicate"], 1)

    def test_board_introduces_itself_to_a_pi_that_missed_its_boot_hello(self):
        rig = Rig()
        rig.pins.take_sent()  # the boot HELLO is lost on the wire
        stranger = link.Session(link.ROLE_KIOSK, 0x5151)
        rig.kiosk = stranger
        rig.reader = link.FrameReader(stranger.counters)
        stranger.peer_boot = 0x0DEAD  # it still believes in an earlier board
        for _ in range(5):
            rig.send(link.HEARTBEAT)
            rig.run(50)
        hellos = rig.frames(link.HELLO)
        self.assertEqual(len(hellos), 1)  # rate-limited: 250 ms covers the five
        self.assertEqual(stranger.peer_boot, rig.board.session.boot)

    def test_frame_from_an_old_pi_session_is_stale(self):
        rig = self.rig
        old = link.Session(link.ROLE_KIOSK, 0x0BAD0BAD)
        _, data = old.frame(link.GATE, 3000)
        rig.pins.deliver(data)
        rig.run(20)
        self.assertFalse(rig.pins.state["relay"])
        self.assertEqual(rig.board.counters["stale"], 1)

    def test_other_major_version_is_refused(self):
        rig = Rig()
        rig.send(link.HELLO, link.MAJOR + 1, 0, link.ROLE_KIOSK, 0)
        rig.send(link.GATE, 3000)
        rig.run(50)
        self.assertEqual(rig.board.counters["version"], 1)
        self.assertFalse(rig.board.session.established)
        self.assertFalse(rig.pins.state["relay"])
