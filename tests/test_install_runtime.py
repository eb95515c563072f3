"""What the installed kiosk service does at run time: talks to systemd, logs within bounds,
keeps time from the gateway.

Real parts: the kiosk service process on a real notify socket (what systemd listens on),
Mosquitto, the gateway's time endpoint over real HTTP. Only the Pi's wall clock is faked
(to make it wrong and make it jump), since changing this machine's clock is not an option.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from firmware import logging_setup, sdnotify
from firmware.kiosk.event import EventFactory
from firmware.kiosk.reading import Reading
from firmware.kiosk.timesync import GatewayClock
from gateway import release
from gateway.broker import Broker, free_port
from simulators import processes

REPO = Path(__file__).resolve().parent.parent


class NotifySocket:
    """The receiving end of sd_notify, as systemd has it."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def receive_until(self, check, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append(dict(line.split("=", 1) for line in data.splitlines()))
            if check(self.messages):
                return True
        return False

    def close(self) -> None:
        self.sock.close()


def test_service_says_ready_pings_the_watchdog_and_says_stopping(tmp_path: Path):
    with Broker(tmp_path / "broker") as broker:
        cfg = processes.write_toml(tmp_path / "kiosk.toml", processes.kiosk_config(
            tmp_path, "sd-site", "kiosk-sd", "door-1", broker.port))
        notify = NotifySocket(tmp_path / "notify")
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulators.kiosk", "--config", str(cfg)],
            cwd=REPO, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO), NOTIFY_SOCKET=notify.path,
                     WATCHDOG_USEC="400000"))
        try:
            assert notify.receive_until(lambda m: any("READY" in x for x in m), 20), proc.poll()
            ready = next(x for x in notify.messages if "READY" in x)
            assert ready["READY"] == "1" and "kiosk-sd" in ready["STATUS"]
            # WatchdogSec=0.4 s → a ping every 0.2 s
            assert notify.receive_until(
                lambda m: sum("WATCHDOG" in x for x in m) >= 5, 5), notify.messages
            proc.send_signal(signal.SIGTERM)
            assert notify.receive_until(lambda m: any("STOPPING" in x for x in m), 10)
            _out, err = proc.communicate(timeout=15)
            assert proc.returncode == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            notify.close()
    entries = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert entries and all({"ts", "level", "logger", "msg"} <= e.keys() for e in entries)
    assert any("ready" in e["msg"] for e in entries)


async def test_watchdog_pings_stop_when_the_kiosk_is_not_alive(tmp_path: Path):
    notify = NotifySocket(tmp_path / "notify")
    notifier = sdnotify.Notifier(notify.path)
    alive = {"yes": True}
    task = asyncio.create_task(sdnotify.keep_alive(notifier, 0.05, lambda: alive["yes"]))
    await asyncio.sleep(0.3)
    pinged = notifier.sent
    alive["yes"] = False
    await asyncio.sleep(0.3)
    task.cancel()
    assert pinged >= 3 and notifier.sent == pinged  # no ping once not alive
    notify.close()


def test_no_systemd_no_op_and_watchdog_for_another_pid(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.Notifier().ready() is False
    assert sdnotify.watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert sdnotify.watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval_s({}) is None


def test_logs_are_json_capped_and_rate_limited():
    stream = io.StringIO()
    limit = logging_setup.setup("INFO", stream, burst=5, window_s=60, max_chars=100)
    try:
        noisy = logging.getLogger("test.noisy")
        for i in range(200):  # a device fault repeating every poll
            noisy.warning("reader fault %d", i)
        logging.getLogger("test.other").info("x" * 5000)
    finally:
        logging.getLogger().handlers.clear()
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["msg"] for e in entries[:5]] == [f"reader fault {i}" for i in range(5)]
    assert len(entries) == 6 and limit.dropped() == 195  # other loggers keep their own budget
    assert len(entries[5]["msg"]) < 130 and "+4900 chars" in entries[5]["msg"]
    assert all(len(line) < 300 for line in lines)


def test_rate_limit_reports_what_it_dropped_in_the_next_window():
    now = [0.0]
    limit = logging_setup.RateLimit(burst=2, window_s=10, clock=lambda: now[0])

    def make():
        return logging.LogRecord("n", logging.WARNING, __file__, 1, "m", (), None)

    assert [limit.filter(make()) for _ in range(5)] == [True, True, False, False, False]
    now[0] = 11.0
    record = make()
    assert limit.filter(record) and record.suppressed == 3


@pytest.fixture
async def time_server():
    app = FastAPI()
    app.include_router(release.router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


class WrongWallClock:
    """A Pi that booted an hour behind (fake-hwclock), whose clock then jumps."""

    def __init__(self, behind_s: float) -> None:
        self.behind_s = behind_s

    def __call__(self) -> float:
        return time.time() - self.behind_s


async def test_kiosk_time_comes_from_the_gateway_and_survives_clock_jumps(time_server: str):
    wall = WrongWallClock(3600)
    clock = GatewayClock(time_server, wall=wall)
    assert clock.offset_ms is None and clock.report()["clock_synced"] is False
    sample = await clock.sync()
    assert sample.rtt_ms < 500
    # The Pi is an hour behind: the offset says so, within the round trip.
    assert abs(clock.offset_ms - 3_600_000) <= sample.rtt_ms + 50
    assert abs(clock.now_ms() - time.time() * 1000) <= sample.rtt_ms + 50

    events = EventFactory("k", "d", clock.now_ms)
    stamped = [events.builder(Reading("code", "t"))(1)]
    wall.behind_s = 3600 + 600  # NTP-less Pi: the wall clock steps back ten minutes
    stamped.append(events.builder(Reading("code", "t"))(2))
    wall.behind_s = 3600 - 1800  # and then half an hour forward
    stamped.append(events.builder(Reading("code", "t"))(3))
    times = [ts for _id, _payload, ts in stamped]
    ids = [event_id for event_id, _payload, _ts in stamped]
    assert times == sorted(times) and times[-1] - times[0] < 1000  # no jump in scan times
    assert ids == sorted(ids)
    assert clock.jumps == 2
    assert abs(clock.now_ms() - time.time() * 1000) <= sample.rtt_ms + 50  # still right


async def test_gateway_away_then_back(time_server: str):
    clock = GatewayClock(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(httpx.HTTPError):
        await clock.sync(exchanges=2, timeout_s=0.5)
    assert not clock.synced and abs(clock.now_ms() - time.time() * 1000) < 1000
    clock.url = time_server + "/api/time"
    await clock.sync()
    assert clock.synced and clock.report()["clock_offset_ms"] is not None
