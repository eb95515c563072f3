"""The whole simulated site in one command: broker, city platform, gateway, three kiosks.

Visitors of all three colours arrive at the kiosks; the terminal shows a live summary
and the console runs at the printed address. Ctrl-C stops every process cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from gateway import users
from gateway.broker import Broker
from simulators import processes

DOORS = (("kiosk-1", "east-gate"), ("kiosk-2", "west-gate"), ("kiosk-3", "shop-101"))
COLOUR_MARK = {"green": "\033[32m●\033[0m", "yellow": "\033[33m●\033[0m",
               "red": "\033[31m●\033[0m", "unknown": "\033[90m●\033[0m"}


# The demo's console users, one per role; fresh passwords every run (printed at start).
DEMO_USERS = (("duty", "zhiban", "值班员 person on duty"),
              ("manager", "fuzeren", "场所负责人 site manager"),
              ("tracer", "liudiao", "流调员 tracer"))


class Stop(Exception):
    pass


def add_demo_users(db_path: Path) -> dict[str, tuple[str, str]]:
    accounts = {}
    for role, name, _title in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        users.add_user(db_path, name, role, password)
        accounts[role] = (name, password)
    return accounts


def sign_in_text(accounts: dict[str, tuple[str, str]]) -> str:
    lines = ["控制台登录（仅本次演示有效） Console sign-in (this demo run only):"]
    for role, _name, title in DEMO_USERS:
        name, password = accounts[role]
        lines.append(f"  {title:<28} {name} / {password}")
    return "\n".join(lines)


@contextlib.contextmanager
def signed_in_client(base_url: str, account: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=2) as http:
        name, password = account
        http.post("/api/sign-in", json={"name": name, "password": password}).raise_for_status()
        yield http


def summary_line(summary: dict, kiosks: list[dict], platform: dict) -> str:
    counts = summary["counts"]
    colours = "  ".join(f"{COLOUR_MARK[c]} {c} {counts.get(c, 0)}" for c in COLOUR_MARK)
    states = " ".join(
        f"{k['kiosk']}:{'on' if k['state'] == 'online' else 'OFF'}" for k in kiosks
    )
    fwd = summary["forwarder"]
    return (
        f"entries {sum(counts.values()):5d} | {colours} | kiosks {states} | "
        f"platform records {platform.get('records', 0)} (backlog {fwd['backlog']}) | "
        f"rejected {sum(summary['rejected'].values())}"
    )


def run(work: Path, duration: float | None, rate_hz: float, http_port: int) -> int:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    started: list = []

    def stop_all(*_args: object) -> None:
        raise Stop

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    broker = Broker(work / "broker")
    try:
        broker.start()
        platform, platform_url = processes.start_platform(work)
        started.append(platform)
        gw_config = processes.gateway_config(work, "demo", broker.port, platform_url, http_port)
        accounts = add_demo_users(Path(gw_config["db_path"]))
        gateway, gateway_url = processes.start_gateway(work, gw_config)
        started.append(gateway)
        for n, (kiosk, door) in enumerate(DOORS, start=1):
            cfg = processes.kiosk_config(work, "demo", kiosk, door, broker.port,
                                         seed=n, rate_hz=rate_hz)
            started.append(processes.start_kiosk(work, cfg))
        print(f"PlaceCode simulated site running. Console 控制台: {gateway_url}/")
        print(sign_in_text(accounts))
        print(f"Logs: {work / 'logs'}   Ctrl-C stops everything.\n")
        end = time.monotonic() + duration if duration else None
        with signed_in_client(gateway_url, accounts["manager"]) as http:
            while end is None or time.monotonic() < end:
                time.sleep(1)
                for proc in started:
                    if not proc.running:
                        print(f"\n{proc.name} stopped unexpectedly:\n{proc.log_tail()}")
                        return 1
                try:
                    kiosks = http.get("/api/kiosks")
                    if kiosks.status_code == 401:  # the session ended: sign in again
                        name, password = accounts["manager"]
                        http.post("/api/sign-in", json={"name": name, "password": password})
                        kiosks = http.get("/api/kiosks")
                    line = summary_line(
                        http.get("/api/summary").json(),
                        kiosks.raise_for_status().json(),
                        httpx.get(platform_url + "/sim/stats", timeout=2).json(),
                    )
                except httpx.HTTPError as exc:
                    line = f"(console not answering: {exc})"
                print("\r" + line, end="", flush=True) if sys.stdout.isatty() else print(line)
    except Stop:
        pass
    finally:
        print("\nstopping…", flush=True)
        for proc in reversed(started):
            proc.stop()
        broker.stop()
        print("stopped.")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.site")
    parser.add_argument("--work", type=Path, default=Path("var/site"))
    parser.add_argument("--duration", type=float, default=None, help="seconds, then stop")
    parser.add_argument("--rate", type=float, default=0.7, help="visitors per second per kiosk")
    parser.add_argument("--port", type=int, default=8800, help="console port")
    args = parser.parse_args()
    return run(args.work, args.duration, args.rate, args.port)


if __name__ == "__main__":
    sys.exit(main())
