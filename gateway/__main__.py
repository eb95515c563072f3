"""Run the gateway: python -m gateway --config gateway.toml"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from firmware.kiosk.__main__ import tune_interpreter
from firmware.kiosk.config import ConfigError
from gateway import config as gateway_config
from gateway.app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = gateway_config.load(args.config)
    except ConfigError as exc:
        print(f"gateway: bad config: {exc}", file=sys.stderr)
        return 2
    tune_interpreter()
    uvicorn.run(
        create_app(cfg), host=cfg.http.host, port=cfg.http.port, log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
