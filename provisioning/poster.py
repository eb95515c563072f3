"""The printable poster for one door: its QR code, venue and door names, what to do.

Posters hang at entrances in sun and rain and are read from a step away, so the QR is
large, black on white with a full quiet zone, and at the highest error-correction level
the content allows (a torn corner or glare patch must not make the code "scan as
invalid"). Chinese comes first, English second. The printed short code under the QR
lets staff type the door in when nothing can read the code at all.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

from provisioning import categories
from provisioning.registry import Door, Venue, qr_content
from provisioning.venue_code import DEFAULT_BASE, DoorCode

DPI = 200
PAGE = (1654, 2339)  # A4 at 200 dpi
MARGIN = 110
GREEN = (0, 122, 77)
GREY = (90, 90, 90)

# Debian packages fonts-wqy-zenhei / fonts-noto-cjk; the first one found is used.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)

INSTRUCTIONS: tuple[tuple[str, str], ...] = (
    (
        "请用手机扫描上方二维码登记，登记后方可进入",
        "Scan the code with your phone to check in before entering",
    ),
    (
        "没有智能手机：请向值守人员出示纸质健康码或身份证",
        "No smartphone: show a paper health code or ID card to the staff",
    ),
    ("一门一码，请勿移动、遮挡或覆盖本码", "One code per door: do not move or cover this code"),
)


class FontMissing(RuntimeError):
    pass


def cjk_font_path() -> str:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return path
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "sans-serif:lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        if found and not found.endswith(("DejaVuSans.ttf",)) and Path(found).exists():
            return found
    raise FontMissing(
        "no Chinese font: install the Debian package fonts-wqy-zenhei (or fonts-noto-cjk)"
    )


@dataclass(frozen=True, slots=True)
class PosterFiles:
    png: Path
    pdf: Path
    content: str


def qr_image(content: str, size: int) -> Image.Image:
    """The QR at the highest error correction that fits, scaled with whole-pixel modules."""
    code = segno.make(content, error="h", micro=False, boost_error=True)
    modules = len(code.matrix) + 8  # 4-module quiet zone on every side
    scale = max(1, size // modules)
    image = Image.new("L", (modules, modules), 255)
    pixels = image.load()
    assert pixels is not None  # a new image always has pixel data
    for y, row in enumerate(code.matrix):
        for x, dark in enumerate(row):
            if dark:
                pixels[x + 4, y + 4] = 0
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int
) -> list[str]:
    """Wrap by measured width: Chinese has no spaces, English does."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        words = paragraph.split(" ") if paragraph.isascii() else list(paragraph)
        joiner = " " if paragraph.isascii() else ""
        line = ""
        for word in words:
            trial = f"{line}{joiner}{word}" if line else word
            if draw.textlength(trial, font=font) <= width:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines or textwrap.wrap(text)


def render(venue: Venue, door: Door, base: str = DEFAULT_BASE) -> tuple[Image.Image, str]:
    content = qr_content(venue, door, base)
    font_path = cjk_font_path()

    def font(px: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(font_path, px)

    page = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(page)
    width = PAGE[0] - 2 * MARGIN
    draw.rectangle((0, 0, PAGE[0], 230), fill=GREEN)
    draw.text((PAGE[0] // 2, 95), "场所码", font=font(110), fill="white", anchor="mm")
    draw.text((PAGE[0] // 2, 185), "Venue check-in code", font=font(46), fill="white", anchor="mm")
    y = 290
    for line in _wrap(draw, venue.name, font(84), width):
        draw.text((PAGE[0] // 2, y), line, font=font(84), fill="black", anchor="mt")
        y += 100
    door_line = f"出入口：{door.name}（{door.code}）"
    draw.text((PAGE[0] // 2, y + 10), door_line, font=font(64), fill=GREEN, anchor="mt")
    draw.text(
        (PAGE[0] // 2, y + 90), f"Entrance: {door.code}", font=font(40), fill=GREY, anchor="mt"
    )
    qr = qr_image(content, 1000)
    qr_top = y + 160
    page.paste(qr, ((PAGE[0] - qr.width) // 2, qr_top))
    y = qr_top + qr.height + 10
    short = DoorCode(venue.code, door.code).short
    draw.text((PAGE[0] // 2, y), short, font=font(54), fill="black", anchor="mt")
    y += 100
    for zh, en in INSTRUCTIONS:
        for line in _wrap(draw, zh, font(46), width):
            draw.text((MARGIN, y), line, font=font(46), fill="black")
            y += 58
        for line in _wrap(draw, en, font(34), width):
            draw.text((MARGIN, y), line, font=font(34), fill=GREY)
            y += 44
        y += 22
    category = categories.CATEGORIES.get(venue.category)  # an incomplete venue may lack it
    footer = " · ".join(part for part in (category.zh if category else "", venue.address) if part)
    if venue.zone:
        footer += f" · {venue.zone}"
    for i, line in enumerate(reversed(_wrap(draw, footer, font(32), width))):
        draw.text(
            (PAGE[0] // 2, PAGE[1] - 80 - 42 * i), line, font=font(32), fill=GREY, anchor="mb"
        )
    return page, content


def make_poster(venue: Venue, door: Door, out_dir: Path, base: str = DEFAULT_BASE) -> PosterFiles:
    """Write `<venue>-<door>.png` and `.pdf` (A4, 200 dpi) into `out_dir`."""
    page, content = render(venue, door, base)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{venue.code}-{door.code}"
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    page.save(png, dpi=(DPI, DPI), optimize=True)
    page.save(pdf, "PDF", resolution=DPI, quality=95, title=f"{venue.name} {door.name}")
    return PosterFiles(png, pdf, content)
