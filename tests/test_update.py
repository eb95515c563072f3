"""Kiosk updates from the gateway: a good release comes up, a bad one is rolled back.

Real parts: Mosquitto, the gateway process (python -m gateway) serving the bundles and
the health endpoint, and the simulated kiosk as its own process started from
`<root>/current` — what systemd does on a Pi (WorkingDirectory=/opt/placecode/current).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from firmware.kiosk import update
from gateway.broker import Broker, free_port
from simulators import processes
from tests.test_upgrade import BACKLOG, old_outbox_with_backlog

REPO = Path(__file__).resolve().parent.parent
SITE = "upd-site"
ADD_COLUMN = "ALTER TABLE outbox ADD COLUMN note TEXT;"


def source_tree(tmp: Path, sw: str, broken: bool = False, outbox_v2: str | None = None) -> Path:
    """A copy of the release parts of this repository with its own SOFTWARE_VERSION;
    `broken`: a kiosk that dies at start, as a bad release would; `outbox_v2`: the SQL of
    a version 2 of the outbox schema this release migrates to."""
    src = tmp / f"src-{sw}"
    for rel in update.release_files(REPO):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, src / rel)
    init = src / "firmware/kiosk/__init__.py"
    init.write_text(init.read_text().replace(update.software_version(REPO), sw))
    if broken:
        (src / "firmware/kiosk/process.py").write_text(
            "import sys\n\n\ndef main(*args, **kwargs):\n"
            "    sys.exit('kiosk: this release is broken')\n")
    if outbox_v2:
        with open(src / "firmware/kiosk/outbox.py", "a") as module:
            module.write(f"\nCOMPONENT = COMPONENT.then(schema.Migration(2, {outbox_v2!r}))\n")
    return src


class SupervisedKiosk:
    """Starts the kiosk from root/current, as the systemd unit does (with simulated devices:
    the simulators' entry point into the same kiosk process); restart = stop+start."""

    def __init__(self, root: Path, config: Path, log: Path) -> None:
        self.root, self.config, self.log = root, config, log
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        update.recover(self.root)  # the unit's ExecStartPre
        current = (self.root / "current").resolve()
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "simulators.kiosk", "--config", str(self.config)],
                cwd=current, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, PYTHONPATH=str(current), PYTHONDONTWRITEBYTECODE="1"),
            )
        self.starts += 1

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    async def restart(self) -> None:
        await asyncio.to_thread(self.stop)
        self.start()


@contextlib.asynccontextmanager
async def serving_gateway(tmp: Path, broker_port: int):
    """The gateway process (python -m gateway), and the folder it serves releases from."""
    config = processes.gateway_config(tmp / "gw", SITE, broker_port,
                                      f"http://127.0.0.1:{free_port()}")
    gateway, url = await asyncio.to_thread(processes.start_gateway, tmp / "gw", config)
    try:
        yield url, tmp / "gw" / "releases"
    finally:
        await asyncio.to_thread(gateway.stop)


@pytest.fixture
def broker(tmp_path: Path):
    with Broker(tmp_path / "broker") as running:
        yield running


def offer(bundle: Path, releases: Path) -> str:
    releases.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".sha256"):
        shutil.copyfile(str(bundle) + suffix, releases / (bundle.name + suffix))
    return bundle.name.removeprefix("placecode-").removesuffix(".tar.gz")


async def test_good_release_is_kept_bad_release_is_rolled_back(tmp_path: Path, broker: Broker):
    root = tmp_path / "opt"
    base = update.build_bundle(source_tree(tmp_path, "1.0.0"), tmp_path / "out")
    good = update.build_bundle(source_tree(tmp_path, "1.1.0"), tmp_path / "out")
    bad = update.build_bundle(source_tree(tmp_path, "1.2.0", broken=True), tmp_path / "out")
    base_name, _ = update.unpack(base.read_bytes(), root)
    update.point_current(root, base_name)

    kiosk_cfg = processes.write_toml(tmp_path / "kiosk.toml", processes.kiosk_config(
        tmp_path, SITE, "kiosk-u", "door-1", broker.port, rate_hz=2.0))
    kiosk = SupervisedKiosk(root, kiosk_cfg, tmp_path / "kiosk.log")
    async with serving_gateway(tmp_path, broker.port) as (url, releases):
        check = update.HealthCheck(url, "kiosk-u")
        kiosk.start()
        try:
            async with __import__("httpx").AsyncClient() as http:
                assert await check.wait(http, "1.0.0", 0, 20), kiosk.log.read_text()[-2000:]

            good_name = offer(good, releases)
            result = await update.apply(root, url, check, kiosk.restart, health_timeout_s=20)
            assert result == {"result": "updated", "release": good_name, "previous": base_name}
            assert update.current_release(root) == good_name

            bad_name = offer(bad, releases)  # now the gateway's latest
            result = await update.apply(root, url, check, kiosk.restart, health_timeout_s=5)
            assert result["result"] == "rolled_back" and result["failed"] == bad_name
            assert result["release"] == good_name and result["previous_healthy"] is True
            assert update.current_release(root) == good_name
            assert not (root / "update-pending").exists()
            assert kiosk.popen.poll() is None  # the good release is running again
            assert "this release is broken" in kiosk.log.read_text()
            assert kiosk.starts == 4  # base, good, bad, good again
        finally:
            kiosk.stop()


