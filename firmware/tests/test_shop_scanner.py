"""The scanner-engine driver: byte-exact commands (the vectors are the GM65 manual's), its
answers, and code lines accepted or rejected with a counter, never an exception."""



from firmware.shop import scanner as sc

from .minitest import TestCase
from .shop_fakes import Clock, FakeUart


class TestCommands(TestCase):
    def test_frames_match_the_module_manual(self):
        # "save to EEPROM" and the success answer, byte for byte as the manual prints them
        self.assertEqual(
            sc.command(sc.SAVE, 0, b"\x00"), bytes.fromhex("7e0009010000 00dec8".replace(" ", ""))
        )
        self.assertEqual(sc.answer(), bytes.fromhex("02000001003331"))
        self.assertEqual(sc.command(sc.WRITE, sc.ZONE_TRIGGER, b"\x01")[:7],
                         bytes.fromhex("7e00080100 0201".replace(" ", "")))

    def test_configure_sets_mode_light_and_mutes_the_module(self):
        uart = FakeUart()
        scanner = sc.Scanner(uart)
        scanner.configure("trigger", light="always", aim="off", beep=False, save=True)
        setting = uart.tx[0][6]
        self.assertEqual(setting & 3, sc.MODES["trigger"])
        self.assertEqual(setting >> 4 & 3, sc.LIGHTING["always"])
        self.assertEqual(setting >> 2 & 3, sc.LIGHTING["off"])
        self.assertTrue(setting & sc.ZONE0_MUTE)
        self.assertEqual(uart.tx[1], sc.command(sc.SAVE, 0, b"\x00"))
        scanner.trigger()
        self.assertEqual(uart.tx[2], sc.command(sc.WRITE, sc.ZONE_TRIGGER, b"\x01"))


class TestLines(TestCase):
    def setUp(self):
        self.uart = FakeUart()
        self.clock = Clock()
        self.scanner = sc.Scanner(self.uart, max_len=32, partial_ms=200, clock=self.clock)

    def feed(self, data):
        self.uart.feed(data)
        codes = []
        while self.uart.any():  # one poll reads at most 256 bytes
            codes += self.scanner.poll()
        return codes

    def test_cr_lf_and_crlf_tails_and_split_reads(self):
        self.assertEqual(self.feed(b"https://a\r"), ["https://a"])
        self.assertEqual(self.feed(b"b\n"), ["b"])
        self.assertEqual(self.feed(b"c\r\n"), ["c"])
        self.assertEqual(self.feed(b"da"), [])
        self.assertEqual(self.feed(b"ta\r"), ["data"])
        self.assertEqual(self.feed("健康码\r".encode()), ["健康码"])
        self.assertEqual(self.scanner.codes, 5)

    def test_answers_are_not_codes(self):
        self.assertEqual(self.feed(sc.answer() + b"x\r"), ["x"])
        self.assertEqual(self.scanner.answers, 1)
        self.assertEqual(self.feed(b"\x02\x00\x00\x01\x00\x00\x00y\r"), ["y"])
        self.assertEqual(self.scanner.rejected["bad_answer"], 1)

    def test_rejects_are_counted(self):
        self.assertEqual(self.feed(b"A" * 33 + b"\rok\r"), ["ok"])
        self.assertEqual(self.feed(b"\xff\xfe\xc3\x28\r"), [])
        self.assertEqual(self.feed(b"a\x1bb\r"), [])
        self.assertEqual(self.feed(b"\x02\x41junk\r"), [])
        self.assertEqual(self.feed(b"half"), [])
        self.clock.now += 250
        self.assertEqual(self.feed(b"next\r"), ["next"])
        self.assertEqual(self.scanner.rejected, {"too_long": 1, "not_utf8": 1, "garbage": 2,
                                                 "partial": 1, "bad_answer": 0})

    def test_every_byte_value_never_raises(self):
        for b in range(256):
            self.feed(bytes((b,)) * 3)
        self.feed(bytes(range(256)) * 4 + b"\r")
        self.clock.now += 250  # whatever frame or line was left open is dropped
        self.assertEqual(self.feed(b"\rfine\r"), ["fine"])
