"""The shop unit's flash outbox: a power cut at every byte of a record write loses no scan
the visitor was shown a light for and duplicates none; the mark and compaction survive a
cut at each step; a full outbox refuses, never drops; numbering continues."""

import os

from firmware import protocol
from firmware.shop import outbox as ob

from .minitest import TestCase
from .shop_fakes import clean, read_file, scratch, write_file

IDS = protocol.EventIds()


def payload(seq):
    msg = protocol.scan(IDS.new(), "shop-1", "door-1", seq, 1700000000000 + seq, "code",
                        "https://hc.example/yk/v1?t=" + "Q" * 80, "screen")
    return protocol.encode(protocol.SCAN, msg)


def pending(box):
    """(seq, id) of every unacknowledged record, oldest first."""
    out = []
    at = box.oldest()
    while True:
        got = box.read(at)
        if got is None:
            return out
        out.append((ob.seq_of(got[0]), got[0][got[0].find(b'"id": "') + 7:][:36]))
        at = got[1]


class TestPowerCut(TestCase):
    def setUp(self):
        self.root = scratch()

    def tearDown(self):
        clean(self.root)

    def test_a_cut_at_every_byte_of_a_record_write(self):
        box = ob.Outbox(self.root)
        shown = []
        for seq in (1, 2, 3):
            at = box.append(seq, payload(seq))
            shown.append(seq)  # the light comes on only after append() returned
            if seq == 1:
                box.acknowledge_to(box.read(at)[1], 1, 1)
        before = pending(box)
        log = self.root + "/log.%d" % box.gen
        mark = read_file(self.root + "/mark")
        committed = read_file(log)
        record = ob.frame(payload(4))
        self.assertEqual([s for s, _ in before], [2, 3])
        for cut in range(len(record) + 1):
            for name in os.listdir(self.root):
                os.remove(self.root + "/" + name)
            write_file(self.root + "/mark", mark)
            write_file(log, committed + record[:cut])
            box = ob.Outbox(self.root)  # the boot after the power came back
            whole = cut == len(record)
            got = pending(box)
            self.assertEqual(got[:2], before, "cut at %d lost a shown scan" % cut)
            self.assertEqual([s for s, _ in got], [2, 3, 4] if whole else [2, 3])
            self.assertEqual(box.torn, 0 if whole or cut == 0 else 1)
            # the next visitor's scan takes the next free number and nothing repeats
            seq = box.next_seq()
            self.assertEqual(seq, 5 if whole else 4)
            box.append(seq, payload(seq))
            again = pending(ob.Outbox(self.root))
            self.assertEqual([s for s, _ in again], [2, 3, 4, 5] if whole else [2, 3, 4])
            ids = [i for _, i in again]
            self.assertEqual(len(set(ids)), len(ids), "no duplicate at cut %d" % cut)

    def test_a_cut_while_replacing_the_mark_keeps_the_old_mark(self):
        box = ob.Outbox(self.root)
        first = box.append(1, payload(1))
        box.append(2, payload(2))
        write_file(self.root + "/mark.tmp", b"0 12")  # half of the new mark, not renamed
        box = ob.Outbox(self.root)
        self.assertEqual([s for s, _ in pending(box)], [1, 2])
        self.assertFalse("mark.tmp" in os.listdir(self.root))
        box.acknowledge_to(box.read(first)[1], 1, 1)
        self.assertEqual([s for s, _ in pending(ob.Outbox(self.root))], [2])

    def test_a_cut_at_each_step_of_a_compaction(self):
        box = ob.Outbox(self.root)
        at = box.append(1, payload(1))
        box.append(2, payload(2))
        box.acknowledge_to(box.read(at)[1], 1, 1)
        old_log = read_file(self.root + "/log.0")
        old_mark = read_file(self.root + "/mark")
        box._compact()
        new_log = read_file(self.root + "/log.1")
        new_mark = read_file(self.root + "/mark")
        states = (
            ("new log written, mark not switched", old_mark, {"log.0": old_log, "log.1": new_log}),
            ("mark switched, old log not deleted", new_mark, {"log.0": old_log, "log.1": new_log}),
            ("new log half written", old_mark, {"log.0": old_log, "log.1": new_log[:9]}),
        )
        for what, mark, logs in states:
            for name in os.listdir(self.root):
                os.remove(self.root + "/" + name)
            write_file(self.root + "/mark", mark)
            for name in logs:
                write_file(self.root + "/" + name, logs[name])
            box = ob.Outbox(self.root)
            self.assertEqual([s for s, _ in pending(box)], [2], what)
            self.assertEqual(len([n for n in os.listdir(self.root) if n.startswith("log.")]), 1,
                             what)
            self.assertEqual(box.next_seq(), 3, what)


class TestCapacity(TestCase):
    def setUp(self):
        self.root = scratch()

    def tearDown(self):
        clean(self.root)

    def test_full_refuses_the_new_scan_and_keeps_every_stored_one(self):
        size = len(ob.frame(payload(1)))
        box = ob.Outbox(self.root, capacity=size * 3 + 10)
        offsets = [box.append(s, payload(s)) for s in (1, 2, 3)]
        self.assertEqual(box.append(4, payload(4)), None)
        self.assertEqual(box.refused, 1)
        self.assertEqual([s for s, _ in pending(box)], [1, 2, 3])
        box.acknowledge_to(box.read(offsets[0])[1], 1, 1)  # the gateway took one: room again
        self.assertTrue(box.append(4, payload(4)) is not None)
        self.assertEqual([s for s, _ in pending(ob.Outbox(self.root))], [2, 3, 4])

    def test_numbering_continues_after_an_empty_log_and_from_the_gateway(self):
        box = ob.Outbox(self.root, capacity=4096)
        for s in (1, 2, 3, 4, 5, 6):
            at = box.append(s, payload(s))
            box.acknowledge_to(box.read(at)[1], s, 1)
        box = ob.Outbox(self.root, capacity=4096)
        self.assertEqual(box.count, 0)
        self.assertEqual(box.next_seq(), 7)
        self.assertEqual(box.next_seq(high_seq=40), 41, "a wiped unit never reuses a number")

    def test_records_fit_the_flash_budget(self):
        # The budget stated in hardware/shop-unit.md: a health-code URL of ~120 characters
        # makes a record of under 340 bytes, so 256 KiB hold more than 770 scans.
        msg = protocol.scan(IDS.new(), "s41010300000001-e1-1", "41010300000001-E1", 123456,
                            1796300000000, "code", "https://hc.example/yk/v1?t=" + "Q" * 94,
                            "screen")
        size = len(ob.frame(protocol.encode(protocol.SCAN, msg)))
        self.assertLessEqual(size, 340)
        self.assertGreaterEqual(256 * 1024 // size, 770)
