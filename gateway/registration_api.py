"""Console routes for visitors registered by hand and for the paper register.

Staff with the `register` permission (gateway/auth.py) register a visitor with neither
phone nor ID card, key in one paper register entry, or upload a register file (CSV).
Like every console route that changes something they need the session's CSRF token
(gateway/auth.py `current`), and each is audited, naming the person only by masked form.

Bad input changes nothing and says why: a wrong ID check digit, an unknown door, a time in
the future each get a 422 whose detail carries a short `reason` code (the console shows
it in the reader's language) and a `message`. A file is taken line by line: bad lines
come back by line number and reason, good lines are stored.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from firmware import manual_id
from firmware.verdict import PROMPT_TEXT
from gateway import paper_register
from gateway.auth import Principal, need
from gateway.paper_register import BadLine, EntryError, Limits
from gateway.personal import mask

if TYPE_CHECKING:
    from gateway.app import Gateway

router = APIRouter()
Registrant = Annotated[Principal, Depends(need("register"))]


class VisitorForm(BaseModel):
    door: str = Field(min_length=1, max_length=64)
    document: str = Field(max_length=16)
    number: str = Field(min_length=1, max_length=64)
    nationality: str = Field("", max_length=8)


class RegisterLine(BaseModel):
    """One paper register entry as typed into the console's form."""

    time: str = Field(min_length=1, max_length=40)
    door: str = Field(min_length=1, max_length=64)
    document: str = Field(max_length=16)
    number: str = Field(min_length=1, max_length=64)
    nationality: str = Field("", max_length=8)
    colour: str = Field("", max_length=16)


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def _refuse(reason: str, message: str) -> HTTPException:
    return HTTPException(422, {"reason": reason, "message": message})


async def _limits(gw: Gateway) -> Limits:
    now = int(time.time() * 1000)
    retention_ms = gw.config.console.retention_days * 86_400_000
    return Limits(gw.console.tz, now, now - retention_ms, await gw.registrar.doors())


@router.get("/api/doors")
async def doors(request: Request, _who: Registrant) -> list[str]:
    return sorted(await _gateway(request).registrar.doors())


@router.post("/api/register/visitor")
async def register_visitor(body: VisitorForm, request: Request, who: Registrant) -> dict:
    """A visitor with neither phone nor card: looked up now, stored as a manual scan."""
    gw = _gateway(request)
    if body.door not in await gw.registrar.doors():
        raise _refuse("unknown_door", "no such door at this site")
    try:
        credential = manual_id.credential(body.document, body.number, body.nationality)
    except manual_id.ManualIdError as exc:
        raise _refuse(exc.reason, exc.message) from None
    done = await gw.registrar.register(body.door, credential)
    v = done.verdict
    await gw.console.audit.record(who.user, who.role, "register_visitor", door=body.door,
                                  document=body.document, masked=done.masked, id=done.id,
                                  colour=v.colour)
    return {"id": done.id, "door": done.door, "ts": done.ts, "masked": done.masked,
            "colour": v.colour, "action": v.action, "prompt": v.prompt, "source": v.source,
            "text": PROMPT_TEXT.get(v.prompt, ("", ""))}


@router.post("/api/register/entry")
async def transcribe_entry(body: RegisterLine, request: Request, who: Registrant) -> dict:
    """One paper register entry typed in; the same entry again is not stored twice."""
    gw = _gateway(request)
    try:
        entry = paper_register.check(body.model_dump(), 1, await _limits(gw))
    except EntryError as exc:
        raise _refuse(exc.reason, exc.message) from None
    result = await gw.registrar.transcribe([entry])
    imported = len(result.imported)
    await gw.console.audit.record(who.user, who.role, "transcribe_entry", door=entry.door,
                                  ts=entry.ts, masked=mask("manual", entry.credential),
                                  imported=imported)
    return {"imported": imported, "already": len(result.already), "bad": []}


async def _body(request: Request) -> bytes:
    """The upload, refused past MAX_BYTES without reading the rest."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > paper_register.MAX_BYTES:
            raise HTTPException(413, {"reason": "too_large", "message":
                                      f"at most {paper_register.MAX_BYTES} bytes per file"})
    return bytes(data)


@router.post("/api/register/import")
async def import_register(request: Request, who: Registrant) -> dict:
    """A register file (CSV, the request body): bad lines reported, good lines stored."""
    gw = _gateway(request)
    data = await _body(request)
    try:
        text = paper_register.decode(data)
        entries, bad = paper_register.read_csv(text, await _limits(gw))
    except EntryError as exc:
        raise _refuse(exc.reason, exc.message) from None
    result = await gw.registrar.transcribe(entries)
    await gw.console.audit.record(
        who.user, who.role, "import_register", sha256=hashlib.sha256(data).hexdigest()[:16],
        lines=len(entries) + len(bad), imported=len(result.imported),
        already=len(result.already), bad=len(bad))
    return {"imported": len(result.imported), "already": len(result.already),
            "already_lines": [entry.line for entry, _first in result.already],
            "bad": [_bad(b) for b in bad]}


def _bad(line: BadLine) -> dict:
    return {"line": line.line, "reason": line.reason, "message": line.message}

