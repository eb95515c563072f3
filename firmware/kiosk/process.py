"""The kiosk process, the one way a kiosk runs: on a site under systemd, in the demo, in
the tests and in the benchmarks.

`python -m firmware.kiosk --config kiosk.toml` builds the real devices; the simulators
start this same process through `python -m simulators.kiosk`, which passes in their own
devices. Everything a process needs is here once: JSON logs, the config (exit 2 with one
line naming the key), scan times from the gateway's clock, interpreter tuning, heap
settling once up, SIGTERM/SIGINT, READY and watchdog pings to systemd, and supervision:
a task that dies is logged with its traceback and the process exits 1 so systemd
restarts it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from firmware import logging_setup, sdnotify, startup
from firmware.config_file import ConfigError
from firmware.kiosk import config as kiosk_config
from firmware.kiosk import devices as hardware
from firmware.kiosk.health import Health
from firmware.kiosk.kiosk import Clock, Kiosk, SystemClock
from firmware.kiosk.timesync import GatewayClock, gateway_client_options
from firmware.schema import SchemaError

log = logging.getLogger("firmware.kiosk")

BuildDevices = Callable[[kiosk_config.KioskConfig, Health], hardware.Devices]

EXIT_BAD_CONFIG = 2  # the unit does not restart on it (RestartPreventExitStatus=2)
EXIT_TASK_DIED = 1


def main(argv: list[str] | None = None, *, build_devices: BuildDevices = hardware.build,
         simulators: bool = False, prog: str = "python -m firmware.kiosk") -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--log-level", default=os.environ.get("PLACECODE_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging_setup.setup(args.log_level)
    notifier = sdnotify.Notifier()
    try:
        cfg = kiosk_config.load(args.config)
        simulated = kiosk_config.simulated_devices(cfg)
        if simulated and not simulators:
            raise ConfigError(f"{args.config}: {', '.join(simulated)} is a simulator; an "
                              "installed kiosk runs real devices (input.kind = 'camera', "
                              "signal.kind = 'board')")
    except ConfigError as exc:
        print(f"kiosk: bad config: {exc}", file=sys.stderr)
        notifier.notify(STATUS=f"bad config: {exc}"[:200])
        return EXIT_BAD_CONFIG
    startup.tune_interpreter()
    gateway_url = os.environ.get("PLACECODE_GATEWAY_URL") or None
    try:
        return startup.run(serve(cfg, build_devices, gateway_url, notifier))
    except SchemaError as exc:  # a data file this release cannot use: like a bad config
        print(f"kiosk: {exc}", file=sys.stderr)
        notifier.notify(STATUS=str(exc)[:200])
        return EXIT_BAD_CONFIG


async def serve(cfg: kiosk_config.KioskConfig, build_devices: BuildDevices,
                gateway_url: str | None, notifier: sdnotify.Notifier) -> int:
    """Run the kiosk until SIGTERM/SIGINT (exit 0) or until one of its tasks dies (1)."""
    health = Health()
    found = build_devices(cfg, health)
    gateway_clock = None
    if gateway_url:  # its broker login signs the calls, the site CA checks the gateway
        b = cfg.broker
        gateway_clock = GatewayClock(gateway_url, client_options=gateway_client_options(
            gateway_url, b.username, b.password, b.ca_file))
    clock: Clock = gateway_clock or SystemClock()
    kiosk = Kiosk(cfg, found.source, found.signal, health, clock=clock, counter=found.counter,
                  thermometer=found.thermometer, keyed=found.keyed)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    async def until_stopped() -> None:
        await stopping.wait()
        raise _Stop

    async def announce_ready() -> None:
        await kiosk.ready.wait()
        startup.settle_heap()
        notifier.ready(f"kiosk {cfg.kiosk} at door {cfg.door}")
        log.info("kiosk %s ready at door %s", cfg.kiosk, cfg.door)

    failed: list[BaseException] = []
    unusable: list[BaseException] = []  # data files this release cannot use
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(until_stopped(), name="signals")
            tasks.create_task(kiosk.run(), name="kiosk")
            tasks.create_task(announce_ready(), name="ready")
            tasks.create_task(sdnotify.keep_alive(notifier, sdnotify.watchdog_interval_s()),
                              name="watchdog")
            if gateway_clock is not None:
                tasks.create_task(gateway_clock.run(), name="gateway-clock")
            for start in found.tasks:
                tasks.create_task(_run(start), name="device")
    except* _Stop:
        pass
    except* SchemaError as group:
        unusable.extend(group.exceptions)
    except* Exception as group:
        failed.extend(_leaves(group))
    if unusable:
        raise unusable[0]
    notifier.stopping()
    for exc in failed:
        log.critical("kiosk task failed; exiting for a restart", exc_info=exc)
    if failed:
        return EXIT_TASK_DIED
    log.info("kiosk %s stopped", cfg.kiosk)
    return 0


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside nested task groups: each is what one task died of."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


class _Stop(Exception):
    """SIGTERM or SIGINT: stop every task of the kiosk cleanly."""


async def _run(start: Callable[[], Awaitable[None]]) -> None:
    await start()
