"""Run the gateway: python -m gateway --config gateway.toml"""

from __future__ import annotations

import sys

import uvicorn

from firmware import schema
from firmware.startup import configure, stop_on_schema_error
from gateway import config as gateway_config
from gateway.app import DATABASE, create_app


def main(argv: list[str] | None = None) -> int:
    cfg = configure("python -m gateway", "gateway", gateway_config.load, argv)
    # Migrated before serving: the web server would turn a failure into a traceback.
    stop_on_schema_error("gateway", lambda: schema.migrate_file(cfg.db_path, *DATABASE))
    uvicorn.run(
        create_app(cfg, settle_heap=True), host=cfg.http.host, port=cfg.http.port,
        log_level="warning", access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
