"""The kiosk decoder reads what plain pyzbar misses, and never reports what is not there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno

from firmware.kiosk.decode import KIOSK_LADDER, PYZBAR_LADDER, Decoder, plain_pyzbar, to_grey
from simulators.scenes import make_scene

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    return Decoder()


@pytest.mark.parametrize(
    "category", ["screen", "tilt", "paper", "low_light", "glare", "motion_blur"]
)
def test_reads_the_right_payload_from_mild_scenes(decoder: Decoder, category: str) -> None:
    for seed in range(3):
        scene = make_scene(category, 0.1, seed, (640, 480))
        result = decoder.decode(scene.image)
        assert [c.text for c in result.codes] == [scene.payloads[0]], (category, seed)
        assert result.step in KIOSK_LADDER


def test_dark_mode_screens_read_by_kiosk_but_not_by_plain_pyzbar(decoder: Decoder) -> None:
    scenes = [make_scene("dark_mode", 0.3, seed, (640, 480)) for seed in range(3)]
    assert all(decoder.decode(s.image).codes[0].text == s.payloads[0] for s in scenes)
    assert all(not plain_pyzbar(s.image).codes for s in scenes)


def test_later_rungs_read_far_codes_the_plain_attempt_misses(decoder: Decoder) -> None:
    # 1.5-2 px per module at 640x480: too few for the plain attempt, enough after upscaling
    plain_only = Decoder(["zxing:plain"])
    scenes = [make_scene("small", 0.0, seed, (640, 480)) for seed in range(8)]
    plain_reads = sum(bool(plain_only.decode(s.image).codes) for s in scenes)
    results = [decoder.decode(s.image) for s in scenes]
    ladder_reads = sum(
        bool(r.codes) and r.codes[0].text == s.payloads[0]
        for r, s in zip(results, scenes, strict=True)
    )
    assert ladder_reads >= plain_reads + 3
    assert any(r.step and r.step.startswith("zxing:upscale") for r in results)


def test_both_codes_in_view_are_returned_nearest_first(decoder: Decoder) -> None:
    scene = make_scene("two_codes", 0.0, 2, (1280, 720))
    result = decoder.decode(scene.image)
    assert [c.text for c in result.codes] == list(scene.payloads)
    assert result.codes[0].area > result.codes[1].area


def test_micro_qr_is_not_reported(decoder: Decoder) -> None:
    micro = segno.make_micro("12345")
    image = np.array(micro.matrix, np.uint8)
    image = np.pad(1 - image, 2, constant_values=1) * 255
    frame = np.full((480, 640), 255, np.uint8)
    big = cv2.resize(image.astype(np.uint8), None, fx=12, fy=12, interpolation=cv2.INTER_NEAREST)
    frame[100 : 100 + big.shape[0], 200 : 200 + big.shape[1]] = big
    assert decoder.decode(frame).codes == ()


def test_empty_frame_reads_nothing_and_says_so(decoder: Decoder) -> None:
    result = decoder.decode(np.full((480, 640), 128, np.uint8))
    assert result.codes == () and result.step is None


def test_pyzbar_only_ladder_still_reads_including_dark_mode() -> None:
    fallback = Decoder(PYZBAR_LADDER)
    for category in ("screen", "dark_mode"):
        scene = make_scene(category, 0.1, 0, (1280, 720))
        assert fallback.decode(scene.image).codes[0].text == scene.payloads[0]


def test_colour_frames_are_accepted_and_bad_frames_rejected(decoder: Decoder) -> None:
    scene = make_scene("screen", 0.0, 0, (640, 480))
    colour = cv2.cvtColor(scene.image, cv2.COLOR_GRAY2BGR)
    assert decoder.decode(colour).codes[0].text == scene.payloads[0]
    with pytest.raises(ValueError, match="8-bit"):
        to_grey(scene.image.astype(np.float32))
    with pytest.raises(ValueError, match="unknown decode step"):
        Decoder(["zxing:magic"])


def test_code_repr_does_not_leak_the_payload(decoder: Decoder) -> None:
    scene = make_scene("screen", 0.0, 0, (640, 480))
    code = decoder.decode(scene.image).codes[0]
    assert scene.payloads[0] not in repr(code)


def test_decode_command_prints_one_json_line_per_image(tmp_path: Path) -> None:
    good = make_scene("paper", 0.0, 4, (640, 480))
    cv2.imwrite(str(tmp_path / "good.png"), good.image)
    cv2.imwrite(str(tmp_path / "empty.png"), np.full((480, 640), 90, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    files = [str(tmp_path / n) for n in ("good.png", "empty.png", "broken.jpg")]
    proc = subprocess.run(
        [sys.executable, "-m", "firmware.kiosk.decode", *files],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["file"] for line in lines] == files
    assert lines[0]["payload"] == good.payloads[0] and lines[0]["kind"] in ("code", "signed_code")
    assert lines[0]["step"] in KIOSK_LADDER and lines[0]["ms"] > 0
    assert lines[1]["payload"] is None and lines[1]["step"] is None
    assert "not a readable image" in lines[2]["error"]
    assert proc.returncode == 1  # an unreadable file is reported, after the others were decoded


def test_decode_command_turns_photos_upright_and_prints_every_code(tmp_path: Path) -> None:
    from PIL import Image

    scene = make_scene("paper", 0.0, 4, (640, 480))
    upright = Decoder().decode(scene.image).codes[0]
    # stored pixels turned a quarter left; EXIF orientation 6 says "turn right to view"
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(scene.image)))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    proc = subprocess.run(
        [sys.executable, "-m", "firmware.kiosk.decode", "--all", str(tmp_path / "phone.jpg")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = json.loads(proc.stdout)
    assert line["orientation"] == 6 and line["size"] == [640, 480]
    assert [c["text"] for c in line["codes"]] == [scene.payloads[0]]
    got = np.array(line["codes"][0]["corners"])
    assert np.abs(got - np.array(upright.corners)).max() < 4  # corners as a viewer shows it


def test_read_image_refuses_huge_and_broken_files(tmp_path: Path) -> None:
    from PIL import Image

    from firmware.kiosk.decode import read_image

    Image.new("1", (8000, 8000)).save(tmp_path / "bomb.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    for name in ("bomb.png", "broken.png"):
        with pytest.raises(ValueError):
            read_image(tmp_path / name)
