"""One person holding up one code is one event; the queue behind them does not cut in."""

from __future__ import annotations

import asyncio

from firmware.kiosk.presentation import LatestFrame, PresentationTracker, Sighting

FPS = 15
A = Sighting("code-A", area=40_000)
B = Sighting("code-B", area=15_000)
POSTER = Sighting("payment-code", area=20_000, exclusive=False)


def play(
    tracker: PresentationTracker, frames: list[list[Sighting]], start: float = 0.0
) -> list[tuple[float, str]]:
    events = []
    for i, seen in enumerate(frames):
        now = start + i / FPS
        events += [(now, s.text) for s in tracker.observe(seen, now)]
    return events


def test_code_held_for_ten_seconds_is_one_event() -> None:
    events = play(PresentationTracker(), [[A]] * (10 * FPS))
    assert [text for _, text in events] == ["code-A"]


def test_missed_reads_while_held_do_not_make_a_second_event() -> None:
    # glare or a shaking hand: every other frame, and runs of 5 frames, fail to decode
    frames = [[A] if i % 2 == 0 and not 30 <= i < 35 else [] for i in range(6 * FPS)]
    assert len(play(PresentationTracker(gone_after=0.7), frames)) == 1


def test_same_code_shown_again_after_hold_off_is_a_new_event() -> None:
    tracker = PresentationTracker(hold_off=3.0, gone_after=0.5)
    away = [[]] * (4 * FPS)  # lowered for four seconds
    events = play(tracker, [[A]] * FPS + away + [[A]] * FPS)
    assert [text for _, text in events] == ["code-A", "code-A"]


def test_same_code_re_raised_within_hold_off_is_not_counted_twice() -> None:
    tracker = PresentationTracker(hold_off=3.0, gone_after=0.5)
    away = [[]] * FPS  # lowered for one second, then raised again
    assert len(play(tracker, [[A]] * FPS + away + [[A]] * (3 * FPS))) == 1


def test_a_different_code_after_the_first_leaves_is_a_new_event() -> None:
    tracker = PresentationTracker(gone_after=0.5)
    events = play(tracker, [[A]] * FPS + [[]] * FPS + [[B]] * FPS)
    assert [text for _, text in events] == ["code-A", "code-B"]


def test_second_code_in_view_does_not_steal_the_first_ones_event() -> None:
    tracker = PresentationTracker(gone_after=0.5)
    # A is shown; the next person holds B up beside it while A is still being served
    frames = [[A]] * 5 + [[A, B]] * (3 * FPS) + [[B]] * FPS
    events = play(tracker, frames)
    assert events[0][1] == "code-A"
    # B gets nothing while A is in view; only once A has gone does B's turn come
    b_events = [t for t, text in events if text == "code-B"]
    last_a = (5 + 3 * FPS - 1) / FPS
    assert len(b_events) == 1 and b_events[0] > last_a + 0.5
    assert len(events) == 2


def test_two_codes_appearing_together_go_to_the_nearer_one() -> None:
    events = play(PresentationTracker(), [[B, A]] * FPS)
    assert [text for _, text in events] == ["code-A"]  # A is larger: held nearer the camera


def test_non_health_code_prompts_once_and_never_while_someone_is_served() -> None:
    tracker = PresentationTracker(gone_after=0.5)
    assert [s.text for s in tracker.observe([POSTER], 0.0)] == ["payment-code"]
    assert play(tracker, [[POSTER]] * (2 * FPS), start=0.1) == []  # held up: one prompt only
    tracker = PresentationTracker(gone_after=0.5)
    events = play(tracker, [[A, POSTER]] * FPS)
    assert [text for _, text in events] == ["code-A"]


def test_memory_stays_bounded_over_many_visitors() -> None:
    tracker = PresentationTracker(hold_off=3.0, gone_after=0.5)
    t = 0.0
    for n in range(2000):
        for _ in range(5):
            tracker.observe([Sighting(f"visitor-{n}", 1000)], t)
            t += 1 / FPS
        t += 1.0
    assert tracker.tracked <= 5


async def test_latest_frame_drops_old_frames_instead_of_queueing() -> None:
    box: LatestFrame[int] = LatestFrame()
    for i in range(10):
        box.put(i)
    assert await box.get() == 9
    assert box.dropped == 9
    getter = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not getter.done()  # nothing stale is left behind
    box.put(10)
    assert await asyncio.wait_for(getter, 1) == 10
