"""The site's doors, one rule for every form that names a door (registration, the paper
register, the duty roster, the gate): those the venue register (gateway/venues.py) and the
kiosk register enrol, or without either (a demo), those scans or people counts have been
stored for."""

from __future__ import annotations

from gateway.kiosk_trust import KioskRegister
from gateway.read_model import ReadModel
from gateway.venues import Units


async def site_doors(units: Units, register: KioskRegister, reads: ReadModel) -> frozenset[str]:
    tree = units.tree()
    known = set() if tree.single else set(tree.door_unit)
    enrolled = register.all_doors()
    if enrolled is not None:
        known |= enrolled
    if tree.single and enrolled is None:
        known = await reads.doors()
    return frozenset(known)
