"""Run the gateway: python -m gateway --config gateway.toml"""

from __future__ import annotations

import sys

import uvicorn

from firmware.startup import configure
from gateway import config as gateway_config
from gateway.app import create_app


def main(argv: list[str] | None = None) -> int:
    cfg = configure("python -m gateway", "gateway", gateway_config.load, argv)
    uvicorn.run(
        create_app(cfg, settle_heap=True), host=cfg.http.host, port=cfg.http.port,
        log_level="warning", access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
