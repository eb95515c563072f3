"""Run a kiosk: python -m firmware.kiosk --config kiosk.toml"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from firmware.kiosk import config as kiosk_config
from firmware.kiosk import devices
from firmware.kiosk.kiosk import Kiosk


def tune_interpreter() -> None:
    """SQLite runs on helper threads (aiosqlite); with CPython's default 5 ms GIL switch
    interval a verdict arriving while such a thread holds the GIL can wait up to 5 ms.
    One millisecond keeps the door's path short at a negligible cost."""
    sys.setswitchinterval(0.001)


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
    try:
        await task
    except asyncio.CancelledError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware.kiosk")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = kiosk_config.load(args.config)
    except kiosk_config.ConfigError as exc:
        print(f"kiosk: bad config: {exc}", file=sys.stderr)
        return 2
    tune_interpreter()
    asyncio.run(main_async(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
