"""A kiosk whose background task dies stops with exit code 1 and the traceback in its
log, so systemd restarts it (deploy/ci-boot shows the restart under real systemd).

Real parts: Mosquitto, the gateway and platform simulator, the kiosk process as every site
starts it (here through the simulators' entry point, with scripted input), and its outbox
destroyed under it: a fault no retry can mend.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bench.kiosk_process import KioskProcess
from firmware.kiosk.reading import Reading
from simulators import processes
from simulators.population import first_of_colour
from tests.test_gateway_supervision import destroy

SITE = "test-site"


async def test_a_dead_kiosk_task_ends_the_process_with_its_traceback(tmp_path: Path, broker,
                                                                      gateway):
    kiosk = KioskProcess(tmp_path, processes.kiosk_config(tmp_path, SITE, "kiosk-1", "door-1",
                                                          broker.port))
    await kiosk.start()
    try:
        await kiosk.connected()
        green = Reading("code", first_of_colour(7, "green").code_url, medium="screen")
        _ms, shown = await kiosk.scan(green)
        assert shown["action"] == "open"

        destroy(kiosk.outbox_path)
        for _ in range(3):  # the door goes on; the outbox's next read or write fails
            try:
                await kiosk.scan(green, timeout=5)
            except (RuntimeError, TimeoutError, json.JSONDecodeError):
                break
        assert kiosk.proc is not None
        code = await asyncio.wait_for(kiosk.proc.wait(), 30)
    finally:
        await kiosk.stop()
    log = kiosk.log_path.read_text(errors="replace")
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    fatal = [e for e in entries if e["level"] == "CRITICAL"]
    assert code == 1, log[-3000:]
    assert fatal and "kiosk task failed" in fatal[0]["msg"], log[-3000:]
    assert "Traceback (most recent call last)" in fatal[0]["traceback"]
    assert "DatabaseError" in fatal[0]["msg"] or "database" in fatal[0]["msg"], fatal[0]
