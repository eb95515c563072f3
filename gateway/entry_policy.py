"""Entry policies per venue category, set at the gateway, applied by gateway and kiosk.

Supervising departments set measures per category of venue (seed 002): a hospital or a
pharmacy turns yellow codes away instead of holding them for the person on duty, a care
home may let in only people with a recent negative test, a hospital door never opens on
an unchecked scan even where the site's gate fails open. The rule itself is
`firmware.verdict.apply_policy`, one function for the gateway's verdicts and for the
decisions a kiosk makes on its own; this module says which policy a door has.

A door's policy is its unit's category's: a pharmacy inside a mall has the pharmacy's
policy at its own door and the mall's at the mall's doors. `DEFAULTS` are the built-in
policies; the gateway's config (`[entry_policies.<category key>]`) replaces a category's
whole policy. A door whose unit or category is unknown gets `NO_POLICY` (the colour
alone decides, as before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from firmware.verdict import HOLD, NO_POLICY, REFUSE, Policy
from provisioning import categories

# Where the sick go, and where the frail live: yellow refused, never opened unchecked.
_CAREFUL = Policy(yellow=REFUSE, unchecked=HOLD)
DEFAULTS: dict[str, Policy] = {
    key: _CAREFUL
    for key in ("medical", "clinic", "pharmacy", "elderly_care", "child_welfare", "childcare")
}


class PolicyError(ValueError):
    pass


def policies_from_config(table: Mapping[str, Mapping[str, object]]) -> dict[str, Policy]:
    """DEFAULTS with the config's categories replaced; PolicyError names the bad entry."""
    merged = dict(DEFAULTS)
    for key, fields in table.items():
        if key not in categories.CATEGORIES:
            raise PolicyError(f"entry_policies.{key}: not a category key "
                              "(python -m provisioning categories)")
        try:
            merged[key] = Policy.from_dict(dict(fields))
        except ValueError as exc:
            raise PolicyError(f"entry_policies.{key}: {exc}") from None
    return merged


class EntryPolicies:
    """door → policy, through `category_of` (door → its unit's category key, or None)."""

    def __init__(self, by_category: Mapping[str, Policy],
                 category_of: Callable[[str], str | None]) -> None:
        self.by_category = dict(by_category)
        self.category_of = category_of

    def for_door(self, door: str) -> Policy:
        category = self.category_of(door)
        if category is None:
            return NO_POLICY
        return self.by_category.get(category, NO_POLICY)

    def for_doors(self, doors: Iterable[str]) -> Policy:
        """A kiosk enrolled at several doors follows the strictest of their policies."""
        policy = NO_POLICY
        for door in doors:
            policy = policy.stricter(self.for_door(door))
        return policy


def no_categories(_door: str) -> None:
    """Without a venue register the gateway knows no door's category."""
    return None
