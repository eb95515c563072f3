"""The gateway's side of the people on duty: signing on and off (console or staff card),
the doors nobody watches, and the gate opened once by the person on duty.

- A staff card tapped at a kiosk arrives as a `staff` message (docs/protocol.md): never a
  scan, never stored as a visit, never forwarded. The card's hash names the staff member
  (gateway/duty.py); the tap signs them on at the kiosk's door, or off if they were
  already on duty there, and the kiosk is told which (`duty`), to show and say it. On
  duty there with a visitor held (an entry alert just raised), the tap opens the gate
  once instead, after the manual check.
- Scans or people counted at a door with nobody on duty raise "door unattended", once
  per unattended stretch and day.
- Opening a gate: only the person on duty at that door (or the site manager), for a
  reason from a short list, for one kiosk of that door. The command goes out over the
  broker, where only the gateway may write a kiosk's `gate` topic; the kiosk refuses one
  for another door, an old one or one it has seen, and answers `gate_done`. Every
  opening is a row in `gate_openings` and an audit entry (who, when, why), and its result
  another; the scan it followed keeps its colour: nothing becomes green.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import aiomqtt

from firmware import protocol
from gateway import duty
from gateway.alerts import Alerts
from gateway.audit import AuditLog
from gateway.config import GatewayConfig
from gateway.duty import Roster
from gateway.kiosk_trust import KioskRegister
from gateway.read_model import ReadModel
from gateway.replies import KioskReplies
from gateway.site_doors import site_doors
from gateway.venues import Units

log = logging.getLogger(__name__)

KIOSK_RECENT_MS = 7 * 86_400_000  # a kiosk that scanned at a door this week stands there
# A staff card tapped by the person on duty opens the gate for an entry alert this recent.
CARD_GATE_WINDOW_MS = 120_000
OPENINGS = ("n", "id", "door", "kiosk", "user", "via", "reason", "note", "alert", "asked_ms",
            "done_ms", "ok", "refused")


class DutyError(Exception):
    """A request the desk refuses: `status` is the HTTP status the console answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DutyDesk:
    def __init__(self, cfg: GatewayConfig, roster: Roster, alerts: Alerts, audit: AuditLog,
                 replies: KioskReplies, reads: ReadModel, register: KioskRegister, units: Units,
                 publish=lambda _kind, _data: None) -> None:
        self.cfg = cfg
        self.roster = roster
        self.alerts = alerts
        self.audit = audit
        self.replies = replies
        self.reads = reads
        self.register = register
        self.units = units
        self.publish = publish  # the console's live feed (gateway/live.py Hub)
        self.salt = duty.card_salt(cfg.pseudonym_key)
        self.ids = protocol.EventIds()
        self._answers: dict[str, asyncio.Future[dict]] = {}

    # --- doors ----------------------------------------------------------------------------

    async def doors(self) -> list[str]:
        """The site's doors (gateway/site_doors.py), and those `[duty] doors` names."""
        known = set(self.cfg.duty.doors) | await site_doors(self.units, self.register,
                                                             self.reads)
        return sorted(known)

    async def check_door(self, door: str) -> None:
        if door not in await self.doors():
            raise DutyError(404, f"unknown door {door[:64]!r}")

    async def kiosks_at(self, door: str) -> list[str]:
        """The kiosks enrolled for `door`; without a register, those that scanned there."""
        if self.register.all_doors():  # also re-reads a register provisioning rewrote
            assert self.register.doors is not None
            enrolled = sorted(k for k, doors in self.register.doors.items() if door in doors)
            if enrolled:
                return enrolled
        return await self.reads.kiosks_at(door, int(time.time() * 1000) - KIOSK_RECENT_MS)

    # --- the roster -----------------------------------------------------------------------

    async def sign_on(self, user: str, role: str, door: str, via: str,
                      door_known: bool = False) -> dict:
        """`door_known`: a kiosk enrolled for the door asked (a staff card tapped there)."""
        if not door_known:
            await self.check_door(door)
        row, left = await self.roster.sign_on(user, door, via)
        if left is not None:
            await self.audit.record(user, role, "duty_off", door=left["door"], via=via)
        await self.audit.record(user, role, "duty_on", door=door, via=via)
        self.publish("duty", {"door": door})
        return row

    async def sign_off(self, user: str, role: str, via: str) -> dict | None:
        row = await self.roster.sign_off(user, via)
        if row is not None:
            await self.audit.record(user, role, "duty_off", door=row["door"], via=via)
            self.publish("duty", {"door": row["door"]})
        return row

    async def on_staff(self, msg: dict) -> None:
        """A staff card tapped at a kiosk: sign on there; if already on duty there, open
        the gate once for the visitor held at this door (an entry alert still open, raised
        within `CARD_GATE_WINDOW_MS`), else sign off."""
        staff = await self.roster.staff_by_card(msg["card"])
        via = f"card:{msg['kiosk']}"
        held = None
        if staff is None:
            result = "not_staff"
            log.warning("card tapped as staff at %s is not on the staff list", msg["kiosk"])
        elif not self.register.allows(msg["kiosk"], msg["door"]):
            result = "not_staff"  # a kiosk naming a door it does not stand at
            log.warning("staff tap from %s names a door it is not enrolled for", msg["kiosk"])
        else:
            user, role = staff
            post = await self.roster.post_of(user)
            if post is None or post["door"] != msg["door"]:
                await self.sign_on(user, role, msg["door"], via, door_known=True)
                result = "on"
            else:
                held = await self.alerts.open_entry_at(
                    msg["door"], int(time.time() * 1000) - CARD_GATE_WINDOW_MS)
                if held is None:
                    await self.sign_off(user, role, via)
                    result = "off"
                else:
                    result = "gate"
        await self.replies.send(msg["kiosk"], protocol.DUTY,
                                protocol.duty(msg["id"], msg["kiosk"], result, protocol.now_ms()))
        if held is not None and staff is not None:
            # at the kiosk there is one reason: the person on duty checked by hand
            try:
                await self.open_gate(staff[0], staff[1], msg["door"], "manual_check_passed", "",
                                     held["n"], via, kiosk=msg["kiosk"])
            except DutyError as exc:  # the alert closed meanwhile, in the console
                log.warning("gate by staff card at %s not opened: %s", msg["door"], exc.message)

    async def publish_staff_list(self) -> None:
        """The staff cards, as kiosks recognise them, retained for every kiosk."""
        payload = protocol.staff_list(self.salt, await self.roster.cards(), protocol.now_ms())
        await self.replies.retain(protocol.staff_list_topic(self.cfg.site),
                                  json.dumps(payload).encode())

    async def watch_staff_list(self, every_s: float = 2.0) -> None:
        """Staff are added on the gateway's machine (python -m gateway.staff) while it
        runs: the kiosks' list follows within `every_s`."""
        sent: list[str] | None = None
        while True:
            cards = await self.roster.cards()
            if cards != sent and self.replies.session.client is not None:
                await self.publish_staff_list()
                sent = cards
            await asyncio.sleep(every_s)

    async def unattended(self, door: str, ts: int, what: str, kiosk: str = "") -> None:
        """Scans (`what` = scan) or people counted (`people`) at a door: alert if nobody
        is on duty there."""
        if kiosk in protocol.RESERVED_KIOSK_NAMES:
            return  # keyed in by staff (a registration, the paper register): not the door
        since = await self.roster.unattended_since(door)
        if since is not None:
            await self.alerts.on_unattended(door, since, ts, what)

    # --- the gate -------------------------------------------------------------------------

    async def open_gate(self, user: str, role: str, door: str, reason: str, note: str,
                        alert: int | None, via: str, kiosk: str | None = None) -> dict:
        """Open `door`'s gate once (by `kiosk`, or the door's latest); the opening as
        recorded, with the kiosk's answer."""
        await self.check_door(door)
        if role != "manager":
            post = await self.roster.post_of(user)
            if post is None or post["door"] != door:
                raise DutyError(403, f"sign on at {door} first: only the person on duty "
                                     "there may open its gate")
        if alert is not None:
            found = await self.alerts.get(alert)
            if found is None or found["door"] != door:
                raise DutyError(404, f"no alert {alert} at {door[:64]}")
            if found["acked_ms"] is not None:
                raise DutyError(409, f"alert {alert} is already closed")
        kiosks = [kiosk] if kiosk is not None else await self.kiosks_at(door)
        if not kiosks:
            raise DutyError(409, f"no kiosk at {door[:64]} to open its gate")
        kiosk, event_id, at = kiosks[0], self.ids.new(), int(time.time() * 1000)
        cur = await self.roster.db.execute(
            "INSERT INTO gate_openings (id, door, kiosk, user, via, reason, note, alert, "
            "asked_ms) VALUES (?,?,?,?,?,?,?,?,?)",
            (event_id, door, kiosk, user, via, reason, note, alert, at))
        n = cur.lastrowid
        # the note stays in gate_openings: free text may name the visitor, the log never does
        await self.audit.record(user, role, "open_gate", door=door, kiosk=kiosk, reason=reason,
                                alert=alert, opening=n, via=via)
        answer: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._answers[event_id] = answer
        try:
            await self.replies.send(kiosk, protocol.GATE, protocol.gate(
                event_id, kiosk, door, self.cfg.duty.gate_open_ms, reason, protocol.now_ms()))
            done = await asyncio.wait_for(answer, self.cfg.duty.gate_answer_s)
        except (TimeoutError, aiomqtt.MqttError) as exc:  # no answer, or no broker
            log.warning("gate at %s: no answer from %s (%s)", door, kiosk, type(exc).__name__)
            await self.audit.record("system", "-", "gate_no_answer", door=door, kiosk=kiosk,
                                    opening=n)
            done = None
        finally:
            self._answers.pop(event_id, None)
        if done is not None and done["ok"] and alert is not None:
            await self.alerts.acknowledge(alert, user, "let_in_after_check",
                                          f"{reason}: {note}".strip(" :"), gate=n)
        return await self.opening(event_id) or {}

    async def on_gate_done(self, msg: dict) -> None:
        at = int(time.time() * 1000)
        cur = await self.roster.db.execute(
            "UPDATE gate_openings SET done_ms=?, ok=?, refused=? "
            "WHERE id=? AND kiosk=? AND done_ms IS NULL",
            (at, int(msg["ok"]), msg.get("refused"), msg["id"], msg["kiosk"]))
        if not cur.rowcount:
            return  # not ours, or answered already
        row = await self.opening(msg["id"])
        assert row is not None
        await self.audit.record("system", "-", "gate_opened" if msg["ok"] else "gate_refused",
                                door=row["door"], kiosk=msg["kiosk"], opening=row["n"],
                                refused=msg.get("refused"))
        self.publish("gate", row)
        waiting = self._answers.get(msg["id"])
        if waiting is not None and not waiting.done():
            waiting.set_result(msg)

    async def opening(self, event_id: str) -> dict | None:
        async with self.roster.db.execute(
            f"SELECT {','.join(OPENINGS)} FROM gate_openings WHERE id=?", (event_id,)) as cur:
            row = await cur.fetchone()
        return dict(zip(OPENINGS, row, strict=True)) if row else None

    async def openings(self, limit: int = 50) -> list[dict]:
        async with self.roster.db.execute(
            f"SELECT {','.join(OPENINGS)} FROM gate_openings ORDER BY n DESC LIMIT ?",
            (limit,)) as cur:
            return [dict(zip(OPENINGS, r, strict=True)) for r in await cur.fetchall()]
