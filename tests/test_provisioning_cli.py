"""The installer's procedure, typed as in docs/provisioning.md, against a real broker:
import the register, print posters, set up the site, enrol a kiosk, revoke it."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gateway.broker import Broker, free_port
from provisioning import sample_register
from provisioning.cli import main


def run(capsys: pytest.CaptureFixture[str], base: list[str], *args: str) -> tuple[int, str]:
    code = main([*base, *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def can_connect(port: int, user: str, password: str) -> bool:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cli-{user}")
    client.username_pw_set(user, password)
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return False
    codes: list[int] = []
    client.on_connect = lambda c, u, f, rc, p: codes.append(rc.value)
    for _ in range(50):
        client.loop(0.1)
        if codes:
            break
    client.disconnect()
    return codes == [0]


def eventually(check, seconds: float = 3.0) -> bool:
    """Mosquitto applies a reload on its next loop tick; give it that moment."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_installer_procedure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", str(tmp_path / "register.db"), "--site-dir", str(tmp_path / "site")]
    text, planted = sample_register.csv_text(200)
    (tmp_path / "register.csv").write_text(text)
    code, out = run(
        capsys,
        base,
        "import-csv",
        str(tmp_path / "register.csv"),
        "--report",
        str(tmp_path / "bad.csv"),
    )
    assert code == 1 and "200 rows: 198 loaded, 2 refused" in out and "line 9:" in out
    with open(tmp_path / "bad.csv", encoding="utf-8-sig") as f:
        assert [int(r["line"]) for r in csv.DictReader(f)] == sorted(planted)

    venue = sample_register.venue_code(1)
    code, out = run(
        capsys, base, "poster", venue, "--door", "E1", "--out", str(tmp_path / "posters")
    )
    assert code == 0 and (tmp_path / "posters" / f"{venue}-E1.pdf").exists()

    tls_port = free_port()
    code, out = run(
        capsys,
        base,
        "site-init",
        "--site",
        "cli-site",
        "--hosts",
        "127.0.0.1",
        "--port",
        str(tls_port),
    )
    assert code == 0, out
    code, lines = run(
        capsys, base, "broker-lines", "--tls-port", str(tls_port), "--bind", "127.0.0.1"
    )
    with Broker(tmp_path / "broker", auth_lines=lines) as broker:
        assert broker.process is not None
        pid = ["--broker-pid", str(broker.process.pid)]
        code, out = run(capsys, base + pid, "enrol", venue, "E1")
        assert code == 0 and "broker reloaded" in out, out
        kiosk = out.split()[1]
        toml = (tmp_path / "site" / "bundles" / kiosk / "kiosk.toml").read_text()
        secret = toml.split('password = "')[1].split('"')[0]
        assert eventually(lambda: can_connect(broker.port, kiosk, secret))
        code, out = run(capsys, base + pid, "revoke", kiosk)
        assert code == 0 and "the broker dropped it" in out
        assert eventually(lambda: not can_connect(broker.port, kiosk, secret))
        assert not can_connect(broker.port, kiosk, secret)
        code, out = run(capsys, base, "revoke", kiosk)
        assert code == 2 and f"no active kiosk {kiosk}" in out


def test_clear_errors_for_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", str(tmp_path / "register.db"), "--site-dir", str(tmp_path / "site")]
    code, out = run(capsys, base, "add-venue", "--code", "41010300000001", "--name", "店",
                    "--category", "small_shop", "--credit-code", "914403001922038217",
                    "--address", "路", "--manager-name", "王",
                    "--manager-phone", "13800138000")  # fmt: skip
    assert code == 2 and "check character is '7', GB 32100 gives '6'" in out
    code, out = run(capsys, base, "enrol", "41010300000001", "E1")
    assert code != 0 and "site-init" in out
    code, out = run(capsys, base, "check-code", "HTTPS://PLACECODE.EXAMPLE/V/41010300000001/E1/0")
    assert code == 1 and "bad_check" in out
