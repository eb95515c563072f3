"""Voice prompts built with espeak-ng: one WAV per prompt, Mandarin then English."""

from __future__ import annotations

import array
import itertools
import shutil
import sys
import wave
from pathlib import Path

import pytest

from firmware.kiosk import voice
from firmware.kiosk.health import Health
from firmware.verdict import COLOUR_WORDS, PROMPT_TEXT, spoken

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs the Debian package espeak-ng"
)


def loud_runs(path: Path, window_s: float = 0.05) -> list[tuple[float, float]]:
    """Stretches of sound, as (start s, end s), split by silences of 250 ms or more."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    step = int(rate * window_s)
    loud = [max(map(abs, samples[i:i + step]), default=0) > voice.SILENCE
            for i in range(0, len(samples), step)]
    runs: list[tuple[float, float]] = []
    quiet = 0
    for n, is_loud in enumerate(loud):
        t = n * window_s
        if is_loud:
            if runs and quiet * window_s < 0.25:
                runs[-1] = (runs[-1][0], t + window_s)
            else:
                runs.append((t, t + window_s))
            quiet = 0
        else:
            quiet += 1
    return runs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return voice.build_prompts(tmp_path_factory.mktemp("audio"))


def test_every_prompt_has_a_short_two_language_recording(built: dict[str, Path]) -> None:
    assert set(built) == {spoken(key) for key in PROMPT_TEXT}
    for key, path in built.items():
        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
        assert 1.5 < seconds < 6.5, (key, seconds)
        runs = loud_runs(path)
        # Mandarin, the gap, then English: the longest silence splits two real sentences
        gaps = [b[0] - a[1] for a, b in itertools.pairwise(runs)]
        assert gaps and max(gaps) >= voice.GAP_S - 0.06, (key, runs)
        split = gaps.index(max(gaps)) + 1
        assert runs[split - 1][1] - runs[0][0] > 0.6, (key, "Mandarin part too short")
        assert runs[-1][1] - runs[split][0] > 0.6, (key, "English part too short")


def test_no_recording_names_a_colour(built: dict[str, Path]) -> None:
    """The queue never hears a colour: what is said for a red, a yellow and a green is
    one neutral sentence, and no recording of a colour word exists at all."""
    assert spoken("no_entry") == spoken("wait_staff") == "staff_coming"
    for key in built:
        zh, en = PROMPT_TEXT[key]
        syllables = set(voice.PINYIN[key][1].replace(",", " ").split())
        assert not [w for w in COLOUR_WORDS if w in zh + " " + en.lower()], key
        assert not syllables & {"hong2", "huang2", "lv4"}, key
    assert "no_entry" not in built and "wait_staff" not in built and "pass" not in built


def test_rebuild_skips_unchanged_prompts(built: dict[str, Path]) -> None:
    path = built["go_ahead"]
    before = path.stat().st_mtime_ns
    voice.build_prompts(path.parent)
    assert path.stat().st_mtime_ns == before


def test_changed_chinese_text_stops_the_build(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(PROMPT_TEXT, "show_code", ("请出示码", "Show your code"))
    with pytest.raises(voice.VoiceBuildError, match="'show_code'"):
        voice.build_prompts(tmp_path)


async def test_play_runs_the_player_and_missing_prompt_is_a_health_fault(
        built: dict[str, Path]) -> None:
    health = Health()
    player = (sys.executable, "-c", "import sys, wave; wave.open(sys.argv[1]).readframes(1)")
    v = voice.Voice(built["go_ahead"].parent, player, health)
    await v.play("pass")  # a green verdict's prompt, said without its colour
    assert v.played == ["go_ahead"]
    assert await v.wait() == 0
    assert health.snapshot()["voice"] == "ok"
    v.audio_dir = built["go_ahead"].parent / "nowhere"
    await v.play("pass")
    assert health.snapshot()["voice"].startswith("fault: missing prompt")
