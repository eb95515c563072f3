"""The installer's commands: `python -m simulators.idcard_reader` driven on stdin, and
`read-card` printing one card as JSON, masked unless asked otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.kiosk.idcard import read_card
from simulators.cardholders import cardholders
from simulators.idcard_reader import ReaderSimulator

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ReaderSimulator]:
    with ReaderSimulator(tmp_path / "idcard", rf_scale=0) as simulator:
        yield simulator


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = read_card.main(args)
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_masked_by_default(sim: ReaderSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    holder = sim.place(0)
    code, out = run([sim.path, "--wait", "1"], capsys)
    assert code == 0 and out["ok"] is True
    card = out["card"]
    assert card["id_number"] != holder.id_number and card["id_number"].endswith(
        holder.id_number[-4:]
    )
    assert card["name"] != holder.name and "*" in card["name"]
    assert holder.address not in json.dumps(out, ensure_ascii=False)
    assert out["reader"]["sam_id"] and out["photo_bytes"] == 1024


def test_unmasked_on_request(sim: ReaderSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    holder = next(c for c in sim.cards if c.appended_address)
    sim.place(holder)
    code, out = run([sim.path, "--unmasked", "--fingerprint"], capsys)
    assert code == 0
    assert (out["card"]["id_number"], out["card"]["name"]) == (holder.id_number, holder.name)
    assert out["appended_address"] == holder.appended_address
    assert out["fingerprint_bytes"] == holder.fingerprint_len


def test_no_card_within_the_wait(sim: ReaderSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run([sim.path, "--wait", "0.2"], capsys)
    assert code == 2 and out["ok"] is False and "身份证" in out["错误"]


def test_missing_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run([str(tmp_path / "nothing")], capsys)
    assert code == 3 and out["error"] == "cannot open the reader's serial port"


def test_rejected_card_is_explained(
    sim: ReaderSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.place(1)
    sim.force_status("read", 0x33)
    code, out = run([sim.path], capsys)
    assert code == 3 and out["错误"] == "信息验证失败" and "0x33" in out["detail"]


def test_simulator_process_driven_on_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "proc"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.idcard_reader",
            "--link",
            str(link),
            "--rf-scale",
            "0",
            "--seed",
            "7",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert json.loads(proc.stdout.readline())["port"] == str(link)

        def say(line: str) -> str:
            proc.stdin.write(line + "\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            return proc.stdout.readline().strip()  # type: ignore[union-attr]

        assert say("place 2").startswith("placed 2")
        code, out = run([str(link), "--unmasked"], capsys)
        assert code == 0 and out["card"]["id_number"] == cardholders(7, 64)[2].id_number
        assert say("status read 0x41") == "ok"
        assert run([str(link)], capsys)[1]["detail"] == "read: SW3 0x41"
        assert say("unplug") == "ok" and not link.exists()
        assert run([str(link)], capsys)[0] == 3
        assert say("plug") == "ok" and link.exists()
        assert run([str(link), "--wait", "1"], capsys)[0] == 0
        assert say("fault nonsense").startswith("error")
        say("quit")
        assert proc.wait(5) == 0
        assert not link.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
