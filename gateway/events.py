"""What happens at the gateway, for those who watch it: metrics, the console.

Check-in and the kiosk reports tell their observers each event as it happens, through
one interface. Observers are called synchronously on the scan's path, so an observer
only counts or queues; anything that needs awaiting (a database, a browser) happens in
the observer's own task. Events carry no credential and no name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gateway.misuse import Misuse


@dataclass(frozen=True, slots=True)
class VerdictSent:
    """A live scan's verdict left for its kiosk, `latency_s` after the scan arrived."""

    kiosk: str
    id: str
    colour: str
    latency_s: float


@dataclass(frozen=True, slots=True)
class ScanStored:
    """A live scan, new to the store, committed with its verdict."""

    id: str
    kiosk: str
    door: str
    ts: int
    method: str
    colour: str
    action: str
    prompt: str
    source: str  # who decided (firmware/verdict.py SOURCES)
    temp_dc: int | None = None  # the visitor's temperature, where the door measured one


@dataclass(frozen=True, slots=True)
class MisuseSeen:
    """A one-time signed code shown at a second door, or again."""

    misuse: Misuse
    id: str  # the scan that revealed it
    kiosk: str
    door: str
    ts: int


@dataclass(frozen=True, slots=True)
class DoorCounted:
    """A board counted a person through a door; `people` is that door's count of people
    in for the hour starting at `hour_ms`."""

    door: str
    hour_ms: int
    people: int


@dataclass(frozen=True, slots=True)
class ScanDistrusted:
    """A kiosk claimed what the gateway does not believe (gateway/kiosk_trust.py): another
    door (the scan was refused), a decision it could not have made, a far-off time."""

    id: str
    kiosk: str
    door: str
    ts: int
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReplayFlood:
    """A kiosk sent more replayed scans than its budget (gateway/fair_ingest.py)."""

    kiosk: str
    dropped: int


Event = VerdictSent | ScanStored | MisuseSeen | DoorCounted | ScanDistrusted | ReplayFlood


class Observer(Protocol):
    def observe(self, event: Event) -> None:
        """Called on the event's path: must not block, must not raise."""


class Observers:
    """Fan-out to every observer, in the order given."""

    def __init__(self, observers: Iterable[Observer] = ()) -> None:
        self._observers = tuple(observers)

    def observe(self, event: Event) -> None:
        for observer in self._observers:
            observer.observe(event)
