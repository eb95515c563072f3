"""Spoken prompts at the door: Mandarin first, then English, one short WAV per prompt.

The WAVs are made at build time (`just board-audio`, or `python -m firmware.kiosk.voice
build`) with espeak-ng, not committed: they follow PROMPT_TEXT, and a binary in git would
silently drift from it. Only the prompts the voice says are built (`VOICED`): a verdict's
prompt is spoken as `firmware.verdict.spoken(prompt)`, which never names a colour, so no
recording of a colour exists to be played to the queue. espeak-ng's Debian build has no
Hanzi dictionary (it spells the tone digits in English), so each prompt is spoken from
hand-written pinyin with tone numbers through the `cmn-latn-pinyin` voice. Each pinyin
line records the Chinese it was written for; if PROMPT_TEXT changes, the build stops and
says which prompt to redo.

Playing is fire-and-forget through `aplay`: a new prompt cuts the one still playing, and
a missing file or player is a health fault, never an exception in the kiosk's path.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

from firmware.kiosk.health import Health
from firmware.verdict import PROMPT_TEXT, SPOKEN, spoken

log = logging.getLogger(__name__)

DEFAULT_DIR = Path("var/build/audio")
ZH_VOICE = "cmn-latn-pinyin"
EN_VOICE = "en"
GAP_S = 0.35  # silence between the Mandarin and the English sentence
SILENCE = 300  # |sample| below this (of 32767) counts as silence when trimming
ZH_SPEED = 180  # words (syllables) per minute: brisk but clear at a door
EN_SPEED = 175

# prompt -> (the Chinese this pinyin was written for, pinyin with tone numbers)
PINYIN: dict[str, tuple[str, str]] = {
    "manual_check": (
        "无法核验，请工作人员人工核验",
        "wu2 fa3 he2 yan4, qing3 gong1 zuo4 ren2 yuan2 ren2 gong1 he2 yan4",
    ),
    "stale_status": (
        "状态未更新，请人工核验",
        "zhuang4 tai4 wei4 geng1 xin1, qing3 ren2 gong1 he2 yan4",
    ),
    "not_health_code": ("这不是健康码", "zhe4 bu2 shi4 jian4 kang1 ma3"),
    "show_code": ("请出示健康码", "qing3 chu1 shi4 jian4 kang1 ma3"),
    "place_card": ("请放置身份证", "qing3 fang4 zhi4 shen1 fen4 zheng4"),
    "read_failed": ("读取失败，请重试", "du2 qu3 shi1 bai4, qing3 chong2 shi4"),
    "go_ahead": ("请通行", "qing3 tong1 xing2"),
    "staff_coming": (
        "请稍候，工作人员马上为您服务",
        "qing3 shao1 hou4, gong1 zuo4 ren2 yuan2 ma3 shang4 wei4 nin2 fu2 wu4",
    ),
    "duty_on": ("值班签到成功", "zhi2 ban1 qian1 dao4 cheng2 gong1"),
    "duty_off": ("值班签退成功", "zhi2 ban1 qian1 tui4 cheng2 gong1"),
    "staff_unknown": (
        "此卡不是本场所工作人员卡",
        "ci3 ka3 bu2 shi4 ben3 chang3 suo3 gong1 zuo4 ren2 yuan2 ka3",
    ),
    "duty_no_answer": ("签到未成功，请重试", "qian1 dao4 wei4 cheng2 gong1, qing3 chong2 shi4"),
    "gate_by_staff": (
        "工作人员已放行，请通行",
        "gong1 zuo4 ren2 yuan2 yi3 fang4 xing2, qing3 tong1 xing2",
    ),
    "test_required": (
        "需近期核酸证明，请人工核验",
        "xu1 jin4 qi1 he2 suan1 zheng4 ming2, qing3 ren2 gong1 he2 yan4",
    ),
}
# The prompts the voice says: every prompt but those spoken as another (SPOKEN).
VOICED = tuple(key for key in PROMPT_TEXT if key not in SPOKEN)


class VoiceBuildError(RuntimeError):
    pass


def _check_pinyin() -> None:
    missing = sorted(set(VOICED) - set(PINYIN))
    if missing:
        raise VoiceBuildError(f"no pinyin for prompt(s) {missing}: add them to voice.PINYIN")
    for key in VOICED:
        zh = PROMPT_TEXT[key][0]
        if PINYIN[key][0] != zh:
            raise VoiceBuildError(
                f"prompt {key!r} now reads {zh!r} but its pinyin was written for "
                f"{PINYIN[key][0]!r}: update voice.PINYIN[{key!r}]"
            )


def _speak(espeak: str, voice: str, text: str, out: Path, speed: int) -> None:
    subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(out), text],
                   check=True, capture_output=True, timeout=30)


def _trimmed(frames: bytes, sampwidth: int, framerate: int) -> bytes:
    """Drop espeak-ng's leading and trailing silence (keeping 40 ms), so prompts stay short."""
    if sampwidth != 2:
        return frames
    samples = array.array("h", frames)
    loud = [i for i in range(0, len(samples), 64) if abs(samples[i]) > SILENCE]
    if not loud:
        return frames
    margin = int(framerate * 0.04)
    start, end = max(0, loud[0] - margin), min(len(samples), loud[-1] + margin)
    return samples[start:end].tobytes()


