"""Door posters: the PNG and the PDF a district prints, read back by the kiosk's own QR
decoder, must give the door's code; the PDF is rendered by a real PDF renderer."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provisioning import poster, venue_code
from provisioning.registry import build_venue

VENUE = build_venue({
    "code": "41010300012345", "name": "二七广场购物中心（德化街店）一楼美食广场",
    "category": "supermarket",
    "credit_code": "914403001922038216", "address": "郑州市二七区德化街1号", "zone": "1F",
    "manager_name": "王经理", "manager_phone": "13800138000", "doors": "E1:东门;W1:西门",
})  # fmt: skip


def decode(image: Image.Image) -> list[str]:
    from firmware.kiosk.decode import Decoder  # the kiosk's decoder ladder

    frame = np.asarray(image.convert("L"))
    return [code.text for code in Decoder().decode(frame).codes]


# Kept after the run for a person to look at, like the screen shots.
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "posters"


@pytest.fixture(scope="module")
def posters() -> list[poster.PosterFiles]:
    for old in ARTIFACTS.glob(f"{VENUE.code}-*"):
        old.unlink()
    return [poster.make_poster(VENUE, door, ARTIFACTS) for door in VENUE.doors]


def test_png_poster_qr_decodes_to_the_door_code(posters: list[poster.PosterFiles]) -> None:
    for door, files in zip(VENUE.doors, posters, strict=True):
        image = Image.open(files.png)
        assert image.size == poster.PAGE
        texts = decode(image)
        assert texts == [files.content]
        parsed = venue_code.parse(texts[0], hosts=("PLACECODE.EXAMPLE",))
        assert (parsed.venue, parsed.door) == (VENUE.code, door.code)


def test_pdf_poster_renders_to_a4_and_its_qr_decodes(
    posters: list[poster.PosterFiles], tmp_path: Path
) -> None:
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm missing: install the Debian package poppler-utils")
    files = posters[1]
    info = subprocess.run(
        ["pdfinfo", str(files.pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert "(A4)" in info, info
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile",
                    str(files.pdf), str(tmp_path / "page")],
                   check=True, timeout=60)  # fmt: skip
    texts = decode(Image.open(tmp_path / "page.png"))
    assert [venue_code.parse(t).door for t in texts] == ["W1"]


def test_qr_survives_a_covered_corner(posters: list[poster.PosterFiles]) -> None:
    """Posters get torn and glared on: error correction must carry a lost patch."""
    import segno

    assert segno.make(posters[0].content, error="h", micro=False).error == "H"
    image = Image.open(posters[0].png).convert("L")
    qr = poster.qr_image(posters[0].content, 1000)
    left, top = (poster.PAGE[0] - qr.width) // 2, None
    array = np.asarray(image).copy()
    rows = np.where(array[:, left + qr.width // 2] < 128)[0]
    top = int(rows[rows > 600][0])  # first dark module of the QR below the header text
    # White out a block in the lower right data area (not a finder pattern): ~8% of the code.
    size = qr.width // 4
    array[
        top + qr.width // 2 : top + qr.width // 2 + size,
        left + qr.width // 2 : left + qr.width // 2 + size,
    ] = 255
    assert decode(Image.fromarray(array)) == [posters[0].content]


def test_poster_text_is_chinese_first_with_english() -> None:
    for zh, en in poster.INSTRUCTIONS:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en.isascii()
    assert poster.cjk_font_path().endswith((".ttc", ".ttf", ".otf"))
