"""Venue registration upload over real HTTP to the platform simulator with the venue
router included, as simulators/platform.py will include it."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from gateway.broker import free_port
from provisioning import csv_io, sample_register, upload
from provisioning.registry import Registry
from simulators.platform import create_app
from simulators.platform_venues import make_router


@pytest.fixture
def platform(tmp_path: Path):
    app = create_app(tmp_path / "platform.sqlite", seed=7)
    app.include_router(make_router(tmp_path / "platform.sqlite"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield url
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def registry(tmp_path: Path):
    reg = Registry(tmp_path / "register.db")
    text, _ = sample_register.csv_text(1200, bad=False)
    assert csv_io.import_text(reg, text).loaded == 1200
    yield reg
    reg.close()


def test_upload_registers_every_venue_once_and_resends_only_changes(
    platform: str, registry: Registry
) -> None:
    first = upload.upload(registry, platform, batch=500)
    assert (first.sent, first.created, first.rejected) == (1200, 1200, [])
    assert httpx.get(f"{platform}/sim/venues").json()["venues"] == 1200
    shop = httpx.get(f"{platform}/api/v1/venues/{sample_register.venue_code(2)}").json()
    assert shop["parent_code"] == sample_register.venue_code(1)
    assert shop["doors"][0]["qr"].endswith(
        f"/V/{sample_register.venue_code(2)}/01/" + shop["doors"][0]["qr"][-1]
    )

    again = upload.upload(registry, platform)
    assert (again.sent, again.skipped) == (0, 1200)

    venue = registry.get(sample_register.venue_code(3))
    registry.put(dataclasses.replace(venue, name="改名后的商铺"))
    changed = upload.upload(registry, platform)
    assert (changed.sent, changed.updated, changed.skipped) == (1, 1, 1199)
    assert httpx.get(f"{platform}/api/v1/venues/{venue.code}").json()["versions"] == 2

    # Idempotent on venue code: sending everything again creates nothing new.
    resent = upload.upload(registry, platform, everything=True)
    assert (resent.created, resent.unchanged) == (0, 1200)


def test_platform_rejects_bad_records_one_by_one(platform: str, registry: Registry) -> None:
    good = upload.record(registry.get(sample_register.venue_code(5)))
    bad_check = {
        **good,
        "code": sample_register.venue_code(9999),
        "credit_code": "914403001922038217",
    }
    bad_qr = {**good, "code": sample_register.venue_code(9998)}  # its door QR names venue 5
    answer = httpx.post(
        f"{platform}/api/v1/venues", json={"venues": [good, bad_check, bad_qr]}
    ).json()
    assert answer["created"] == 1
    reasons = {r["code"]: r["reason"] for r in answer["rejected"]}
    assert "check character" in reasons[bad_check["code"]]
    assert "QR content names" in reasons[bad_qr["code"]]
    assert (
        httpx.post(f"{platform}/api/v1/venues", json={"venues": [{"code": "x"}]}).status_code
        == 422
    )


def test_upload_retries_while_the_platform_fails_then_gives_up(
    platform: str, registry: Registry
) -> None:
    httpx.put(f"{platform}/sim/faults", json={"fail_uploads": True})
    with pytest.raises(upload.UploadError, match="503"):
        upload.upload(registry, platform, attempts=2)
    assert httpx.get(f"{platform}/sim/venues").json()["venues"] == 0
    httpx.put(f"{platform}/sim/faults", json={"fail_uploads": False})
    assert upload.upload(registry, platform).created == 1200
