"""Tell systemd a service is up and still alive, with no dependency beyond the stdlib.

The kiosk unit is `Type=notify` with `WatchdogSec=`: systemd counts the kiosk as started
only once it says READY=1, and kills and restarts it when the WATCHDOG=1 pings stop. The
pings come from a task on the process's own event loop, so a wedged loop (a blocking call,
a deadlock) is restarted instead of leaving a door dark. Outside systemd (tests, a
developer's terminal) there is no NOTIFY_SOCKET and every call is a no-op.

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
            log.error("not alive: withholding the watchdog ping, systemd will restart it")
        await asyncio.sleep(interval_s)
