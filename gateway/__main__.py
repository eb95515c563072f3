"""Run the gateway: python -m gateway --config gateway.toml

The one way the gateway starts, on a site (systemd), in the demo, the tests and the
benchmarks: logging and the interpreter set up (firmware/startup.py), the app served by
uvicorn, which handles SIGTERM and SIGINT by shutting down cleanly, and the heap settled
once the app is up. Exit codes: 0 after a requested stop, 1 when a background task died
(logged with its traceback), 2 for a bad config, 3 when the app could not start.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from firmware import schema
from firmware.startup import configure, stop_on_schema_error
from firmware.supervise import TaskDied
from gateway import config as gateway_config
from gateway.app import DATABASE, create_app

log = logging.getLogger("gateway")

TASK_DIED = 1
STARTUP_FAILED = 3


def main(argv: list[str] | None = None) -> int:
    cfg = configure("python -m gateway", "gateway", gateway_config.load, argv)
    # Migrated before serving: the web server would turn a failure into a traceback.
    stop_on_schema_error("gateway", lambda: schema.migrate_file(cfg.db_path, *DATABASE))
    died: list[TaskDied] = []

    def on_death(task_died: TaskDied) -> None:
        died.append(task_died)
        server.should_exit = True

    ssl_certfile = ssl_keyfile = None
    if cfg.http.tls_cert is not None:
        ssl_certfile, ssl_keyfile = str(cfg.http.tls_cert), str(cfg.http.tls_key)
    app = create_app(cfg, settle_heap=True, on_death=on_death)
    # No proxy sits in front of a gateway: the peer address is the client's, and
    # gateway/web_security.py trusts loopback peers, so no forwarded headers are read.
    server = uvicorn.Server(uvicorn.Config(
        app, host=cfg.http.host, port=cfg.http.port, log_level="warning", access_log=False,
        proxy_headers=False, server_header=False,
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
    ))
    server.run()
    if died:
        log.critical("stopped: %s", died[0])
        return TASK_DIED
    return 0 if server.started else STARTUP_FAILED


if __name__ == "__main__":
    sys.exit(main())
