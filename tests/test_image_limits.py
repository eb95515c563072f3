"""Image bombs in the installer tools: `just decode` and `just check-code` on a 438 KB PNG
that declares 20000×20000 pixels say so in one line, without a traceback, and never
decode it (their memory stays small)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

from firmware.kiosk.decode import MAX_IMAGE_PIXELS, read_image

REPO = Path(__file__).resolve().parents[1]
MAX_RSS_MB = 400  # Python with OpenCV, numpy and Pillow loaded; decoding would take GBs


def png_bomb(path: Path, side: int = 20_000) -> Path:
    """A grey PNG of side×side white pixels: tiny compressed, huge decoded."""
    squeeze = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * side
    data = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return png_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png")


def test_decode_refuses_a_pixel_bomb_in_one_line(bomb: Path):
    code, out, err, rss = run_measured("-m", "firmware.kiosk.decode", str(bomb))
    assert code == 1 and "Traceback" not in err, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["payload"] is None and f"more than {MAX_IMAGE_PIXELS} pixels" in line["error"]
    assert rss < MAX_RSS_MB, f"{rss:.0f} MB"


def test_check_code_refuses_a_pixel_bomb_in_one_line(bomb: Path, tmp_path: Path):
    keys = subprocess.run([sys.executable, "-m", "provisioning.keys", "issuer", "--out",
                           str(tmp_path / "vacc"), "--usage", "v"], cwd=REPO, check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert keys.returncode == 0
    code, out, err, rss = run_measured("-m", "firmware.kiosk.check_code", "--cert",
                                       str(tmp_path / "vacc.crt.pem"), str(bomb))
    assert code == 2 and "Traceback" not in err, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert (line["valid"], line["reason"]) == (False, "no_code")
    assert f"more than {MAX_IMAGE_PIXELS} pixels" in line["detail"]
    assert rss < MAX_RSS_MB, f"{rss:.0f} MB"


def test_the_limit_reads_only_the_header(tmp_path: Path):
    assert read_image(png_bomb(tmp_path / "fine.png", side=1000))[0].shape == (1000, 1000)
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 1
    with pytest.raises(ValueError, match=f"{side}x{side} pixels, more than"):
        read_image(png_bomb(tmp_path / "over.png", side=side))


def run_measured(*args: str) -> tuple[int, str, str, float]:
    """Exit code, stdout, stderr and the child's own peak resident memory (MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=out, stderr=err,
                                text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024
