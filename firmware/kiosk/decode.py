"""QR decoding for the kiosk camera: a ladder of image fixes, cheapest first.

Most frames read on the first, plain attempt, so that attempt must stay cheap; only a
frame that fails it pays for the next rung, and the ladder stops at the first read. On
the kiosk a frame has a time budget (Decoder(budget_ms)): rungs that do not fit are run
on the next frames, so decoding keeps pace with the camera.

The rungs were chosen on real photographs, `bench/decode_photos.py --study` on the 267
training photos of /work/shared/data/qr-photos (BoofCV set, 15 categories; the other half
is held back): every engine x preparation alone, then greedily by images gained per ms.
Study run 2026-12-03 (2 shared cores, photos scaled to <= 2 MP):

  alone:   zxing plain 70.0 % at 3.1 ms median; zxing GlobalHistogram 61.4 %; pyzbar
           plain 52.8 % at 45 ms; OpenCV's QR detector 48.7 % at 58 ms (never added a
           read); every candidate together 89.5 % before region retries.
  gained:  a second binarizer (GlobalHistogram) on a vertically halved frame (+7: steep
           views), gamma 2.5 (+8: washed-out codes under glare), adaptive mean thresholds
           at 1/50 of the frame (+7: bright spots), pyzbar on a quarter frame (+4:
           damaged), half-scale reads, retries around codes zxing detects but cannot
           decode (`regions`: a crop scaled up, and the detected quadrilateral rectified;
           +14, most glare), 2x horizontal stretch (steep views), pyzbar on adaptive
           thresholds (+3: pathological), glare fill (+1).
  result:  91.8 % of photos (70.0 % plain zxing-cpp), glare 88 % (40 %), median 1.43x
           plain zxing-cpp's time in the same run (`just bench-decode-photos`, loaded
           machine); the first rung skips zxing's rotated and inverted retries (same 187
           photos read, ~25 % less time) and the inverted frame is the second rung.
           Split-half check (ladder chosen on one half, counted on the other): about 2
           points lower than on the half it was chosen on; expect that on new photos.

The rungs of the earlier scene study (sharpen, 2x upscale below 1400 px width, strong
sharpening) stay in the ladder for the generated scenes (`just bench-decode`), where
they still read far and blurred codes.

zxing-cpp is restricted to QR Model 2 (it would otherwise report false Micro QR reads in
noise). pyzbar, the design's decoder, is kept as the baseline (`plain_pyzbar`), as the
fallback ladder `PYZBAR_LADDER` used when zxing-cpp cannot be imported, and for two late
rungs where its own binarisation reads what zxing's does not.

Everything returned here is personal data (tokens); nothing in this module logs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Code:
    text: str
    corners: tuple[Point, Point, Point, Point]  # in the input frame's pixels

    @property
    def area(self) -> float:
        """Pixel area of the code: the nearest code in view is the largest one."""
        xs = [p[0] for p in self.corners]
        ys = [p[1] for p in self.corners]
        return 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(4)))

    def __repr__(self) -> str:  # the text is a credential: keep it out of logs
        return f"Code(area={self.area:.0f})"


@dataclass(frozen=True, slots=True)
class DecodeResult:
    codes: tuple[Code, ...]
    step: str | None  # the rung that read it, None if nothing was read
    ms: float
    deferred: int = 0  # rungs left for the next frame: the frame's time budget ran out


Engine = Callable[[np.ndarray], list[Code]]
# prepared px per frame px: one factor, one per axis, or a function mapping corners on the
# prepared image back to the frame, given the frame's shape
Scale = float | tuple[float, float] | Callable[[np.ndarray, tuple[int, ...]], np.ndarray]
Prepare = Callable[[np.ndarray], "np.ndarray | None"]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    prepare: Prepare  # grey frame -> image to decode (None: rung does not apply)
    engine: Engine
    scale: Scale = 1.0  # prepared image px per frame px (or per axis), to map corners back


# --- engines ---------------------------------------------------------------------------


def zxing_engine(image: np.ndarray) -> list[Code]:
    import zxingcpp

    qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCodeModel2)
    found = zxingcpp.read_barcodes(image, formats=qr)
    return [_zxing_code(b) for b in found if b.valid and b.text]


def zxing_corners(pos) -> tuple[Point, Point, Point, Point]:
    """A zxing-cpp position as four corners, clockwise from the top left."""
    return (
        (float(pos.top_left.x), float(pos.top_left.y)),
        (float(pos.top_right.x), float(pos.top_right.y)),
        (float(pos.bottom_right.x), float(pos.bottom_right.y)),
        (float(pos.bottom_left.x), float(pos.bottom_left.y)),
    )


def pyzbar_engine(image: np.ndarray) -> list[Code]:
    from pyzbar import pyzbar

    codes = []
    for symbol in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        try:
            text = symbol.data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not a text code: nothing a kiosk can act on
        poly = list(symbol.polygon)[:4]
        while len(poly) < 4:
            poly.append(poly[-1])
        codes.append(Code(text, tuple((float(p.x), float(p.y)) for p in poly)))  # type: ignore[arg-type]
    return codes


def _zxing_with(**options) -> Engine:
    def engine(image: np.ndarray) -> list[Code]:
        import zxingcpp

        opts = {
            k: getattr(zxingcpp.Binarizer, v) if k == "binarizer" else v
            for k, v in options.items()
        }
        qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCodeModel2)
        found = zxingcpp.read_barcodes(image, formats=qr, **opts)
        return [_zxing_code(b) for b in found if b.valid and b.text]

    return engine


def _zxing_code(barcode) -> Code:
    return Code(barcode.text, zxing_corners(barcode.position))


def opencv_engine(image: np.ndarray) -> list[Code]:
    detector = _opencv_detector()
    ok, texts, points, _ = detector.detectAndDecodeMulti(image)
    if not ok or points is None:
        return []
    return [
        Code(text, tuple((float(x), float(y)) for x, y in quad[:4]))  # type: ignore[arg-type]
        for text, quad in zip(texts, points, strict=True)
        if text
    ]


_DETECTOR: list = []


def _opencv_detector():
    if not _DETECTOR:
        _DETECTOR.append(cv2.QRCodeDetectorAruco())
    return _DETECTOR[0]


# Preparations tried, in order, on the crop around a code zxing found but could not read;
# the first that reads wins (chosen on the photo study: each adds reads the others miss).
_REGION_TRIES: tuple[tuple[str, str], ...] = (
    ("zxing", "plain"),
    ("zxing", "darken"),
    ("zxgh", "plain"),
    ("zxbin", "adaptive20"),
    ("zxbin", "threshold"),
    ("zxing", "equalise"),
    ("pyzbar", "adaptive20"),
)
REGION_PX = 600  # a crop is scaled up to about this many pixels across
MAX_REGIONS = 5


def regions_engine(image: np.ndarray) -> list[Code]:
    """Read the codes zxing detects but cannot decode, one crop at a time.

    zxing reports a detected symbol whose error correction failed (return_errors) with
    its position. Cropped around that position with a wide margin and scaled up, the
    code fills the binarizer's window and the detector's pyramid differently, and glare,
    shadow or clutter elsewhere in the frame no longer sets the thresholds; each crop is
    then tried with a few preparations. Corners come back in the input's pixels."""
    import zxingcpp

    # the whole QR family here: a symbol that fails its checksum is not reported under
    # Model 2 (its model is only known once decoded)
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode), return_errors=True
    )
    boxes = []
    for b in found:
        if b.valid:
            continue  # read already (or Micro/rMQR, which the kiosk does not report)
        pos = b.position
        pts = np.array(
            [(p.x, p.y) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)],
            np.float32,
        )
        size = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 20.0)
        boxes.append((size, pts.mean(axis=0), pts))
    boxes.sort(key=lambda box: -box[0])
    h, w = image.shape[:2]
    for size, centre, quad in boxes[:MAX_REGIONS]:
        half = size * 1.6  # the position may cover only part of the code
        x0, y0 = int(max(0, centre[0] - half)), int(max(0, centre[1] - half))
        x1, y1 = int(min(w, centre[0] + half)), int(min(h, centre[1] + half))
        crop = image[y0:y1, x0:x1]
        factor = max(1.0, REGION_PX / max(crop.shape))
        if factor > 1.0:
            crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        crop = np.ascontiguousarray(crop)
        for engine, prep in _REGION_TRIES:
            prepared = PREPARES[prep][0](crop)
            if prepared is None:
                continue
            read = ENGINES[engine](np.ascontiguousarray(prepared))
            if read:
                return [
                    Code(c.text, tuple((x / factor + x0, y / factor + y0) for x, y in c.corners))  # type: ignore[arg-type]
                    for c in read
                ]
        read = _rectified(image, quad)
        if read:
            return read
    return []


