"""CPU seconds used by a benchmark's processes, from /proc: on one machine every simulated
machine shares the same cores, so where the work went explains what the latency did."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks used: user + system, every thread) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def cpu_s(pid: int | None) -> float | None:
    """CPU seconds a live process and every live process below it have used so far (the
    platform simulator stores uploads in a child process)."""
    if pid is None or _stat(pid) is None:
        return None
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = found
    tree, ticks = {pid}, 0
    grew = True
    while grew:
        below = {p for p, (parent, _t) in stats.items() if parent in tree} - tree
        grew = bool(below)
        tree |= below
    for p in tree:
        ticks += stats.get(p, (0, 0))[1]
    return round(ticks / TICK, 2)


def used_since(before: dict[str, float | None], now: dict[str, float | None]
               ) -> dict[str, float | None]:
    """Per name, the CPU seconds between two readings of `cpu_s`."""
    return {name: (round(now[name] - b, 2) if b is not None and now.get(name) is not None
                   else None) for name, b in before.items()}