def _join(parts: Sequence[Path], out: Path) -> None:
    """Concatenate same-format WAVs with a short silence between them."""
    with wave.open(str(parts[0])) as first:
        params = first.getparams()
    gap = b"\x00" * int(params.framerate * GAP_S) * params.sampwidth * params.nchannels
    with wave.open(str(out), "wb") as dst:
        dst.setparams(params)
        for i, part in enumerate(parts):
            with wave.open(str(part)) as src:
                sample_format = (src.getframerate(), src.getsampwidth())
                if sample_format != (params.framerate, params.sampwidth):
                    raise VoiceBuildError(f"{part.name}: sample format differs")
                if i:
                    dst.writeframes(gap)
                frames = src.readframes(src.getnframes())
                dst.writeframes(_trimmed(frames, params.sampwidth, params.framerate))


def _fingerprint(key: str) -> str:
    en = PROMPT_TEXT[key][1]
    settings = (GAP_S, SILENCE, ZH_SPEED, EN_SPEED)
    text = "|".join((ZH_VOICE, PINYIN[key][1], EN_VOICE, en, *map(str, settings)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_prompts(out_dir: Path = DEFAULT_DIR, espeak: str = "espeak-ng") -> dict[str, Path]:
    """Make <key>.wav for every prompt; unchanged prompts are not rebuilt."""
    _check_pinyin()
    exe = shutil.which(espeak)
    if not exe:
        raise VoiceBuildError(f"{espeak} not found: install the Debian package espeak-ng")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    built: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in VOICED:
            en = PROMPT_TEXT[key][1]
            target = out_dir / f"{key}.wav"
            fingerprint = _fingerprint(key)
            if manifest.get(key) != fingerprint or not target.exists():
                zh_wav, en_wav = Path(tmp, f"{key}.zh.wav"), Path(tmp, f"{key}.en.wav")
                _speak(exe, ZH_VOICE, PINYIN[key][1], zh_wav, ZH_SPEED)
                _speak(exe, EN_VOICE, en, en_wav, EN_SPEED)
                _join([zh_wav, en_wav], target)
                manifest[key] = fingerprint
            built[key] = target
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return built


class Voice:
    """Plays a prompt's WAV (as spoken: `firmware.verdict.spoken`); the newest prompt wins.
    `played` lists what was said, by the key of its recording."""

    def __init__(self, audio_dir: Path = DEFAULT_DIR, player: Sequence[str] = ("aplay", "-q"),
                 health: Health | None = None) -> None:
        self.audio_dir = Path(audio_dir)
        self.player = tuple(player)
        self.health = health or Health()
        self.played: list[str] = []
        self._current: asyncio.subprocess.Process | None = None

    async def play(self, prompt: str) -> None:
        key = spoken(prompt)
        path = self.audio_dir / f"{key}.wav"
        if not path.exists():
            self.health.report("voice", False, f"missing prompt {key}")
            log.warning(
                "voice prompt %s missing in %s (run `just board-audio`)", key, self.audio_dir
            )
            return
        await self.stop()
        try:
            self._current = await asyncio.create_subprocess_exec(
                *self.player, str(path), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
        except OSError as err:
            self.health.report("voice", False, "no audio player")
            log.warning("cannot start %s: %s", self.player[0], err)
            return
        self.played.append(key)
        self.health.report("voice", True)

    async def stop(self) -> None:
        proc, self._current = self._current, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            await proc.wait()

    async def wait(self) -> int | None:
        """Wait for the prompt now playing to end; its player's exit code."""
        if self._current is None:
            return None
        return await self._current.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the kiosk's voice prompts")
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    for key, path in build_prompts(args.out).items():
        with wave.open(str(path)) as w:
            print(f"{key:16s} {w.getnframes() / w.getframerate():5.2f} s  {path}")


if __name__ == "__main__":
    main()
