"""The console's duty page (一码一守): who is on duty at which door and since when, signing
on and off, and opening a gate once after a manual check (gateway/duty_desk.py).

Every change needs a session with its CSRF token and a role that stands at doors (duty,
manager); a bad door, reason or alert is refused with a message and changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from firmware import protocol
from gateway.auth import Principal, need
from gateway.duty_desk import DutyDesk, DutyError

router = APIRouter()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignOn(_Body):
    door: str = Field(min_length=1, max_length=64)


class OpenGate(_Body):
    reason: str = Field(pattern="^(" + "|".join(protocol.GATE_REASONS) + ")$")
    note: str = Field("", max_length=200)
    alert: int | None = Field(None, ge=1)


def _desk(request: Request) -> DutyDesk:
    return request.app.state.gateway.console.desk


async def _refused(work):
    try:
        return await work
    except DutyError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.get("/api/duty")
async def duty_page(request: Request, who: Annotated[Principal, Depends(need("live"))]) -> dict:
    desk = _desk(request)
    doors = await desk.doors()
    on_duty = await desk.roster.on_duty()
    return {
        "doors": [{"door": d, "on_duty": [r for r in on_duty if r["door"] == d]}
                  for d in doors],
        "me": await desk.roster.post_of(who.user),
        "reasons": list(protocol.GATE_REASONS),
        "history": await desk.roster.history(30),
        "openings": await desk.openings(30),
        # masked card numbers only, and only for the site manager
        "staff": await desk.roster.staff() if "audit" in who.permissions else None,
    }


@router.post("/api/duty/sign-on")
async def sign_on(body: SignOn, request: Request,
                  who: Annotated[Principal, Depends(need("stand_duty"))]) -> dict:
    return await _refused(_desk(request).sign_on(who.user, who.role, body.door, "console"))


@router.post("/api/duty/sign-off")
async def sign_off(request: Request,
                   who: Annotated[Principal, Depends(need("stand_duty"))]) -> dict:
    row = await _desk(request).sign_off(who.user, who.role, "console")
    if row is None:
        raise HTTPException(409, "you are not on duty at any door")
    return row


@router.post("/api/doors/{door}/open")
async def open_gate(door: str, body: OpenGate, request: Request,
                    who: Annotated[Principal, Depends(need("open_gate"))]) -> dict:
    """Open the door's gate once, after a manual check; the kiosk's answer within a few
    seconds (`ok` 1: opened, 0: refused with `refused`, null: no answer yet)."""
    return await _refused(_desk(request).open_gate(who.user, who.role, door, body.reason,
                                                   body.note, body.alert, "console"))

