"""The decoder keeps pace with the camera (a time budget per frame, the ladder carried over
to the next frames), and the camera brackets exposures while nothing reads."""

from __future__ import annotations

import time

import numpy as np

from firmware.kiosk.camera.source import Frame
from firmware.kiosk.camera_input import ExposureBracket
from firmware.kiosk.decode import Code, Decoder, Step, plain
from simulators.bracketed_camera import BracketedSceneSource

GREY = np.full((120, 160), 128, np.uint8)


def _slow_ladder(costs_s: list[float], reads_at: int | None, ran: list[int]) -> list[Step]:
    def engine_for(i: int, cost: float):
        def engine(image: np.ndarray) -> list[Code]:
            ran.append(i)
            time.sleep(cost)
            if i == reads_at:
                return [Code("x", ((0, 0), (10, 0), (10, 10), (0, 10)))]
            return []

        return engine

    return [Step(f"fake:{i}", plain, engine_for(i, c)) for i, c in enumerate(costs_s)]


def test_a_frame_stays_within_its_budget_and_the_ladder_carries_over() -> None:
    ran: list[int] = []
    decoder = Decoder(budget_ms=45)
    decoder.steps = tuple(_slow_ladder([0.005] + [0.02] * 6, reads_at=6, ran=ran))
    decoder.cost_ms = [0.0] * len(decoder.steps)
    results = []
    for _ in range(12):
        ran.clear()
        result = decoder.decode(GREY)
        results.append((result, list(ran)))
        if result.codes:
            break
    read, _ = results[-1]
    assert read.step == "fake:6"  # the last rung was reached within a few frames
    assert all(r.ms < 45 + 25 for r, _ in results)  # at most one rung's cost over
    assert all(rungs[0] == 0 for _, rungs in results)  # every frame tries the first rung
    covered = {i for _, rungs in results for i in rungs}
    assert covered == set(range(7))
    assert any(r.deferred for r, _ in results[:-1])
    assert 2 < len(results) <= 6
    # after a read, the next frame starts the ladder from the top again
    ran.clear()
    decoder.decode(GREY)
    assert ran[:2] == [0, 1]


def test_without_a_budget_the_whole_ladder_runs_on_one_frame() -> None:
    ran: list[int] = []
    decoder = Decoder()
    decoder.steps = tuple(_slow_ladder([0.001] * 5, reads_at=None, ran=ran))
    decoder.cost_ms = [0.0] * 5
    result = decoder.decode(GREY)
    assert ran == [0, 1, 2, 3, 4] and result.deferred == 0 and result.step is None


class RecordingSource:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def bracket(self, on: bool) -> None:
        self.calls.append(on)


def _frame(exposure: str = "normal") -> Frame:
    return Frame(GREY, 0.0, 1, exposure)


def test_bracketing_starts_after_failed_ladder_passes_and_stops_on_a_normal_read() -> None:
    source = RecordingSource()
    policy = ExposureBracket(source, after=2)
    policy.observe(_frame(), False, ladder_done=False)  # a pass cut short by the budget
    policy.observe(_frame(), False)
    assert source.calls == []
    policy.observe(_frame(), False)
    assert source.calls == [True]
    policy.observe(_frame("short"), True)  # the short frame read: keep alternating
    policy.observe(_frame(), False)
    assert source.calls == [True] and policy.short_reads == 1
    policy.observe(_frame(), True)
    assert source.calls == [True, False]


def test_recorded_frames_take_a_bracket_request_and_play_on_unchanged() -> None:
    from firmware.kiosk.camera.simulated import SimulatedSource

    frames = [np.zeros((8, 8), np.uint8)]
    source = SimulatedSource(frames, fps=None, loop=True)
    policy = ExposureBracket(source)
    for _ in range(5):
        policy.observe(_frame(), False)
    assert policy.on and source.read(0.1).exposure == "normal"


def test_simulated_bracketing_camera_alternates_exposures_late_and_labels_them() -> None:
    source = BracketedSceneSource([("glare", 0.6, 3)], size=(320, 240), hold=10, latency=2)
    labels = [source.read(0).exposure for _ in range(2)]
    source.bracket(True)
    labels += [source.read(0).exposure for _ in range(6)]
    assert labels[:4] == ["normal"] * 4  # asked at frame 3, applied two frames later
    assert labels[4:] == ["short", "normal", "short", "normal"]
    short = source.scene(0, True).image.mean()
    assert short < source.scene(0, False).image.mean()
    assert [source.read(0) for _ in range(3)][-1] is None  # played out after hold frames


def test_a_rung_longer_than_the_budget_is_not_starved() -> None:
    ran: list[int] = []
    decoder = Decoder(budget_ms=30)
    decoder.steps = tuple(_slow_ladder([0.002, 0.002, 0.05, 0.002], reads_at=3, ran=ran))
    decoder.cost_ms = [0.0] * 4
    results = [decoder.decode(GREY) for _ in range(4)]
    assert any(r.step == "fake:3" for r in results)  # reached past the 50 ms rung
    assert ran.count(2) >= 1
