"""Run a kiosk: python -m firmware.kiosk --config kiosk.toml"""

from __future__ import annotations

import asyncio
import signal
import sys

from firmware import startup
from firmware.kiosk import config as kiosk_config
from firmware.kiosk import devices
from firmware.kiosk.kiosk import Kiosk
from firmware.startup import configure


async def main_async(cfg: kiosk_config.KioskConfig) -> None:
    found = devices.build(cfg)
    kiosk = Kiosk(cfg, found.source, found.signal, found.health, board=found.board)

    async def run() -> None:
        async with devices.running(found):
            await kiosk.run()

    task = asyncio.create_task(run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    ready = asyncio.create_task(kiosk.ready.wait())
    await asyncio.wait((ready, task), return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if kiosk.ready.is_set():
        startup.settle_heap()
    try:
        await task
    except asyncio.CancelledError:
        pass


def main(argv: list[str] | None = None) -> int:
    cfg = configure("python -m firmware.kiosk", "kiosk", kiosk_config.load, argv)
    startup.stop_on_schema_error("kiosk", lambda: startup.run(main_async(cfg)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
