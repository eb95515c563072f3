"""Staff at the kiosk (一码一守): a staff card tapped signs its holder on or off duty at
this door, and the gate opens once when the person on duty asks for it.

Staff cards are recognised from the gateway's retained staff list (docs/protocol.md
`placecode/<site>/trust/staff`): a salt and the hashes of the staff's ID numbers under
it, kept on disk so a restarted kiosk knows them before the broker answers. A card whose
hash is on the list is no visitor: nothing goes to the outbox, only a `staff` message with
the hash (never the number); the gateway answers `duty` and the screen and voice say
"signed on", "signed off" or "not a staff card". The person on duty here tapping again
while a visitor is held at this door (after checking them by hand) opens the gate once
instead: the gateway answers `gate` and sends the gate command.

A `gate` command comes only from the gateway (the broker lets nobody else write this
kiosk's gate topic). It is obeyed once, for this door, while fresh: one for another door,
older than `protocol.GATE_FRESH_MS` on this kiosk's clock (a command that waited at the
broker while the kiosk was away is for someone long gone) or seen before is refused. The
gateway hears which (`gate_done`); each is logged here, without anyone's identity.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

from firmware import protocol
from firmware.kiosk.ports import DoorSignal
from firmware.kiosk.reading import Reading

log = logging.getLogger(__name__)

# what the screen and voice say for the gateway's answer; "gate": the gate command that
# follows says "opened by staff" itself
DUTY_PROMPTS = {"on": "duty_on", "off": "duty_off", "not_staff": "staff_unknown", "gate": None}
SEEN_GATES = 256  # gate command ids remembered, to refuse one delivered twice


class StaffCards:
    """The retained staff list, as this kiosk knows it (also across restarts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.salt: str | None = None
        self.cards: frozenset[str] = frozenset()
        try:
            self._take(path.read_bytes())
        except (OSError, protocol.ProtocolError):
            pass  # none yet, or damaged: the broker's retained copy comes on connect

    def _take(self, payload: bytes) -> None:
        self.salt, self.cards = protocol.check_staff_list(payload)

    def offer(self, payload: bytes) -> bool:
        """A staff list from the broker; False (and the old list kept) if malformed."""
        try:
            self._take(payload)
        except protocol.ProtocolError as exc:
            log.warning("staff list refused: %s", exc.reason)
            return False
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.write_bytes(payload)
        tmp.replace(self.path)
        log.info("staff list: %d cards", len(self.cards))
        return True

    def card_of(self, reading: Reading) -> str | None:
        """The card's hash if `reading` is a staff member's ID card, else None."""
        if reading.method != "id_card" or self.salt is None or not self.cards:
            return None
        normal = reading.credential.strip().upper()
        card = hashlib.sha256(f"{self.salt}:{normal}".encode()).hexdigest()[:32]
        return card if card in self.cards else None


class StaffDesk:
    def __init__(self, kiosk: str, door: str, cards: StaffCards, signal: DoorSignal,
                 publish: Callable[[str, dict], Awaitable[None]], now_ms: Callable[[], int],
                 answer_s: float = 3.0) -> None:
        self.kiosk = kiosk
        self.door = door
        self.cards = cards
        self.signal = signal
        self.publish = publish  # (kind, message) to the gateway, QoS 1
        self.now_ms = now_ms
        self.answer_s = answer_s
        self.ids = protocol.EventIds()
        self._answers: dict[str, asyncio.Future[str]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def tap(self, card: str) -> str | None:
        """A staff card at this door: the gateway's answer (on, off, gate, not_staff),
        shown; None if no answer came in time (the screen says to try again; signing on
        needs the gateway, or the console)."""
        event_id = self.ids.new()
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._answers[event_id] = answer
        try:
            await asyncio.wait_for(self.publish(protocol.STAFF, protocol.staff(
                event_id, self.kiosk, self.door, self.now_ms(), card)), self.answer_s)
            result: str | None = await asyncio.wait_for(answer, self.answer_s)
        except TimeoutError:
            result = None
        finally:
            self._answers.pop(event_id, None)
        log.info("staff card at %s: %s", self.door, result or "no answer from the gateway")
        prompt = DUTY_PROMPTS[result] if result else "duty_no_answer"
        if prompt is not None:
            await self.signal.prompt(prompt)
        return result

    def on_duty(self, msg: dict) -> None:
        """The gateway's answer to a tap (from the session's receive loop)."""
        waiting = self._answers.get(msg["id"])
        if waiting is not None and not waiting.done():
            waiting.set_result(msg["result"])

    async def gate(self, msg: dict) -> str | None:
        """Obey a gate command once; None if the gate opened, else why it did not."""
        refused = self._refusal(msg)
        if refused is None:
            self._seen[msg["id"]] = None
            if len(self._seen) > SEEN_GATES:
                self._seen.popitem(last=False)
            if not await self.signal.open_gate(msg["ms"]):
                refused = "board"
        if refused is None:
            log.warning("gate opened for the person on duty: command %s, reason %s, %d ms",
                        msg["id"], msg["reason"], msg["ms"])
        else:
            log.warning("gate command %s refused: %s", msg["id"], refused)
        await self.publish(protocol.GATE_DONE,
                           protocol.gate_done(msg["id"], self.kiosk, self.now_ms(), refused))
        return refused

    def _refusal(self, msg: dict) -> str | None:
        if msg["door"] != self.door:
            return "wrong_door"
        if msg["id"] in self._seen:
            return "repeated"
        if abs(self.now_ms() - msg["ts"]) > protocol.GATE_FRESH_MS:
            return "stale"
        return None
