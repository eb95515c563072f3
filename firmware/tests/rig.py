"""A board on a bench: the real Board on SimPins, and a scripted Pi on the other end.

The scripted Pi speaks the real link protocol (board_link.Session), so these tests see
the same bytes the kiosk driver does.
"""

try:
    from firmware import board_link as link
    from firmware.board.core import Board
    from firmware.board.sim_pins import SimPins
except ImportError:
    import board_link as link
    from board.core import Board
    from board.sim_pins import SimPins

BOARD_BOOT = 0xB0A4D001
KIOSK_BOOT = 0x1105C001
STEP = 5


class Rig:
    def __init__(self, config=None, auto_ack=True, thermometer=None):
        self.pins = SimPins(thermometer)
        self.now = 0
        self.board = Board(self.pins, 0, config, boot=BOARD_BOOT)
        self.kiosk = link.Session(link.ROLE_KIOSK, KIOSK_BOOT)
        self.reader = link.FrameReader(self.kiosk.counters)
        self.received = []  # (ms, Frame) the Pi accepted
        self.auto_ack = auto_ack

    def run(self, ms, every=None):
        """Advance the board `ms` milliseconds in STEP ticks; `every` sends heartbeats."""
        end = self.now + ms
        last_beat = self.now
        while self.now < end:
            self.now += STEP
            if every and self.now - last_beat >= every:
                self.send(link.HEARTBEAT)
                last_beat = self.now
            self.pins.now = self.now
            self.board.tick(self.now)
            self._collect()

    def _collect(self):
        for frame in self.reader.feed(self.pins.take_sent()):
            try:
                self.kiosk.check(frame)
            except link.LinkError:
                continue
            self.received.append((self.now, frame))
            if self.auto_ack and frame.type in link.EVENTS:
                self.pins.deliver(self.kiosk.ack(frame.seq))

    def send(self, msg_type, *fields):
        seq, data = self.kiosk.frame(msg_type, *fields)
        self.pins.deliver(data)
        return seq

    def handshake(self):
        self.send(link.HELLO, link.MAJOR, link.MINOR, link.ROLE_KIOSK, 0)
        self.run(20)

    def frames(self, msg_type, since=0):
        return [f for t, f in self.received if f.type == msg_type and t >= since]

    def acks(self, seq):
        return [f.fields()[1] for f in self.frames(link.ACK) if f.fields()[0] == seq]

    def events(self, msg_type):
        """Distinct events of one type the Pi received: [(event_no, value)]."""
        seen = []
        for f in self.frames(msg_type):
            no, value, _ = f.fields()
            if (no, value) not in seen:
                seen.append((no, value))
        return seen

    def walk(self, first, second, ms=80):
        """One person through both beams: break first, both, clear first, clear second."""
        setattr(self.pins, first, True)
        self.run(ms, every=200)
        setattr(self.pins, second, True)
        self.run(ms, every=200)
        setattr(self.pins, first, False)
        self.run(ms, every=200)
        setattr(self.pins, second, False)
        self.run(ms, every=200)
