"""The install recipes: units systemd accepts, udev rules for the documented ids, a runtime
lock that still holds every runtime dependency, idempotent steps — and, marked slow, the
real thing: both recipes in a debootstrap'ed Debian bookworm, twice (deploy/ci-debootstrap),
then both roots booted under systemd as PID 1 (deploy/ci-boot).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FILES = REPO / "deploy" / "files"
UNITS = sorted(p.name for p in FILES.glob("placecode-*.service")) + [
    "placecode-kiosk-update.timer"
]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path):
    """Here the venv's python stands in for /opt/placecode/venv/bin/python (the chroot test
    checks the installed paths themselves)."""
    for name in UNITS:
        text = (FILES / name).read_text().replace("/opt/placecode/venv/bin/python", sys.executable)
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", *[str(tmp_path / n) for n in UNITS]],
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "placecode" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


def test_kiosk_unit_has_watchdog_restart_and_hardening():
    unit = (FILES / "placecode-kiosk.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=always", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/placecode", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "ExecStart=/opt/placecode/venv/bin/python -m firmware.kiosk --config",
                 "User=placecode", "SupplementaryGroups=dialout video"):
        assert line in unit, line


def test_udev_rules_name_reader_and_board_by_documented_ids():
    rules = [line for line in (FILES / "99-placecode.rules").read_text().splitlines()
             if line and not line.startswith("#")]
    doc = (REPO / "docs" / "install.md").read_text()
    seen = {}
    for line in rules:
        keys = dict(re.findall(r'(\w+(?:\{\w+\})?)[+=!]=?"([^"]*)"', line))
        assert keys["SUBSYSTEM"] == "tty" and keys["GROUP"] == "dialout", line
        assert re.fullmatch(r"[0-9a-f]{4}", keys["ATTRS{idVendor}"]), line
        assert re.fullmatch(r"[0-9a-f]{4}", keys["ATTRS{idProduct}"]), line
        ids = f'{keys["ATTRS{idVendor}"]}:{keys["ATTRS{idProduct}"]}'
        assert ids not in seen, f"{ids} would name two devices"
        seen[ids] = keys["SYMLINK"]
        assert ids in doc, f"{ids} not documented in docs/install.md"
    assert set(seen.values()) == {"placecode-reader", "placecode-board"}


def lib(script: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["bash", "-c", f"source {REPO}/deploy/lib.sh; {script}"],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, **(env or {}))).stdout


def test_runtime_lock_keeps_every_runtime_dependency_and_drops_dev_tools():
    runtime = lib(f"runtime_lock {REPO}/requirements.lock")
    names = {line.split("==")[0].lower() for line in runtime.splitlines() if "==" in line}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        assert dep.split("==")[0].lower() in names, dep
    for dev in project["optional-dependencies"]["dev"]:
        assert dev.split("==")[0].lower() not in names, dev
    assert "--hash=sha256:" in runtime


def test_steps_change_only_what_differs(tmp_path: Path):
    owner = subprocess.run(
        ["id", "-un"], capture_output=True, text=True, check=True
    ).stdout.strip()
    group = subprocess.run(
        ["id", "-gn"], capture_output=True, text=True, check=True
    ).stdout.strip()
    src = tmp_path / "a.conf"
    src.write_text("x = 1\n")
    step = (f"put_file {src} {tmp_path}/etc/a.conf 0644 {owner}:{group}; "
            f"ensure_dir {tmp_path}/data 0750 {owner}:{group}; finish")
    assert "done: 2 changes" in lib(step)
    assert "done: 0 changes" in lib(step)
    src.write_text("x = 2\n")
    assert "done: 1 changes" in lib(step)
    os.chmod(tmp_path / "etc" / "a.conf", 0o666)
    assert "done: 1 changes" in lib(step)
    mode = f"ensure_mode {tmp_path}/etc/a.conf 0640 {owner}:{group}; finish"
    assert "done: 1 changes" in lib(mode)
    assert "done: 0 changes" in lib(mode)


def test_scripts_parse():
    for name in ("install-kiosk", "install-gateway", "ci-debootstrap", "ci-boot", "lib.sh"):
        subprocess.run(["bash", "-n", str(REPO / "deploy" / name)], check=True)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and chroot need root")
def test_install_recipes_in_a_debootstrap_bookworm_root_twice():
    """Minutes (the first time also builds the cached base root): `just test-install`."""
    result = subprocess.run(["bash", str(REPO / "deploy" / "ci-debootstrap")],
                            capture_output=True, text=True, timeout=1200,
                            env=dict(os.environ, KEEP_ROOTS="1"), check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for role in ("gateway", "kiosk"):
        assert summary[role]["first_changes"] > 0
        assert summary[role]["second_changes"] == 0
    # The same roots booted under real systemd: services, watchdog, update, rollback.
    booted = subprocess.run(["bash", str(REPO / "deploy" / "ci-boot")],
                            capture_output=True, text=True, timeout=500, check=False)
    assert booted.returncode == 0, booted.stdout[-4000:] + booted.stderr[-2000:]
    assert json.loads(booted.stdout.strip().splitlines()[-1])["rolled_back"] is True
