"""What the shop unit does with a scanned code: store, send, wait, show; and the backlog.

The kiosk's delivery rules (docs/protocol.md §1.4), on a microcontroller:
1. A code line from the scanner becomes a scan with the next sequence number and is
   committed to the flash outbox before anything else. An outbox that is full refuses it:
   the visitor gets the manual-check signal, and the refusal is counted and reported.
2. The scan is published at once (ahead of any backlog) and the unit waits for its verdict
   until `verdict_budget_ms` after the code line arrived. No verdict in time, or no broker:
   manual check (firmware/verdict.py manual_check). Green only from a gateway verdict.
3. Only the gateway's ack moves the outbox's "sent up to" mark; a record is acknowledged
   when every record before it is. Unacknowledged records go out again after a reconnect
   and after `resend_after_ms` without their ack, marked `"replay": true`, at most `window`
   unacknowledged at a time, oldest first.
4. The gateway's `high_seq` (in the ack it sends when the unit comes online) raises the
   numbering, so a unit whose flash was wiped continues where the gateway's store is.
"""



try:
    from time import ticks_add, ticks_diff
except ImportError:  # CPython
    from firmware.board.ticks import ticks_add, ticks_diff

from firmware import protocol, verdict
from firmware.shop.outbox import seq_of

METHOD = "code"
MEDIUM = "screen"


class Unit:
    def __init__(self, cfg, outbox, indicator, clock, ids=None, now_ms=None):
        self.unit = cfg["unit"]
        self.door = cfg["door"]
        self.budget_ms = cfg.get("verdict_budget_ms", 1500)
        self.resend_after_ms = cfg.get("resend_after_ms", 5000)
        self.window = cfg.get("window", 5)
        self.outbox = outbox
        self.indicator = indicator
        self.clock = clock
        self.ids = ids or protocol.EventIds()
        self.now_ms = now_ms or protocol.now_ms
        self.link = None
        self.high_seq = 0
        self.waiting = None  # (event id, deadline) of the scan at the door
        self.inflight = {}  # offset -> [end, seq, event id, acked, sent at]
        self.cursor = outbox.oldest()  # next record the backlog sends
        self.shown = {}  # prompt -> count
        self.sources = {}  # verdict source -> count
        self.refused = 0  # scans the full outbox could not take
        self.unpublished = 0  # live scans that found no broker

    # --- the visitor --------------------------------------------------------------------

    def scanned(self, code, line_at):
        """A code line arrived at `line_at` (ticks ms)."""
        if self.waiting is not None:
            self._show(verdict.manual_check(self.waiting[0]))  # the one before gave up
        seq = self.outbox.next_seq(self.high_seq)
        event_id = self.ids.new()
        try:
            payload = protocol.encode(protocol.SCAN, protocol.scan(
                event_id, self.unit, self.door, seq, self.now_ms(), METHOD, code, MEDIUM))
        except protocol.ProtocolError:
            self._show(verdict.manual_check(event_id, prompt="read_failed"))
            return
        at = self.outbox.append(seq, payload)
        if at is None:
            self.refused += 1
            self._show(verdict.manual_check(event_id))
            return
        end = self.outbox.end
        link = self.link
        if link is None or not link.connected:
            self.unpublished += 1
            self._show(verdict.manual_check(event_id))
            return
        self.waiting = (event_id, ticks_add(line_at, self.budget_ms))
        self.inflight[at] = [end, seq, event_id, False, self.clock()]
        if not link.publish(protocol.SCAN, payload):
            self.unpublished += 1
        # the verdict may already have come in while publish waited for the PUBACK
        if self.waiting is not None and not link.connected:
            self._show(verdict.manual_check(event_id))

    def _show(self, v):
        self.waiting = None
        self.shown[v.prompt] = self.shown.get(v.prompt, 0) + 1
        self.sources[v.source] = self.sources.get(v.source, 0) + 1
        self.indicator.show(verdict.look_for(v), self.clock())

    # --- messages from the gateway ------------------------------------------------------

    def received(self, kind, msg):
        if kind == protocol.VERDICT:
            if self.waiting is not None and msg["id"] == self.waiting[0]:
                self._show(verdict.Verdict.from_message(msg))
            return  # a late verdict, or one for a resend: ignored (§1.3)
        if "high_seq" in msg:
            self.high_seq = max(self.high_seq, msg["high_seq"])
        acked = msg["ids"]
        for entry in self.inflight.values():
            if entry[2] in acked:
                entry[3] = True
        self._advance()

    def _advance(self):
        at = self.outbox.oldest()
        count = 0
        seq = 0
        while at in self.inflight and self.inflight[at][3]:
            end, entry_seq = self.inflight.pop(at)[:2]
            count += 1
            seq = max(seq, entry_seq)
            at = end
        if count:
            self.outbox.acknowledge_to(at, seq, count)

    # --- the loop -----------------------------------------------------------------------

    def connected(self):
        """A new broker session: everything unacknowledged goes out again."""
        self.inflight = {}
        self.cursor = self.outbox.oldest()

    def tick(self, now):
        if self.waiting is not None and ticks_diff(now, self.waiting[1]) >= 0:
            self._show(verdict.manual_check(self.waiting[0]))
        self.indicator.update(now)
        link = self.link
        if link is None or not link.connected or self.waiting is not None:
            return  # the visitor at the door first
        for entry in self.inflight.values():
            if not entry[3] and ticks_diff(now, entry[4]) >= self.resend_after_ms:
                self.connected()  # no ack in time: resend from the oldest
                break
        self._send_backlog(now)

    def _send_backlog(self, now):
        unacked = 0
        for entry in self.inflight.values():
            if not entry[3]:
                unacked += 1
        self.cursor = max(self.cursor, self.outbox.oldest())
        while unacked < self.window:
            if self.cursor in self.inflight:
                self.cursor = self.inflight[self.cursor][0]
                continue
            got = self.outbox.read(self.cursor)
            if got is None:
                return
            payload, end = got
            seq = seq_of(payload)
            event_id = _event_id(payload)
            self.inflight[self.cursor] = [end, seq, event_id, False, now]
            self.cursor = end
            unacked += 1
            if not self.link.publish(protocol.SCAN, payload[:-1] + b', "replay": true}'):
                return

    def status(self):
        """Fields for the retained status message (docs/protocol.md §1.1)."""
        box = self.outbox
        return {
            "sw": "shop-1",
            "outbox": box.count,
            "first_seq": box.mark_seq + 1,
            "last_seq": box.next_seq(self.high_seq) - 1,
            "health": {"outbox": "fault: full" if self.refused else "ok"},
            "metrics": {"refused": self.refused, "shown": self.shown, "sources": self.sources,
                        "unpublished": self.unpublished},
        }


def _event_id(payload):
    at = payload.find(b'"id": "')
    return payload[at + 7:at + 43].decode()