RECTIFIED_PX = 330  # side of the rectified code, quiet zone added around it
_RECTIFIED_TRIES: tuple[tuple[str, str], ...] = (
    ("pyzbar", "plain"),
    ("zxing", "plain"),
    ("zxbin", "adaptive8"),
    ("pyzbar", "adaptive8"),
    ("zxing", "darken"),
)


def _rectified(image: np.ndarray, quad: np.ndarray) -> list[Code]:
    """The detected quadrilateral warped to an upright square: undoes perspective, so a
    reader that samples on a regular grid (zbar) lines up with the modules."""
    margin = 0.12 * RECTIFIED_PX
    side = RECTIFIED_PX + 2 * margin
    target = np.array(
        [
            [margin, margin],
            [margin + RECTIFIED_PX, margin],
            [margin + RECTIFIED_PX, margin + RECTIFIED_PX],
            [margin, margin + RECTIFIED_PX],
        ],
        np.float32,
    )
    if cv2.contourArea(quad) < 100:
        return []
    homography = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    warped = cv2.warpPerspective(
        image,
        homography,
        (int(side), int(side)),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    back = np.linalg.inv(homography)
    for engine, prep in _RECTIFIED_TRIES:
        read = ENGINES[engine](np.ascontiguousarray(PREPARES[prep][0](warped)))
        if read:
            out = []
            for c in read:
                pts = cv2.perspectiveTransform(np.array([c.corners], np.float32), back)[0]
                out.append(Code(c.text, tuple((float(x), float(y)) for x, y in pts)))  # type: ignore[arg-type]
            return out
    return []


ENGINES: dict[str, Engine] = {
    "regions": regions_engine,
    "zxing": zxing_engine,
    # rotation only matters to 1D symbols; the inverted image gets its own rung
    "zxfast": _zxing_with(try_rotate=False, try_invert=False),
    "zxgh": _zxing_with(binarizer="GlobalHistogram"),
    "zxbin": _zxing_with(binarizer="BoolCast", try_downscale=False),
    "pyzbar": pyzbar_engine,
    "opencv": opencv_engine,
}


# --- preprocessing rungs ---------------------------------------------------------------


def plain(grey: np.ndarray) -> np.ndarray:
    return grey


_CLAHE = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))


