"""Runs the site's Mosquitto broker from the repository's config file.

The demo, the tests and the benchmarks all start the same real broker through this
module, so what they measure is what a site runs. On a real site Mosquitto runs as a
system service with the same config (docs/install.md).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from firmware.signed.signedlist import MAX_DOCUMENT

CONFIG_TEMPLATE = Path(__file__).with_name("broker") / "mosquitto.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Topic, properties and the MQTT header around the largest payload.
PACKET_OVERHEAD = 4096


def render_config(port: int, data_dir: Path, auth_lines: str = "",
                  log_file: Path | None = None) -> str:
    user = getpass.getuser()
    return CONFIG_TEMPLATE.read_text().format(
        port=port,
        message_size_limit=MAX_DOCUMENT,
        max_packet_size=MAX_DOCUMENT + PACKET_OVERHEAD,
        data_dir=data_dir,
        allow_anonymous="false" if auth_lines else "true",
        auth_lines=auth_lines,
        log_dest=f"file {log_file}" if log_file else "stderr",
        # Running as root, Mosquitto would switch to the 'mosquitto' user and lose access
        # to a data folder the caller owns; stay the calling user instead.
        user_line=f"user {user}",
    )


class Broker:
    """A Mosquitto process on loopback with persistence in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None, auth_lines: str = "") -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.auth_lines = auth_lines
        self.process: subprocess.Popen | None = None
        self.log_file = self.data_dir / "mosquitto.log"

    @staticmethod
    def executable() -> str:
        found = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
            None,
        )
        if not found:
            raise RuntimeError("mosquitto not found: run scripts/setup (apt package 'mosquitto')")
        return found

    def start(self, timeout: float = 10.0) -> Broker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(render_config(self.port, self.data_dir, self.auth_lines, self.log_file))
        self.process = subprocess.Popen(
            [self.executable(), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
