"""The kiosk as benchmarks run it: the production process (firmware/kiosk/process.py)
started through the simulators' entry point, readings written to its standard input,
each verdict read back from its standard output (simulators/kiosk.py, scripted input).

Latency is taken by the kiosk itself on the system's monotonic clock: from the moment its
input hands over the reading (as a camera's decoder or the card reader would) to the
moment its lights show the verdict. The pipe that carries the reading in is the
benchmark's own, not the kiosk's, and stays out of the figure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from firmware import mqtt_client, protocol
from firmware.kiosk.reading import Reading
from simulators import processes

RAM_DISK = "/dev/shm"


class KioskProcess:
    def __init__(self, work: Path, config: dict, own_disk: bool = False) -> None:
        """`own_disk`: the kiosk's data on a RAM-backed filesystem rather than the disk the
        gateway and broker write to. On a site the kiosk is another machine with its own
        storage; on one test machine a gateway storing thousands of scans a second makes
        every fsync of the kiosk's outbox wait behind its own (hundreds of milliseconds),
        which no site sees. Costs nothing to the kiosk's path but its fsync's own time."""
        config = dict(config, input={"kind": "scripted"}, signal={"kind": "lights"})
        self.ram_dir: Path | None = None
        if own_disk and Path(RAM_DISK).is_dir():
            self.ram_dir = Path(tempfile.mkdtemp(prefix=f"{config['kiosk']}-", dir=RAM_DISK))
            config["data_dir"] = str(self.ram_dir)
        self.config = config
        self.path = processes.write_toml(work / f"{config['kiosk']}.toml", config)
        self.log_path = work / "logs" / f"{config['kiosk']}.log"
        self.outbox_path = Path(config["data_dir"]) / "outbox.sqlite"
        self.proc: asyncio.subprocess.Process | None = None
        self.shown = 0

    async def start(self) -> KioskProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "simulators.kiosk", "--config", str(self.path),
                "--log-level", "WARNING",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                cwd=processes.ROOT, env=dict(os.environ, PYTHONPATH=str(processes.ROOT)),
            )
        return self

    async def connected(self, timeout: float = 20.0) -> None:
        """Until the kiosk's retained status says online: it has its broker session."""
        cfg = self.config
        address = mqtt_client.BrokerAddress(cfg["broker"]["host"], cfg["broker"]["port"])
        topic = protocol.topic(cfg["site"], cfg["kiosk"], protocol.STATUS)
        async with asyncio.timeout(timeout):
            async with mqtt_client.client(address, f"bench-watch-{cfg['kiosk']}",
                                          persistent=False) as client:
                await client.subscribe(topic, qos=1)
                async for message in client.messages:
                    if json.loads(bytes(message.payload)).get("state") == "online":
                        return

    async def scan(self, reading: Reading, timeout: float = 15.0) -> tuple[float, dict]:
        """Present one reading; (milliseconds from its arrival in the kiosk until the
        verdict was shown, the verdict)."""
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        line = json.dumps({"method": reading.method, "credential": reading.credential,
                           "medium": reading.medium, "name": reading.name}) + "\n"
        self.proc.stdin.write(line.encode())
        await self.proc.stdin.drain()
        received = None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise RuntimeError(f"kiosk exited: see {self.log_path}")
                report = json.loads(raw)
                if "received_ns" in report:
                    received = report["received_ns"]
                    continue
                break
        assert received is not None, "the kiosk showed a verdict before taking a reading"
        self.shown += 1
        return (report["shown_ns"] - received) / 1e6, report

    def backlog(self) -> int:
        """Scans in the kiosk's outbox, read as a second reader of its file."""
        db = sqlite3.connect(f"file:{self.outbox_path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            db.close()

    async def stop(self) -> int | None:
        try:
            return await self._stop()
        finally:
            if self.ram_dir is not None:
                shutil.rmtree(self.ram_dir, ignore_errors=True)

    async def _stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode
