"""The simulated city's people: the same seed gives the same people everywhere.

The platform simulator answers for them and the visitor simulator sends them to the
kiosks, each side generating the population independently from the shared seed. All
names and ID numbers are fictional; ID numbers carry valid GB 11643 check characters.
"""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass
from functools import lru_cache

TOKEN_URL = "https://hc.henan.example/yk/v1?t="
COLOUR_WEIGHTS = (("green", 80), ("yellow", 12), ("red", 8))

# GB/T 2260 county-level codes in Henan (Zhengzhou, Kaifeng, Luoyang, Xinxiang).
REGIONS = ("410102", "410103", "410104", "410105", "410202", "410302", "410702", "410122")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_character(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


@dataclass(frozen=True, slots=True)
class Person:
    token: str
    id_number: str
    name: str
    colour: str

    @property
    def code_url(self) -> str:
        return TOKEN_URL + self.token

    @property
    def phone(self) -> str:
        """The mobile number the platform holds for this person (derived from the ID
        number, so the population's random sequence, and every seed's people, stay as
        they were)."""
        digits = int(hashlib.sha256(self.id_number.encode()).hexdigest()[:12], 16)
        return "13" + f"{digits % 10**9:09d}"

    @property
    def tested_hours_ago(self) -> int:
        """When this person's latest negative test was sampled, 0-119 hours before any
        lookup: fixed per person, from the token, so the seeded population is unchanged."""
        return int(hashlib.sha256(self.token.encode()).hexdigest()[:8], 16) % 120

    def __repr__(self) -> str:
        return f"Person(colour={self.colour!r})"


def _person(rng: random.Random) -> Person:
    token = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    birth = f"{rng.randint(1935, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = rng.choice(REGIONS) + birth + f"{rng.randint(0, 999):03d}"
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    colours, weights = zip(*COLOUR_WEIGHTS, strict=True)
    colour = rng.choices(colours, weights)[0]
    return Person(token, first17 + check_character(first17), name, colour)


@lru_cache(maxsize=4)
def population(seed: int, size: int = 2000) -> tuple[Person, ...]:
    rng = random.Random(seed)
    return tuple(_person(rng) for _ in range(size))


def first_of_colour(seed: int, colour: str) -> Person:
    return next(p for p in population(seed) if p.colour == colour)


NATIONALITIES = ("USA", "KOR", "RUS", "JPN", "DEU", "GBR", "FRA", "VNM")


@dataclass(frozen=True, slots=True)
class Traveller:
    """A foreign visitor the platform knows by passport."""

    nationality: str
    passport: str
    colour: str

    @property
    def tested_hours_ago(self) -> int:
        """As for residents (Person.tested_hours_ago), from the passport number."""
        return int(hashlib.sha256(self.passport.encode()).hexdigest()[:8], 16) % 120

    def __repr__(self) -> str:
        return f"Traveller(colour={self.colour!r})"


@lru_cache(maxsize=4)
def travellers(seed: int, size: int = 200) -> tuple[Traveller, ...]:
    """Foreign visitors, from their own random sequence (the residents stay as they are)."""
    rng = random.Random(f"travellers-{seed}")
    colours, weights = zip(*COLOUR_WEIGHTS, strict=True)
    return tuple(
        Traveller(rng.choice(NATIONALITIES),
                  rng.choice(string.ascii_uppercase) + f"{rng.randint(0, 99_999_999):08d}",
                  rng.choices(colours, weights)[0])
        for _ in range(size))
