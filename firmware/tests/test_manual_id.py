"""Identifiers typed in by staff (firmware/manual_id.py) and the scan that carries one
(firmware/protocol.py), under both interpreters: the module promises MicroPython."""

try:
    from firmware import manual_id, protocol
except ImportError:
    import manual_id
    import protocol

from .minitest import TestCase

ID_NUMBER = "11010519491231002X"  # GB 11643 check character X


class ManualIds(TestCase):
    def test_each_document_is_checked_and_normalised(self):
        self.assertEqual(manual_id.credential("id_number", "110105 19491231 002x"),
                         "id_number:" + ID_NUMBER)
        self.assertEqual(manual_id.credential("passport", "e 1234 5678", "usa"),
                         "passport:USA:E12345678")
        self.assertEqual(manual_id.credential("phone", "+86 138-1234-5678"),
                         "phone:13812345678")
        self.assertEqual(manual_id.parse("passport:KOR:M1234567"),
                         ("passport", "M1234567", "KOR"))

    def test_a_wrong_check_character_is_refused_with_its_reason(self):
        try:
            manual_id.credential("id_number", ID_NUMBER[:-1] + "1")
        except manual_id.ManualIdError as err:
            self.assertEqual(err.reason, "id_check_digit")
            self.assertTrue(ID_NUMBER[:-1] not in err.message)
        else:
            self.fail("a wrong check character was accepted")

    def test_a_manual_scan_must_carry_a_manual_credential(self):
        msg = protocol.scan(protocol.EventIds().new(), "k1", "d1", 1, 1, "manual",
                            "id_number:" + ID_NUMBER, medium="keyed", temp_dc=365)
        self.assertEqual(protocol.validate("scan", msg), msg)
        msg["credential"] = "id_number:" + ID_NUMBER[:-1] + "1"
        try:
            protocol.validate("scan", msg)
        except protocol.ProtocolError as err:
            self.assertEqual(err.reason, "bad_value")
        else:
            self.fail("a bad manual credential was accepted")
