"""Fair ingest (gateway/fair_ingest.py): per-kiosk replay queues and budgets, taken in
turns; a flood is dropped without waiting and reported once; live scans per kiosk capped."""

from __future__ import annotations

import asyncio

from gateway.fair_ingest import FairIngest


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_replays_are_taken_in_turns_and_a_flood_is_dropped_and_reported():
    clock, floods = Clock(), []
    fair = FairIngest(replay_rate=10, replay_burst=50, queue_per_kiosk=40, batch_per_kiosk=5,
                      flood_after=20, on_flood=lambda k, n: floods.append((k, n)), clock=clock)
    kept = sum(fair.offer("flooder", {"k": "f", "n": n}) for n in range(10_000))
    assert kept == 40 and fair.queued("flooder") == 40  # the queue bound; nothing waited
    assert floods == [("flooder", 20)], "reported once per window"
    assert all(fair.offer("honest", {"k": "h", "n": n}) for n in range(3))
    batch = await fair.next_batch()
    assert [m["k"] for m in batch] == ["f"] * 5 + ["h"] * 3, "the honest kiosk is in batch one"
    clock.now += 1  # ten more tokens a second, not more
    while fair.queued("flooder"):
        await fair.next_batch()
    # 10 tokens were left after the 40 queued, and a second added 10: at most 20 now
    assert sum(fair.offer("flooder", {"k": "f"}) for _ in range(100)) == 20
    clock.now += 61
    fair.offer("flooder", {"k": "f"})
    assert len(floods) == 1  # a new window has not overrun yet


async def test_next_batch_waits_for_replays():
    fair = FairIngest()
    waiting = asyncio.create_task(fair.next_batch())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    fair.offer("k", {"n": 1})
    assert await asyncio.wait_for(waiting, 1) == [{"n": 1}]


def test_live_scans_per_kiosk_are_capped():
    fair = FairIngest(live_in_flight=2)
    assert fair.start_live("a") and fair.start_live("a")
    assert not fair.start_live("a"), "a third unanswered scan at one door is no visitor"
    assert fair.start_live("b")
    fair.end_live("a")
    assert fair.start_live("a")
    fair.end_live("a"), fair.end_live("a"), fair.end_live("b")
    fair.forget_idle()
    assert fair.queued() == 0
