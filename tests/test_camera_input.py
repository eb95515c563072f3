"""The camera as the kiosk sees it: frames in, one Reading per person, faults on the status topic.

Frames come from the simulated source (the camera sensor is the one part that cannot run
here); decoding, classification, presentation, Health and the kiosk's MQTT status are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import cv2
import numpy as np
import pytest

from firmware import protocol
from firmware.kiosk import config as kiosk_config
from firmware.kiosk.camera.config import KIOSK, CameraConfig
from firmware.kiosk.camera.picamera2_source import controls_for
from firmware.kiosk.camera.simulated import SimulatedSource
from firmware.kiosk.camera_input import CameraInput
from firmware.kiosk.decode import Decoder
from firmware.kiosk.health import Health
from firmware.kiosk.kiosk import Kiosk
from firmware.kiosk.reading import Reading
from gateway.broker import Broker
from simulators import processes
from simulators import scenes_payloads as payloads
from simulators.lights import SimulatedLights
from simulators.scenes import make_scene

BLANK = np.full((480, 640), 110, np.uint8)
RNG = np.random.default_rng(42)
URL = payloads.health_url(RNG)
SIGNED = payloads.signed_code(RNG)
PAYMENT = "https://qr.alipay.com/fkx0123456789abcdefghij"


def shown(payload: str, category: str = "screen", seed: int = 1) -> np.ndarray:
    return make_scene(category, 0.1, seed, (640, 480), payload=payload).image


async def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def run_camera(
    camera: CameraInput, until: Callable[[], bool], settle: float = 0.3
) -> list[Reading]:
    readings: list[Reading] = []

    async def consume() -> None:
        async for reading in camera:
            readings.append(reading)

    task = asyncio.create_task(consume())
    try:
        await wait_until(until)
        await asyncio.sleep(settle)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return readings


async def test_code_held_in_front_of_the_camera_gives_one_reading() -> None:
    frames = [shown(URL)] * 45 + [BLANK] * 5  # 1.5 s held at 30 fps
    source = SimulatedSource(frames, fps=30)
    camera = CameraInput(source, Health())
    readings = await run_camera(camera, lambda: camera.frames_read >= len(frames))
    assert len(readings) == 1
    assert readings[0].method == "code" and readings[0].credential == URL


async def test_signed_paper_code_and_dark_mode_screen() -> None:
    frames = [shown(SIGNED, "paper")] * 10 + [BLANK] * 30 + [shown(URL, "dark_mode")] * 10
    source = SimulatedSource(frames, fps=30)
    camera = CameraInput(source, Health())
    readings = await run_camera(camera, lambda: camera.frames_read >= len(frames))
    assert [(r.method, r.credential) for r in readings] == [("signed_code", SIGNED), ("code", URL)]
    assert readings[0].medium in ("paper", "unknown")
    assert readings[1].medium == "screen"  # light-on-dark: only a screen shows that


async def test_second_code_in_view_does_not_steal_the_first_ones_event() -> None:
    pair = make_scene("two_codes", 0.0, 2, (1280, 720))
    first, second = pair.payloads
    alone = cv2.resize(shown(first), (1280, 720))
    frames = [alone] * 10 + [pair.image] * 30
    source = SimulatedSource(frames, fps=30)
    camera = CameraInput(source, Health())
    readings = await run_camera(camera, lambda: camera.frames_read >= len(frames))
    assert [r.credential for r in readings] == [first]
    assert Decoder().decode(pair.image).codes[1].text == second  # B was in view and readable


async def test_non_health_code_gets_the_prompt_and_no_event() -> None:
    prompts: list[str] = []
    frames = [shown(PAYMENT)] * 30
    source = SimulatedSource(frames, fps=30)
    camera = CameraInput(source, Health(), on_prompt=prompts.append)
    readings = await run_camera(camera, lambda: camera.frames_read >= len(frames))
    assert readings == []
    assert prompts == ["not_health_code"]


async def test_camera_that_stops_delivering_frames_is_a_fault_until_frames_return() -> None:
    health = Health()
    source = SimulatedSource([BLANK], fps=20, loop=True)
    camera = CameraInput(source, health, stall_after=0.5, read_timeout=0.1)
    task = asyncio.create_task(run_camera(camera, lambda: False))
    try:
        await wait_until(lambda: health.snapshot().get("camera") == "ok")
        source.pause()
        await wait_until(lambda: health.snapshot().get("camera", "").startswith("fault"), 3)
        assert not health.ok
        source.resume()
        await wait_until(lambda: health.snapshot().get("camera") == "ok", 3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AssertionError):
            await task


async def test_camera_fault_and_recovery_appear_on_the_kiosk_status_topic(tmp_path: Path) -> None:
    with Broker(tmp_path / "broker") as broker:
        raw = processes.kiosk_config(tmp_path, "test-site", "kiosk-1", "door-1", broker.port)
        cfg = kiosk_config.KioskConfig.model_validate(raw)
        health = Health()
        source = SimulatedSource([BLANK], fps=20, loop=True)
        camera = CameraInput(source, health, stall_after=0.5, read_timeout=0.1)
        kiosk = Kiosk(cfg, camera, SimulatedLights(), health)
        topic = protocol.topic("test-site", "kiosk-1", protocol.STATUS)
        seen: list[dict] = []
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe(topic, qos=1)

            async def listen() -> None:
                async for message in client.messages:
                    seen.append(json.loads(message.payload))

            listener = asyncio.create_task(listen())
            runner = asyncio.create_task(kiosk.run())

            def camera_state():
                return seen and seen[-1].get("health", {}).get("camera")

            try:
                await wait_until(lambda: camera_state() == "ok")
                source.pause()
                await wait_until(lambda: str(camera_state()).startswith("fault"))
                source.resume()
                await wait_until(lambda: camera_state() == "ok")
            finally:
                for task in (runner, listener):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task


class SlowDecoder(Decoder):
    def decode(self, frame):  # type: ignore[override]
        time.sleep(0.05)  # a decoder that cannot keep up with the camera
        return super().decode(frame)


async def test_frames_are_dropped_not_queued_when_decoding_falls_behind() -> None:
    frames = [BLANK] * 400 + [shown(URL)] * 200
    source = SimulatedSource(frames, fps=None)  # delivers as fast as it is read
    camera = CameraInput(source, Health(), decoder=SlowDecoder())
    started = time.monotonic()
    readings = await run_camera(camera, lambda: camera.frames_read >= len(frames), settle=1.0)
    assert [r.credential for r in readings] == [URL]
    # a queue would have decoded all 400 stale blanks first (20 s at 50 ms each)
    assert time.monotonic() - started < 10
    assert camera.frames_decoded < 40 and camera.mailbox.dropped > 500


def test_simulated_source_plays_a_folder_and_refuses_bad_files(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), BLANK)
    cv2.imwrite(str(tmp_path / "b.png"), BLANK)
    source = SimulatedSource.from_folder(tmp_path, fps=None)
    frames = [source.read(0.1) for _ in range(3)]
    assert [f.index for f in frames[:2] if f] == [1, 2] and frames[2] is None  # played out
    (tmp_path / "c.png").write_text("not a picture")
    with pytest.raises(ValueError, match="c.png"):
        SimulatedSource.from_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        SimulatedSource.from_folder(empty)


def test_picamera2_controls_protect_highlights_and_crop_to_the_roi() -> None:
    controls = controls_for(KIOSK, (4608, 2592))
    assert controls["AeConstraintMode"] == "Highlight"
    assert controls["FrameDurationLimits"][0] <= KIOSK.max_exposure_us
    x, y, w, h = controls["ScalerCrop"]
    assert (x, y) == (806, 452) and w < 4608 and h < 2592 and w % 2 == 0
    plain = controls_for(CameraConfig(roi=None, protect_highlights=False), (4608, 2592))
    assert "ScalerCrop" not in plain and plain["AeConstraintMode"] == "Normal"
    with pytest.raises(ValueError, match="roi"):
        CameraConfig(roi=(0.5, 0.5, 0.4, 0.9))


class BrokenOnceDecoder(Decoder):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def decode(self, frame):  # type: ignore[override]
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("corrupt frame")
        return super().decode(frame)


async def test_a_frame_that_breaks_the_decoder_is_skipped_not_fatal() -> None:
    frames = [BLANK] + [shown(URL)] * 20
    camera = CameraInput(SimulatedSource(frames, fps=30), Health(), decoder=BrokenOnceDecoder())
    readings = await run_camera(camera, lambda: camera.frames_read >= len(frames))
    assert [r.credential for r in readings] == [URL]