async def test_an_update_drains_a_kiosk_backlog_through_a_schema_migration(
        tmp_path: Path, broker: Broker):
    """A kiosk that was down with 10,000 unsent scans in an outbox of the last unversioned
    release is updated to a release with outbox version 2: it migrates, comes up, and the
    whole backlog reaches the gateway; the previous release still runs on the file."""
    root = tmp_path / "opt"
    base = update.build_bundle(source_tree(tmp_path, "1.0.0"), tmp_path / "out")
    newer = update.build_bundle(
        source_tree(tmp_path, "1.1.0", outbox_v2=ADD_COLUMN), tmp_path / "out"
    )
    base_name, _ = update.unpack(base.read_bytes(), root)
    update.point_current(root, base_name)
    raw = processes.kiosk_config(tmp_path, SITE, "kiosk-u", "door-1", broker.port, rate_hz=2.0)
    box = Path(raw["data_dir"]) / "outbox.sqlite"
    backlog = old_outbox_with_backlog(box, "kiosk-u", "door-1", BACKLOG)
    kiosk = SupervisedKiosk(root, processes.write_toml(tmp_path / "kiosk.toml", raw),
                            tmp_path / "kiosk.log")

    def stored(ids: list[str]) -> int:
        db = sqlite3.connect(tmp_path / "gw" / "gateway.sqlite", timeout=10)
        try:
            db.execute("CREATE TEMP TABLE want (id TEXT PRIMARY KEY)")
            db.executemany("INSERT INTO want VALUES (?)", [(i,) for i in ids])
            return db.execute("SELECT count(*) FROM events JOIN want USING (id)").fetchone()[0]
        finally:
            db.close()

    async with serving_gateway(tmp_path, broker.port) as (url, releases):
        check = update.HealthCheck(url, "kiosk-u")
        try:
            newer_name = offer(newer, releases)
            result = await update.apply(root, url, check, kiosk.restart, health_timeout_s=30)
            assert result["result"] == "updated", kiosk.log.read_text()[-2000:]
            assert update.current_release(root) == newer_name
            deadline = time.monotonic() + 120
            while stored(backlog) < BACKLOG:
                assert time.monotonic() < deadline, f"only {stored(backlog)} of the backlog"
                await asyncio.sleep(0.5)
            while _count(box, "SELECT count(*) FROM outbox WHERE seq <= ?", BACKLOG):
                assert time.monotonic() < deadline, "the gateway's acks did not empty the outbox"
                await asyncio.sleep(0.5)
            assert _count(box, "SELECT version FROM schema_versions WHERE component='outbox'") == 2
            assert "outbox schema: migration 1 -> 2: done" in kiosk.log.read_text()

            # Rolled back by hand to the previous release: it runs on the version 2 file.
            update.point_current(root, base_name)
            async with httpx.AsyncClient() as http:
                since = await check.gateway_now_ms(http)
                await kiosk.restart()
                assert await check.wait(http, "1.0.0", since, 30), kiosk.log.read_text()[-2000:]
            assert "newer than this release's 1" in kiosk.log.read_text()
        finally:
            kiosk.stop()


async def test_a_release_whose_migration_fails_stops_with_one_line_and_is_rolled_back(
        tmp_path: Path, broker: Broker):
    """The outbox migration of the new release fails half way: the file stays as it was,
    the kiosk exits with code 2 and one line naming the file and the step, the updater
    rolls back, and the previous release sends the backlog."""
    root = tmp_path / "opt"
    base = update.build_bundle(source_tree(tmp_path, "1.0.0"), tmp_path / "out")
    failing = update.build_bundle(source_tree(
        tmp_path, "1.1.0", outbox_v2=ADD_COLUMN + " UPDATE no_such_table SET x = 1;"),
        tmp_path / "out")
    base_name, _ = update.unpack(base.read_bytes(), root)
    update.point_current(root, base_name)
    raw = processes.kiosk_config(tmp_path, SITE, "kiosk-u", "door-1", broker.port, rate_hz=2.0)
    box = Path(raw["data_dir"]) / "outbox.sqlite"
    old_outbox_with_backlog(box, "kiosk-u", "door-1", 1000)
    kiosk = SupervisedKiosk(root, processes.write_toml(tmp_path / "kiosk.toml", raw),
                            tmp_path / "kiosk.log")
    async with serving_gateway(tmp_path, broker.port) as (url, releases):
        check = update.HealthCheck(url, "kiosk-u")
        try:
            offer(failing, releases)
            result = await update.apply(root, url, check, kiosk.restart, health_timeout_s=8)
            assert result["result"] == "rolled_back" and result["release"] == base_name
            assert result["previous_healthy"] is True, kiosk.log.read_text()[-2000:]
            lines = kiosk.log.read_text().splitlines()
            failed = [line for line in lines if line.startswith("kiosk: ")]
            assert len(failed) == 1 and str(box) in failed[0], lines[-20:]
            assert "outbox schema: migration 1 -> 2 failed, file left as it was" in failed[0]
            assert "Traceback" not in kiosk.log.read_text()
            assert _count(box, "SELECT version FROM schema_versions") == 1
            assert _count(box, "SELECT count(*) FROM pragma_table_info('outbox') "
                               "WHERE name = 'note'") == 0, "the half-done migration is undone"
            deadline = time.monotonic() + 60
            while _count(box, "SELECT count(*) FROM outbox WHERE seq <= 1000"):
                assert time.monotonic() < deadline, "the previous release did not send the backlog"
                await asyncio.sleep(0.5)
        finally:
            kiosk.stop()


