"""A gateway whose background task dies stops with a non-zero exit and the traceback in its
log, so its service manager restarts it (and the restart says why it cannot run).

Real parts: Mosquitto, the gateway process started as every site starts it (python -m
gateway), and its database file destroyed under it: a fault no retry can mend.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from firmware import mqtt_client, protocol
from gateway.broker import Broker, free_port
from simulators import processes

SITE = "supervised"


def destroy(db_path: Path) -> None:
    """Garbage over the database, its WAL and its shared index, as a failing card might."""
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        size = max(path.stat().st_size, 4096)
        with open(path, "r+b") as f:
            f.write(os.urandom(size))


async def report_status(port: int) -> None:
    """A kiosk's status: something the gateway must write."""
    async with mqtt_client.client(mqtt_client.BrokerAddress(port=port), "probe",
                                  persistent=False) as mqtt:
        msg = protocol.status("kiosk-1", "online", protocol.now_ms())
        await mqtt.publish(protocol.topic(SITE, "kiosk-1", protocol.STATUS),
                           protocol.encode(protocol.STATUS, msg), qos=1)


async def test_a_dead_background_task_stops_the_gateway_with_its_traceback(tmp_path: Path):
    with Broker(tmp_path / "broker") as broker:
        config = processes.gateway_config(tmp_path, SITE, broker.port,
                                          f"http://127.0.0.1:{free_port()}")
        gateway, _url = processes.start_gateway(tmp_path, config)
        try:
            destroy(Path(config["db_path"]))
            await report_status(broker.port)
            code = await asyncio.to_thread(gateway.popen.wait, 30)
            log = gateway.log_path.read_text(errors="replace")
        finally:
            gateway.kill()
    assert code == 1, log[-3000:]
    assert "background task" in log and "died" in log, log[-3000:]
    assert "Traceback (most recent call last)" in log
    assert "file is not a database" in log

    # Started again by its service manager, it stops at once with one line naming the file
    # (exit 2: restarting cannot mend it; the unit does not loop).
    restarted = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(tmp_path / "gateway.toml")],
        cwd=processes.ROOT, capture_output=True, text=True, timeout=60,
    )
    assert restarted.returncode == 2, restarted.stderr[-3000:]
    assert "gateway.sqlite: not a usable SQLite database" in restarted.stderr
    assert "Traceback" not in restarted.stderr
