"""The kiosk as a service survives a killed process and unplugged devices, and says so.

A supervisor restarts the kiosk process whenever it ends (what `Restart=always` does on a
Pi); the ID-card reader and the door board are the project's simulators on real
pseudo-terminals behind stable symlinked paths (what udev's /dev/placecode-reader and
/dev/placecode-board are). The test reads what the console reads: the kiosk's retained
status message on the real broker — online/offline, and each device's health.

The kiosk process here is the kiosk wired with the real reader and board drivers
(DEVICE_KIOSK below: the kiosk plus IdCardSource and BoardLink sharing one Health, as
firmware/kiosk/devices.py assembles them), written out so the test controls the retry timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import aiomqtt
import pytest

from firmware import protocol
from gateway.broker import Broker
from simulators import processes
from simulators.board import BoardSimulator
from simulators.idcard_reader import ReaderSimulator

REPO = Path(__file__).resolve().parent.parent
SITE = "fault-site"
KIOSK = "kiosk-f"

DEVICE_KIOSK = """
import asyncio, sys
from pathlib import Path
from typing import Self
from firmware import logging_setup
from firmware.kiosk import config as kiosk_config
from firmware.kiosk.board import BoardLink, DoorEventStore, BoardError
from firmware.kiosk.health import Health
from firmware.kiosk.idcard.source import IdCardSource
from firmware.kiosk.kiosk import Kiosk
from simulators.lights import SimulatedLights

async def board_forever(path, store, health):
    while True:  # the board may be absent at start; keep trying, as the health says
        link = BoardLink(path, store, health)
        try:
            await link.start(timeout=1.0)
        except (BoardError, OSError) as exc:
            health.report("board", False, "absent")
            await asyncio.sleep(1.0)
            continue
        await asyncio.Event().wait()

async def main(cfg_path, reader, board):
    logging_setup.setup("INFO")
    cfg = kiosk_config.load(Path(cfg_path))
    health = Health()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    store = DoorEventStore(cfg.data_dir / "board.sqlite")
    kiosk = Kiosk(cfg, IdCardSource(reader, health), SimulatedLights(), health)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(kiosk.run())
        tasks.create_task(board_forever(board, store, health))

asyncio.run(main(*sys.argv[1:]))
"""


class Supervisor:
    """Restart=always, RestartSec=0.3: starts the kiosk again whenever it ends."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args, self.log = args, log
        self.popen: subprocess.Popen | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with open(self.log, "ab") as out:
                self.popen = subprocess.Popen(
                    [sys.executable, "-c", DEVICE_KIOSK, *self.args], cwd=REPO, stdout=out,
                    stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(REPO)),
                    start_new_session=True)
            self.starts += 1
            self.popen.wait()
            self._stop.wait(0.3)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def kill(self) -> int:
        pid = self.popen.pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        self._stop.set()
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        self._thread.join(15)


class StatusWatch:
    """The kiosk's retained status topic, as the console sees it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latest: dict = {}
        self.history: list[dict] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        topic = protocol.topic(SITE, KIOSK, protocol.STATUS)
        async with aiomqtt.Client("127.0.0.1", self.port, identifier="watch") as client:
            await client.subscribe(topic, qos=1)
            async for message in client.messages:
                self.latest = json.loads(message.payload)
                self.history.append(self.latest)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task

    async def until(self, what: str, check, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.latest and check(self.latest):
                return self.latest
            await asyncio.sleep(0.05)
        raise AssertionError(f"kiosk status never showed {what}; last: {self.latest}")


def healthy(status: dict) -> bool:
    h = status.get("health", {})
    return status["state"] == "online" and h.get("reader") == "ok" and h.get("board") == "ok"


def part_fault(part: str):
    return lambda s: (
        s["state"] == "online" and s.get("health", {}).get(part, "").startswith("fault")
    )


@pytest.fixture
def site(tmp_path: Path):
    with Broker(tmp_path / "broker") as broker:
        reader = ReaderSimulator(tmp_path / "placecode-reader", rf_scale=0).start()
        board = BoardSimulator(link_path=str(tmp_path / "placecode-board")).start()
        cfg = processes.write_toml(tmp_path / "kiosk.toml", processes.kiosk_config(
            tmp_path, SITE, KIOSK, "door-1", broker.port) | {"status_interval_s": 1.0})
        supervisor = Supervisor([str(cfg), reader.path, str(tmp_path / "placecode-board")],
                                tmp_path / "kiosk.log").start()
        state = {"broker": broker, "reader": reader, "board": board, "kiosk": supervisor,
                 "tmp": tmp_path}
        try:
            yield state
        finally:
            supervisor.stop()
            state["reader"].stop()
            with contextlib.suppress(OSError):
                state["board"].stop()


async def test_killed_kiosk_and_unplugged_reader_recover_and_faults_show(site):
    kiosk = site["kiosk"]
    async with StatusWatch(site["broker"].port) as watch:
        await watch.until("online with reader and board ok", healthy, 30)

        # 1. The kiosk process is killed: offline at once (last will), then back by itself.
        t0 = time.monotonic()
        killed = kiosk.kill()
        await watch.until("offline after kill -9", lambda s: s["state"] == "offline", 15)
        t_offline = time.monotonic() - t0
        await watch.until("online again with devices ok", healthy, 30)
        print(f"kill -9: offline shown after {t_offline:.2f} s, "
              f"back online and healthy after {time.monotonic() - t0:.2f} s")
        assert kiosk.popen.pid != killed and kiosk.starts == 2

        # 2. The reader's cable is pulled: the fault shows while it lasts, then clears.
        t0 = time.monotonic()
        site["reader"].unplug()
        status = await watch.until("reader fault", part_fault("reader"))
        print(f"reader unplugged: fault shown after {time.monotonic() - t0:.2f} s")
        assert "unplugged" in status["health"]["reader"] and status["health"]["board"] == "ok"
        site["reader"].plug()
        await watch.until("reader ok again", healthy)

        # 3. The board's cable is pulled (its port vanishes): the fault shows; plugged back
        #    (a new board boot behind the same path), it is found again.
        t0 = time.monotonic()
        site["board"].stop()
        status = await watch.until("board fault", part_fault("board"))
        print(f"board unplugged: fault shown after {time.monotonic() - t0:.2f} s")
        assert status["health"]["reader"] == "ok"
        t0 = time.monotonic()
        site["board"] = BoardSimulator(link_path=str(site["tmp"] / "placecode-board")).start()
        await watch.until("board ok again", healthy, 15)
        print(f"board plugged back: ok after {time.monotonic() - t0:.2f} s")

        # 4. Both at once, then back: both faults show together, both clear.
        site["reader"].unplug()
        site["board"].stop()
        await watch.until("reader and board faults", lambda s: part_fault("reader")(s)
                          and part_fault("board")(s))
        site["reader"].plug()
        site["board"] = BoardSimulator(link_path=str(site["tmp"] / "placecode-board")).start()
        await watch.until("both ok again", healthy, 15)
        assert kiosk.starts == 2  # the devices recovered without restarting the kiosk
        assert kiosk.popen.poll() is None
