"""How a PlaceCode host process starts (kiosk, gateway): command line, logging, its one
validated config file, interpreter tuning. A bad config ends the process with exit code 2
and one line naming the key, so a service manager shows the reason and does not loop; so
does a data file this release cannot use (firmware/schema.py: a failed migration, a file
from a newer release, a damaged file), naming the file and the versions."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TypeVar

from firmware.config_file import ConfigError
from firmware.schema import SchemaError

T = TypeVar("T")


def tune_interpreter() -> None:
    """SQLite runs on helper threads (aiosqlite); with CPython's default 5 ms GIL switch
    interval a message arriving while such a thread holds the GIL can wait up to 5 ms.
    One millisecond keeps the door's path short at a negligible cost."""
    sys.setswitchinterval(0.001)


def settle_heap() -> None:
    """Call once a process is up. What it holds by then (modules, config, the app) lives as
    long as the process, yet every full collection walks it again, tens of milliseconds
    during which a visitor's verdict waits. Frozen, it is never walked; collections see only
    what the process makes afterwards."""
    gc.collect()
    gc.freeze()


def run(main: Coroutine[object, object, T]) -> T:
    """Run a host process's event loop: libuv's (uvloop) where it is installed, asyncio's
    own elsewhere (no wheel for 32-bit Pi OS). Every MQTT message costs a few turns of the
    loop, and uvloop's turns are several times cheaper. The gateway gets the same loop from
    uvicorn, which picks uvloop whenever it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def stop_on_schema_error(name: str, call: Callable[[], T]) -> T:
    """call(), but a SchemaError ends the process: one line on stderr, exit code 2."""
    try:
        return call()
    except SchemaError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def configure(prog: str, name: str, load: Callable[[Path], T], argv: list[str] | None) -> T:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"{name}: bad config: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    tune_interpreter()
    return cfg
