"""Percentiles for benchmark summaries (nearest-rank, in milliseconds)."""

from __future__ import annotations

import statistics


def summarise(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 3),
        "p99": round(rank(99), 3),
        "mean": round(statistics.fmean(ordered), 3),
        "max": round(ordered[-1], 3),
    }
