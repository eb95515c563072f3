"""Starting and stopping the site's processes: for the demo, the tests and the benchmarks.

Each part runs as its own OS process, as on a site, so killing one (kill -9 included)
affects only that part. Configs are written as TOML files, exactly as an installer would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.broker import free_port

ROOT = Path(__file__).resolve().parent.parent


def toml_value(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_toml(path: Path, config: dict) -> Path:
    """Write a two-level dict as TOML (tables for nested dicts)."""
    top = [f"{k} = {toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    tables = [
        f"\n[{k}]\n" + "\n".join(f"{kk} = {toml_value(vv)}" for kk, vv in v.items())
        for k, v in config.items()
        if isinstance(v, dict)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(top) + "\n" + "\n".join(tables) + "\n")
    return path


class Process:
    """One child process running `python -m <module> <args>`, logging to a file."""

    def __init__(self, name: str, module: str, args: list[str], log_dir: Path) -> None:
        self.name = name
        self.module = module
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C in the terminal reaches the orchestrator only
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen = None

    def kill(self) -> None:
        """kill -9 the process and every process it started (its session), as a crash of
        the machine or `systemctl kill` would: no helper outlives it."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        self.popen = None

    def pause(self) -> None:
        """SIGSTOP the process and every process it started: frozen, sockets open, as a
        machine stalled on its storage or swapping would be."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGCONT)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_http(url: str, process: Process, timeout: float = 20.0, verify: object = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running:
            raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        try:
            if httpx.get(url, timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} did not answer {url}:\n{process.log_tail()}")


def start_platform(work: Path, seed: int = 7, port: int | None = None) -> tuple[Process, str]:
    port = port or free_port()
    proc = Process(
        "platform", "simulators.platform",
        ["--port", str(port), "--db", str(work / "platform.sqlite"), "--seed", str(seed)],
        work / "logs",
    ).start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", proc)
    return proc, url


def start_notifier(work: Path, secret: str | None = None) -> tuple[Process, str]:
    """The site manager's webhook receiver and SMS gateway (simulators/notifier.py)."""
    port = free_port()
    proc = Process("notifier", "simulators.notifier",
                   ["--port", str(port), *(["--secret", secret] if secret else [])],
                   work / "logs").start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", proc)
    return proc, url


def gateway_config(work: Path, site: str, broker_port: int, platform_url: str,
                   http_port: int | None = None, **platform: object) -> dict:
    return {
        "site": site,
        "db_path": str(work / "gateway.sqlite"),
        "pseudonym_key": "demo-key-change-me-0123456789",
        "broker": {"host": "127.0.0.1", "port": broker_port},
        "platform": {"url": platform_url, **platform},
        "http": {"host": "127.0.0.1", "port": http_port or free_port()},
    }


def start_gateway(work: Path, config: dict, ca_file: Path | None = None) -> tuple[Process, str]:
    """The gateway process; its URL on loopback (https when the config gives it a
    certificate, which `ca_file` verifies)."""
    path = write_toml(work / "gateway.toml", config)
    proc = Process("gateway", "gateway", ["--config", str(path)], work / "logs").start()
    scheme = "https" if config["http"].get("tls_cert") else "http"
    url = f"{scheme}://127.0.0.1:{config['http']['port']}"
    verify: object = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    deadline = time.monotonic() + 20
    while True:  # up, and connected to the broker
        wait_http(url + "/healthz", proc, verify=verify)
        if httpx.get(url + "/healthz", timeout=1, verify=verify).json()["mqtt_connected"]:
            return proc, url
        if time.monotonic() > deadline:
            raise RuntimeError(f"gateway never connected to the broker:\n{proc.log_tail()}")
        time.sleep(0.05)


def kiosk_config(work: Path, site: str, kiosk: str, door: str, broker_port: int,
                 **input_options: object) -> dict:
    return {
        "site": site,
        "kiosk": kiosk,
        "door": door,
        "data_dir": str(work / kiosk),
        "broker": {"host": "127.0.0.1", "port": broker_port},
        "input": {"kind": "simulated", **input_options},
        "signal": {"kind": "lights"},
    }


def start_kiosk(work: Path, config: dict) -> Process:
    path = write_toml(work / f"{config['kiosk']}.toml", config)
    return Process(config["kiosk"], "simulators.kiosk", ["--config", str(path)],
                   work / "logs").start()