def equalise(grey: np.ndarray) -> np.ndarray:
    return _CLAHE.apply(grey)


def sharpen(grey: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(grey, (0, 0), 2.0)
    return cv2.addWeighted(grey, 2.0, blurred, -1.0, 0)


def sharpen_strong(grey: np.ndarray) -> np.ndarray:
    """Wider, stronger unsharp mask: lifts module contrast under defocus and blur."""
    blurred = cv2.GaussianBlur(grey, (0, 0), 3.0)
    return cv2.addWeighted(grey, 4.0, blurred, -3.0, 0)


def threshold(grey: np.ndarray) -> np.ndarray:
    block = max(15, (min(grey.shape) // 24) | 1)
    return cv2.adaptiveThreshold(
        grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 4
    )


def denoise(grey: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(grey, (0, 0), 1.2)


def upscale(grey: np.ndarray) -> np.ndarray | None:
    if grey.shape[1] > 1400:
        return None  # already enough pixels per module or too costly
    return cv2.resize(grey, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


def upscale_sharpen(grey: np.ndarray) -> np.ndarray | None:
    big = upscale(grey)
    return None if big is None else sharpen(big)


def invert(grey: np.ndarray) -> np.ndarray:
    return cv2.bitwise_not(grey)


def half(grey: np.ndarray) -> np.ndarray | None:
    if grey.shape[1] < 800:
        return None
    return cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


def quarter(grey: np.ndarray) -> np.ndarray | None:
    if grey.shape[1] < 1200:
        return None
    return cv2.resize(grey, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)


_GAMMA = {g: np.array([255 * (i / 255) ** g for i in range(256)], np.uint8) for g in (0.5, 2.5)}


def darken(grey: np.ndarray) -> np.ndarray:
    """Gamma 2.5: spreads the bright end, where a washed-out code under glare lives."""
    return cv2.LUT(grey, _GAMMA[2.5])


def lighten(grey: np.ndarray) -> np.ndarray:
    return cv2.LUT(grey, _GAMMA[0.5])


def flatten(grey: np.ndarray) -> np.ndarray:
    """Divide by the local background (a closing wider than a module): glare gradients and
    shadows fall out, module contrast stays."""
    k = max(15, (min(grey.shape) // 30) | 1)
    small = cv2.resize(grey, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, k // 4), max(3, k // 4)))
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    bg = cv2.GaussianBlur(bg, (0, 0), max(1.0, k / 12))
    bg = cv2.resize(bg, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(grey, np.maximum(bg, 1), scale=255)


def _adaptive(grey: np.ndarray, frac: int, c: int = 3) -> np.ndarray:
    block = max(11, (min(grey.shape) // frac) | 1)
    return cv2.adaptiveThreshold(
        grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, c
    )


def glare_fill(grey: np.ndarray) -> np.ndarray:
    """Saturated pixels (specular glare) carry no module information: fill them from their
    surroundings (a wide median of the unsaturated image) so the binarizer's local window
    is not dragged up by them."""
    mask = grey >= 245
    if not mask.any():
        return grey
    fill = cv2.medianBlur(grey, 21)
    out = grey.copy()
    out[mask] = fill[mask] // 2
    return out


def _stretch(fx: float, fy: float) -> Prepare:
    """Anisotropic scaling: undoes strong foreshortening (a code seen at a steep angle is
    narrow along one axis), so the finder patterns' 1:1:3:1:1 runs hold on both scan axes."""

    def prepare(grey: np.ndarray) -> np.ndarray:
        return cv2.resize(grey, None, fx=fx, fy=fy, interpolation=cv2.INTER_LINEAR)

    return prepare


PREPARES: dict[str, tuple[Prepare, Scale]] = {
    "stretch_x": (_stretch(2.0, 1.0), (2.0, 1.0)),
    "stretch_y": (_stretch(1.0, 2.0), (1.0, 2.0)),
    "squeeze_x": (_stretch(0.5, 1.0), (0.5, 1.0)),
    "squeeze_y": (_stretch(1.0, 0.5), (1.0, 0.5)),
    "half": (half, 0.5),
    "quarter": (quarter, 0.25),
    "darken": (darken, 1.0),
    "lighten": (lighten, 1.0),
    "flatten": (flatten, 1.0),
    "glare_fill": (glare_fill, 1.0),
    "adaptive8": (lambda g: _adaptive(g, 8), 1.0),
    "adaptive20": (lambda g: _adaptive(g, 20), 1.0),
    "adaptive50": (lambda g: _adaptive(g, 50), 1.0),
    "half_sharpen": (lambda g: None if (h := half(g)) is None else sharpen(h), 0.5),
    "half_equalise": (lambda g: None if (h := half(g)) is None else equalise(h), 0.5),
    "plain": (plain, 1.0),
    "equalise": (equalise, 1.0),
    "sharpen": (sharpen, 1.0),
    "sharpen_strong": (sharpen_strong, 1.0),
    "threshold": (threshold, 1.0),
    "denoise": (denoise, 1.0),
    "upscale": (upscale, 2.0),
    "upscale_sharpen": (upscale_sharpen, 2.0),
    "invert": (invert, 1.0),
    "invert_threshold": (lambda grey: threshold(invert(grey)), 1.0),
}


def step(engine: str, prepare: str) -> Step:
    fn, scale = PREPARES[prepare]
    return Step(f"{engine}:{prepare}", fn, ENGINES[engine], scale)


# Chosen by bench/decode.py --study; see the module docstring.
KIOSK_LADDER: tuple[str, ...] = (
    # the plain read, without zxing's own rotated and inverted retries: same photos read,
    # ~25 % less time; the inverted frame (dark-mode screens) is the next rung
    "zxfast:plain",
    "zxfast:invert",
    "zxgh:squeeze_y",
    "zxing:darken",
    "zxing:half",
    "zxbin:adaptive50",
    "pyzbar:quarter",
    "zxgh:half_equalise",
    "zxing:half_sharpen",
    "zxbin:threshold",
    "zxing:sharpen",
    "zxing:upscale",
    "regions:plain",
    "zxgh:denoise",
    "zxgh:stretch_x",
    "pyzbar:adaptive20",
    "zxing:sharpen_strong",
    "zxing:upscale_sharpen",
    "zxing:glare_fill",
    # Not picked by the greedy pass, but each reads 60-73 % alone in its own way: split-
    # half checks of the study (choose on one half, count on the other) gain ~1 point with
    # them, for ~65 ms more on frames nothing reads.
    "zxing:equalise",
    "zxing:lighten",
    "zxbin:adaptive8",
    "zxbin:adaptive20",
    "zxgh:sharpen_strong",
    "zxgh:lighten",
    "zxing:flatten",
    "zxing:stretch_x",
)
# Without zxing-cpp: pyzbar, with the inverted frame for dark-mode screens it cannot read.
PYZBAR_LADDER: tuple[str, ...] = (
    "pyzbar:plain",
    "pyzbar:threshold",
    "pyzbar:invert",
    "pyzbar:invert_threshold",
)


def candidate_steps() -> tuple[Step, ...]:
    """Every engine x preparation worth measuring (bench --study): binarised images go to
    the engine that takes them as they are."""
    names = []
    for engine in ENGINES:
        for prep in PREPARES:
            binary = prep.startswith(("adaptive", "threshold", "invert_threshold"))
            if (engine == "zxbin") != binary and engine != "pyzbar":
                continue
            if engine in ("zxing", "zxgh") and prep.startswith("invert"):
                continue  # zxing tries the inverted image itself
            if engine == "opencv" and prep not in ("plain", "half", "sharpen", "equalise"):
                continue
            if engine == "regions" and prep not in ("plain", "darken", "sharpen"):
                continue
            names.append(f"{engine}:{prep}")
    return ladder(names)


def ladder(names: Sequence[str]) -> tuple[Step, ...]:
    steps = []
    for name in names:
        engine, _, prepare = name.partition(":")
        if engine not in ENGINES or prepare not in PREPARES:
            raise ValueError(
                f"unknown decode step {name!r}: engines {sorted(ENGINES)}, "
                f"preparations {sorted(PREPARES)}"
            )
        steps.append(step(engine, prepare))
    return tuple(steps)


def _zxing_available() -> bool:
    try:
        import zxingcpp  # noqa: F401
    except ImportError:
        return False
    return True


class Decoder:
    """Runs the ladder on a grey frame; the first rung that reads anything wins.

    With `budget_ms` (the kiosk: a little under the camera's frame interval) decoding keeps
    pace with the camera: after the first rung and the rung where the last frame stopped
    (so every frame makes progress), a rung is started only if its cost still fits; when
    the rung where the last frame stopped only fits alone, it runs alone and the first
    rung waits for the next frame (never two frames in a row). A
    rung's cost is a decaying maximum of what it took, so rungs whose cost varies with the
    frame (region retries) are not started on their best case. The rungs a frame had no
    time for are not lost: the next frame runs the first rung, then carries on where the
    last one stopped, so while a person holds a code still, consecutive frames cover the
    whole ladder. A single rung longer than the budget still runs whole; the frames that
    arrive meanwhile are dropped, never queued (camera_input.py).
    """

    def __init__(self, steps: Sequence[str] | None = None, budget_ms: float | None = None) -> None:
        if steps is None:
            steps = KIOSK_LADDER if _zxing_available() else PYZBAR_LADDER
        self.steps = ladder(steps)
        self.budget_ms = budget_ms
        self.cost_ms = [0.0] * len(self.steps)  # decaying maximum per rung; 0 until measured
        self._resume = 1  # rung where the next frame continues after the first
        self._skipped_first = False  # never skip the first rung two frames in a row

    def decode(self, frame: np.ndarray) -> DecodeResult:
        start = time.perf_counter()
        grey = to_grey(frame)
        order = [0, *range(self._resume, len(self.steps))] if self.steps else []
        skip_first = (
            self.budget_ms is not None
            and len(order) > 1
            and not self._skipped_first
            and self.cost_ms[0] + self.cost_ms[order[1]] > self.budget_ms
        )
        self._skipped_first = skip_first
        if skip_first:  # the next rung only fits alone: the first rung runs next frame
            order = order[1:]
        for n, i in enumerate(order):
            rung = self.steps[i]
            if (
                self.budget_ms is not None
                and n > (0 if skip_first else 1)
                and _ms(start) + self.cost_ms[i] > self.budget_ms
            ):
                self._resume = i
                return DecodeResult((), None, _ms(start), len(self.steps) - i)
            began = time.perf_counter()
            image = rung.prepare(grey)
            if image is None:
                continue
            codes = rung.engine(image)
            cost = _ms(began)
            self.cost_ms[i] = max(cost, 0.9 * self.cost_ms[i])
            if codes:
                self._resume = 1
                if rung.scale != 1.0:
                    codes = [unscale(c, rung.scale, grey.shape) for c in codes]
                codes.sort(key=lambda c: c.area, reverse=True)
                return DecodeResult(tuple(_unique(codes)), rung.name, _ms(start))
        self._resume = 1
        return DecodeResult((), None, _ms(start))


def plain_pyzbar(frame: np.ndarray) -> DecodeResult:
    """The baseline: pyzbar once on the raw frame, as the original design had it."""
    start = time.perf_counter()
    codes = pyzbar_engine(to_grey(frame))
    return DecodeResult(tuple(codes), "pyzbar:plain" if codes else None, _ms(start))


def to_grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3:
        frame = cv2.cvtColor(
            frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        )
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be 8-bit, got {frame.dtype}")
    return np.ascontiguousarray(frame)


def unscale(code: Code, scale: Scale, shape: tuple[int, ...] = ()) -> Code:
    """A code read on a prepared image, with corners back in the pixels of the frame
    (of `shape`)."""
    if callable(scale):
        pts = scale(np.array(code.corners, float), shape)
        return Code(code.text, tuple((float(x), float(y)) for x, y in pts))  # type: ignore[arg-type]
    sx, sy = scale if isinstance(scale, tuple) else (scale, scale)
    return Code(code.text, tuple((x / sx, y / sy) for x, y in code.corners))  # type: ignore[arg-type]


def _unique(codes: list[Code]) -> list[Code]:
    """One entry per code in view: a second read of the same text whose centre lies inside
    an earlier one's corners is the same code; two printed copies apart are both kept."""
    out: list[Code] = []
    for code in codes:
        centre = np.mean(np.array(code.corners, np.float32), axis=0)
        if not any(
            seen.text == code.text
            and cv2.pointPolygonTest(
                np.array(seen.corners, np.float32).reshape(-1, 1, 2),
                (float(centre[0]), float(centre[1])),
                False,
            )
            >= 0
            for seen in out
        ):
            out.append(code)
    return out


def unique_texts(codes: Sequence[Code]) -> list[Code]:
    """The first (nearest) code of each text: what the kiosk acts on."""
    seen: set[str] = set()
    first = []
    for c in codes:
        if c.text not in seen:
            seen.add(c.text)
            first.append(c)
    return first


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


MAX_IMAGE_PIXELS = 50_000_000  # larger files are refused before they are decoded


def read_image(path, upright: bool = True) -> tuple[np.ndarray, int]:
    """An image file as uint8 grey, turned upright by its EXIF orientation (what a photo
    viewer shows, so printed corners match what the installer sees); `upright=False` keeps
    the stored pixels. Returns (grey, EXIF orientation 1-8, 1 when absent). ValueError for
    anything that is not a readable image or holds more than MAX_IMAGE_PIXELS pixels."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValueError(
                    f"{path}: {image.width}x{image.height} pixels, more than {MAX_IMAGE_PIXELS}"
                )
            orientation = int(image.getexif().get(0x0112, 1) or 1)
            shown: Image.Image = image
            if upright and orientation != 1:
                shown = ImageOps.exif_transpose(image)
            grey = np.asarray(shown.convert("L"))
    except Image.DecompressionBombError:  # Pillow's own, higher, limit: said at open
        raise ValueError(f"{path}: more than {MAX_IMAGE_PIXELS} pixels") from None
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise ValueError(f"{path}: not a readable image file ({type(exc).__name__})") from None
    return np.ascontiguousarray(grey), orientation


def main(argv: Sequence[str] | None = None) -> int:
    """`just decode <image files>`: one JSON line per image, for installers on site."""
    import argparse
    import json

    from firmware.kiosk.classify import Classifier

    parser = argparse.ArgumentParser(description="Decode image files as the kiosk camera would.")
    parser.add_argument("files", nargs="+", help="image files captured on site")
    parser.add_argument(
        "--all",
        action="store_true",
        help="print every code read with its corners (x, y in the upright image, clockwise "
        "from the code's own top-left)",
    )
    parser.add_argument(
        "--stored", action="store_true", help="ignore EXIF orientation: decode the stored pixels"
    )
    args = parser.parse_args(argv)
    decoder, classifier = Decoder(), Classifier()
    failed = 0
    for path in args.files:
        line: dict = {"file": path}
        try:
            grey, orientation = read_image(path, upright=not args.stored)
            result = decoder.decode(grey)
        except ValueError as exc:
            line.update(payload=None, kind=None, step=None, ms=None, error=str(exc))
            failed += 1
        else:
            payload = result.codes[0].text if result.codes else None
            line.update(
                payload=payload,
                kind=classifier.classify(payload).kind if payload else None,
                step=result.step,
                ms=round(result.ms, 2),
            )
            if len(result.codes) > 1:
                line["others"] = [c.text for c in result.codes[1:]]
            if args.all:
                line["size"] = [grey.shape[1], grey.shape[0]]
                line["orientation"] = orientation
                line["codes"] = [
                    {
                        "text": c.text,
                        "kind": classifier.classify(c.text).kind,
                        "corners": [[round(x, 1), round(y, 1)] for x, y in c.corners],
                    }
                    for c in result.codes
                ]
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
