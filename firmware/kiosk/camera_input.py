"""The camera as a kiosk input: frames in, one Reading per person presenting a code out.

Three loops meet here. The capture loop pulls frames from the FrameSource and notices
silence: a camera that delivers nothing for `stall_after` seconds is a fault the console
must see, reported through Health and cleared when frames return. The decode loop takes
only the newest frame (LatestFrame drops the rest), decodes it off the event loop, and
feeds the presentation tracker. What the tracker answers becomes a Reading for a health
code, or a "not a health code" prompt through `on_prompt` for anything else, so the
person at the door hears why nothing happened.

The decoder gets a time budget a little under the camera's frame interval, so decoding
keeps pace with the camera (the ladder carries over to the next frame what did not fit);
frames that arrive while one is decoded are still dropped, never queued. While frames
read nothing, the source is asked to alternate short and normal
exposures (ExposureBracket); it goes back to normal exposures once a frame reads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from firmware.kiosk.camera.config import KIOSK
from firmware.kiosk.camera.source import Frame, FrameSource
from firmware.kiosk.classify import Classifier
from firmware.kiosk.decode import Code, Decoder, unique_texts
from firmware.kiosk.health import Health
from firmware.kiosk.presentation import LatestFrame, PresentationTracker, Sighting
from firmware.kiosk.reading import Medium, Method, Reading
from firmware.verdict import PROMPT_TEXT

log = logging.getLogger(__name__)
T = TypeVar("T")

NOT_HEALTH_CODE = "not_health_code"
assert NOT_HEALTH_CODE in PROMPT_TEXT


def guess_medium(grey: np.ndarray, code: Code) -> Medium:
    """'screen' when the code is light-on-dark (dark mode) or its light modules clip
    (emissive); otherwise 'unknown'. Paper is not claimed: no cue measured here tells
    matte paper from a dim screen reliably."""
    pts = np.array(code.corners, np.float32)
    centre = pts.mean(axis=0)
    inner = centre + (pts - centre) * 0.8
    quiet = centre + (pts - centre) * 1.12  # in the quiet zone, just outside the finders
    inside = _sample(grey, inner)
    margin = _sample(grey, quiet)
    if inside.size == 0 or margin.size == 0:
        return "unknown"
    if np.median(margin) + 20 < np.median(inside):
        return "screen"  # quiet zone darker than the code: inverted (dark-mode) display
    if np.percentile(margin, 50) >= 250:
        return "screen"  # the light background is clipped: it emits light
    return "unknown"


def _sample(grey: np.ndarray, quad: np.ndarray) -> np.ndarray:
    h, w = grey.shape
    out = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        for t in np.linspace(0.2, 0.8, 12):
            x, y = a + (b - a) * t
            if 0 <= x < w and 0 <= y < h:
                out.append(grey[int(y), int(x)])
    return np.array(out, np.uint8)


# A frame's decode budget: this share of the camera's frame interval (the rest is capture,
# classification and the event loop).
BUDGET_SHARE = 0.8


class ExposureBracket:
    """When to ask the camera for short exposures: once the decoder has gone through its
    whole ladder `after` times in a row without a read (with a frame budget one pass can
    span several frames, and alternating exposures earlier would break up that pass),
    until a normal frame reads again."""

    def __init__(self, source: FrameSource, after: int = 1) -> None:
        self._bracket = source.bracket
        self.after = after
        self.misses = 0
        self.on = False
        self.short_reads = 0  # reads that came from a short frame (the bracket paid off)

    def observe(self, frame: Frame, read: bool, ladder_done: bool = True) -> None:
        """After each decoded frame: did it read, and did the ladder finish a pass on it
        (DecodeResult.deferred == 0)?"""
        if read:
            self.misses = 0
            self.short_reads += frame.exposure == "short"
            wanted = frame.exposure == "short"  # a short frame read: keep alternating
        else:
            self.misses += ladder_done
            wanted = self.on or self.misses >= self.after
        if wanted != self.on:
            self.on = wanted
            self._bracket(wanted)


class CameraInput:
    """A ReadingSource: `async for reading in CameraInput(source, health, on_prompt)`."""

    def __init__(
        self,
        source: FrameSource,
        health: Health,
        on_prompt: Callable[[str], None] | None = None,
        *,
        decoder: Decoder | None = None,
        classifier: Classifier | None = None,
        tracker: PresentationTracker | None = None,
        stall_after: float = 2.0,
        read_timeout: float = 0.25,
        frame_rate: float = KIOSK.frame_rate,
    ) -> None:
        self.source = source
        self.health = health
        self.on_prompt = on_prompt or (lambda key: None)
        self.decoder = decoder or Decoder(budget_ms=BUDGET_SHARE * 1000.0 / frame_rate)
        self.bracket = ExposureBracket(source)
        self.classifier = classifier or Classifier()
        self.tracker = tracker or PresentationTracker()
        self.stall_after = stall_after
        self.read_timeout = read_timeout
        self.mailbox: LatestFrame[Frame] = LatestFrame()
        self.frames_read = 0
        self.frames_decoded = 0
        self._readings: asyncio.Queue[Reading] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[Reading]:
        return self._run()

    async def _run(self) -> AsyncIterator[Reading]:
        # One thread each for the camera and the decoder, for the life of the iteration:
        # the decoder's buffers stay in one malloc arena (the default pool hands calls to
        # whichever thread is free, which fragmented memory in the 100,000-frame run),
        # and a decoder never runs on two threads at once.
        self._capture_thread = ThreadPoolExecutor(1, thread_name_prefix="camera-capture")
        self._decode_thread = ThreadPoolExecutor(1, thread_name_prefix="camera-decode")
        tasks = [
            asyncio.create_task(self._capture(), name="camera-capture"),
            asyncio.create_task(self._decode(), name="camera-decode"),
        ]
        try:
            while True:
                getter = asyncio.ensure_future(self._readings.get())
                done, _ = await asyncio.wait([getter, *tasks], return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                getter.cancel()
                for task in tasks:  # a loop died: surface its error instead of hanging
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._on(self._capture_thread, self.source.close)
            self._capture_thread.shutdown(wait=False, cancel_futures=True)
            self._decode_thread.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    async def _on(thread: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(thread, fn, *args)

    async def _capture(self) -> None:
        await self._on(self._capture_thread, self.source.start)
        last_frame = time.monotonic()
        healthy: bool | None = None
        while True:
            try:
                frame = await self._on(self._capture_thread, self.source.read, self.read_timeout)
                error = ""
            except Exception as exc:  # a driver error is a fault, not the end of the kiosk
                frame, error = None, f"camera error: {type(exc).__name__}"
                await asyncio.sleep(self.read_timeout)
            now = time.monotonic()
            if frame is not None:
                last_frame = now
                self.frames_read += 1
                self.mailbox.put(frame)
                if healthy is not True:
                    self.health.report("camera", True)
                    healthy = True
            elif error or now - last_frame >= self.stall_after:
                detail = error or f"no frames for {now - last_frame:.1f} s"
                if healthy is not False:
                    log.warning("camera fault: %s", detail)
                self.health.report("camera", False, error or "no frames")
                healthy = False

    async def _decode(self) -> None:
        while True:
            frame = await self.mailbox.get()
            try:
                result = await self._on(self._decode_thread, self.decoder.decode, frame.image)
            except Exception:  # one bad frame must not stop the camera
                log.exception("decoding frame %d failed; skipped", frame.index)
                continue
            self.frames_decoded += 1
            self.bracket.observe(frame, bool(result.codes), result.deferred == 0)
            codes = unique_texts(result.codes)  # two printed copies are one credential
            kinds = {code.text: self.classifier.classify(code.text) for code in codes}
            sightings = [Sighting(c.text, c.area, kinds[c.text].is_health_code) for c in codes]
            for answer in self.tracker.observe(sightings, frame.timestamp):
                kind = kinds[answer.text]
                if kind.kind == "not_health_code":
                    self.on_prompt(NOT_HEALTH_CODE)
                    continue
                code = next(c for c in codes if c.text == answer.text)
                medium = guess_medium(frame.image, code)
                method: Method = "signed_code" if kind.kind == "signed_code" else "code"
                await self._readings.put(Reading(method, answer.text, medium))