def _count(path: Path, sql: str, *args: object) -> int:
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute(sql, args).fetchone()[0]
    finally:
        db.close()


def test_tampered_or_unsigned_bundle_is_refused_and_nothing_changes(tmp_path: Path):
    src = source_tree(tmp_path, "2.0.0")
    key = Ed25519PrivateKey.generate()
    (tmp_path / "signing.pem").write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (tmp_path / "release-key.pub").write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    bundle = update.build_bundle(src, tmp_path / "out", tmp_path / "signing.pem")
    data = bundle.read_bytes()
    sha = Path(str(bundle) + ".sha256").read_text()
    sig = Path(str(bundle) + ".sig").read_bytes()
    pub = tmp_path / "release-key.pub"

    update.verify(data, sha, sig, pub)  # the genuine bundle passes
    tampered = data[:-10] + bytes(10)
    with pytest.raises(update.UpdateError, match="checksum"):
        update.verify(tampered, sha, sig, pub)
    forged_sha = update.hashlib.sha256(tampered).hexdigest() + "  x\n"
    with pytest.raises(update.UpdateError, match="signature"):
        update.verify(tampered, forged_sha, sig, pub)
    with pytest.raises(update.UpdateError, match="not signed"):
        update.verify(data, sha, None, pub)


def test_bundles_are_reproducible_and_hold_only_release_files(tmp_path: Path):
    src = source_tree(tmp_path, "3.0.0")
    first = update.build_bundle(src, tmp_path / "a").read_bytes()
    second = update.build_bundle(src, tmp_path / "b").read_bytes()
    assert first == second
    name, _ = update.unpack(first, tmp_path / "r")
    with tarfile.open(tmp_path / "a" / f"placecode-{name}.tar.gz") as tar:
        names = tar.getnames()
    assert "firmware/kiosk/update.py" in names and "RELEASE" in names
    assert not [n for n in names if "node_modules" in n or "/tests/" in n or n.endswith(".pyc")]


def test_an_update_cut_short_is_rolled_back_at_boot(tmp_path: Path):
    root = tmp_path / "opt"
    old_bundle = update.build_bundle(source_tree(tmp_path, "4.0.0"), tmp_path / "o")
    old, _ = update.unpack(old_bundle.read_bytes(), root)
    new_bundle = update.build_bundle(source_tree(tmp_path, "4.1.0"), tmp_path / "o")
    new, _ = update.unpack(new_bundle.read_bytes(), root)
    update.point_current(root, old)
    # The updater switched and restarted the kiosk; while it checks, a kiosk start
    # (the unit's ExecStartPre) must leave the new release alone.
    pending = {"from": old, "to": new, "boot": update.boot_id(), "pid": os.getpid()}
    (root / "update-pending").write_text(update.json.dumps(pending))
    update.point_current(root, new)
    assert update.recover(root) is None and update.current_release(root) == new
    # Power cut before the check finished: at the next boot the old release comes back.
    (root / "update-pending").write_text(update.json.dumps(pending | {"boot": "another-boot"}))
    assert update.recover(root) == old
    assert update.current_release(root) == old
    assert update.recover(root) is None  # nothing pending any more
    # The updater was killed mid-check (same boot, its pid gone): rolled back too.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    update.point_current(root, new)
    (root / "update-pending").write_text(update.json.dumps(pending | {"pid": dead.pid}))
    assert update.recover(root) == old and update.current_release(root) == old


def test_a_forged_bundle_with_a_path_outside_is_refused(tmp_path: Path):
    import gzip
    import io
    import json

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, body in (("RELEASE", json.dumps({"name": "evil-1", "sw": "6.6.6"}).encode()),
                           ("../../etc/cron.d/evil", b"* * * * * root sh\n")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    with pytest.raises(update.UpdateError, match="not a plain file"):
        update.unpack(gzip.compress(raw.getvalue()), tmp_path / "opt")
    assert not (tmp_path / "etc").exists()
    assert not (tmp_path / "opt" / "releases" / "evil-1").exists()
