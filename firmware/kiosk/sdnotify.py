"""Tell systemd the kiosk is up and still alive, with no dependency beyond the stdlib.

The kiosk unit is `Type=notify` with `WatchdogSec=`: systemd counts the kiosk as started
only once it says READY=1, and kills and restarts it when the WATCHDOG=1 pings stop. The
pings come from a task on the kiosk's own event loop and only while the kiosk's tasks are
running, so a wedged loop (a blocking call, a deadlock) or a dead scan loop is restarted
instead of leaving a door dark. Outside systemd (tests, a developer's terminal) there is
no NOTIFY_SOCKET and every call is a no-op.

The protocol is one datagram of `KEY=VALUE` lines on the unix socket named in
$NOTIFY_SOCKET (a leading '@' means the abstract namespace); see sd_notify(3).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self.sent = 0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, **fields: object) -> bool:
        """Send e.g. notify(READY=1, STATUS="connected"); True if a datagram went out."""
        if not self.address:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, target)
        except OSError as exc:  # systemd gone or socket not ours: never crash the kiosk
            log.warning("sd_notify failed: %s", exc)
            return False
        self.sent += 1
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify(READY=1, STATUS=status) if status else self.notify(READY=1)

    def stopping(self) -> bool:
        return self.notify(STOPPING=1)


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    """Half of WatchdogSec (systemd passes it as WATCHDOG_USEC), or None when not asked for.
    WATCHDOG_PID, when set, must be us: a child process must not ping for its parent."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and int(pid) != os.getpid():
        return None
    return int(usec) / 1e6 / 2


async def keep_alive(
    notifier: Notifier,
    interval_s: float | None,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Ping WATCHDOG=1 every `interval_s` while `alive()` holds; stop pinging when it does
    not, so systemd's watchdog restarts the service."""
    if interval_s is None or not notifier.enabled:
        return
    while True:
        if alive():
            notifier.notify(WATCHDOG=1)
        else:
            log.error("kiosk not alive: withholding the watchdog ping, systemd will restart it")
        await asyncio.sleep(interval_s)


# --- the kiosk as a systemd service ------------------------------------------------------
# python -m firmware.kiosk.sdnotify --config /etc/placecode/kiosk.toml
# Same kiosk as `python -m firmware.kiosk`, plus: READY/WATCHDOG/STATUS to systemd, JSON
# logs with caps (logging_setup), and scan times from the gateway's clock (timesync) when
# $PLACECODE_GATEWAY_URL is set. Exit code 2 on a bad config: the unit does not restart
# on it (RestartPreventExitStatus=2) and `systemctl status` shows the one-line reason.


async def serve(cfg, gateway_url: str | None, notifier: Notifier | None = None) -> None:
    import signal as os_signal

    from firmware.kiosk import devices
    from firmware.kiosk.kiosk import Kiosk
    from firmware.kiosk.timesync import GatewayClock

    from firmware.startup import tune_interpreter

    tune_interpreter()
    notifier = notifier or Notifier()
    clock = GatewayClock(gateway_url) if gateway_url else None
    found = devices.build(cfg)
    kiosk = Kiosk(cfg, found.source, found.signal, found.health, board=found.board,
                  **({"clock": clock.now_ms} if clock else {}))

    async def run() -> None:
        async with devices.running(found):
            await kiosk.run()

    main = asyncio.create_task(run(), name="kiosk")
    loop = asyncio.get_running_loop()
    for sig in (os_signal.SIGTERM, os_signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    helpers = [asyncio.create_task(keep_alive(notifier, watchdog_interval_s(),
                                              lambda: not main.done()))]
    if clock:
        helpers.append(asyncio.create_task(clock.run()))
    try:
        await asyncio.wait([main, asyncio.create_task(kiosk.ready.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        if kiosk.ready.is_set():
            notifier.ready(f"kiosk {cfg.kiosk} at door {cfg.door}")
            log.info("kiosk %s ready", cfg.kiosk)
        await main
    except asyncio.CancelledError:
        notifier.stopping()
    finally:
        for task in helpers:
            task.cancel()


def service_main(argv: list[str] | None = None) -> int:
    import argparse
    import sys
    from pathlib import Path

    from firmware import startup
    from firmware.kiosk import config as kiosk_config
    from firmware.kiosk import logging_setup

    parser = argparse.ArgumentParser(prog="python -m firmware.kiosk.sdnotify")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--log-level", default=os.environ.get("PLACECODE_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging_setup.setup(args.log_level)
    try:
        cfg = kiosk_config.load(args.config)
    except kiosk_config.ConfigError as exc:
        print(f"kiosk: bad config: {exc}", file=sys.stderr)
        Notifier().notify(STATUS=f"bad config: {exc}"[:200])
        return 2
    from firmware.schema import SchemaError

    try:
        startup.run(serve(cfg, os.environ.get("PLACECODE_GATEWAY_URL") or None))
    except SchemaError as exc:  # a data file this release cannot use: like a bad config
        print(f"kiosk: {exc}", file=sys.stderr)
        Notifier().notify(STATUS=str(exc)[:200])
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(service_main())
