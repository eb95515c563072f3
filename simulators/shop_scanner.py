"""A GM65/GM805-class QR scanner engine on a pseudo-terminal, byte for byte.

The shop unit's UART (or its test bridge) opens the pty's slave by path, as it would a
USB-serial adapter wired to the module. Like the module, the simulator takes zone-bit
commands (7E 00 | type | len | addr | data | CRC16-XMODEM or AB CD; firmware/shop/scanner.py)
and answers 02 00 00 01 00 + CRC; in continuous mode a presented code goes out at once as
its bytes + CR, in trigger mode only after a trigger command, and in manual mode never
(the module's button is not wired). Bytes leave no faster than the baud rate allows.
Garbage, over-long lines, invalid UTF-8 and partial lines are sent on request.

Run `python -m simulators.shop_scanner --link /tmp/gm65` and type on stdin:
`scan TEXT` | `raw HEX` | `state` | `quit`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import threading
import time
import tty
from pathlib import Path
from typing import Self

from firmware.shop import scanner as proto

MODES = {v: k for k, v in proto.MODES.items()}


class ScannerModule:
    """One module behind a pty; `path` is the slave (a symlink if `link` is given)."""

    def __init__(self, link: Path | None = None, baud: int = 115200) -> None:
        self.baud = baud
        self.zones: dict[int, int] = {proto.ZONE_SETTINGS: proto.settings_byte("manual")}
        self.commands: list[tuple[int, int, bytes]] = []  # (type, address, data) received
        self.bad_commands = 0
        self.saved = 0
        self._queued: list[bytes] = []  # codes waiting for a trigger
        self._lock = threading.Lock()
        self._master, slave = os.openpty()
        tty.setraw(slave)
        self._slave_name = os.ttyname(slave)
        os.close(slave)  # the driver opens it by path
        self._keep = os.open(self._slave_name, os.O_RDWR | os.O_NOCTTY)  # pty stays open
        self.link = link
        if link is not None:
            tmp = link.with_name(link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self._slave_name)
            tmp.replace(link)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="gm65", daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return str(self.link) if self.link else self._slave_name

    @property
    def mode(self) -> str:
        return MODES[self.zones[proto.ZONE_SETTINGS] & 3]

    @property
    def light(self) -> int:
        return self.zones[proto.ZONE_SETTINGS] >> 4 & 3

    @property
    def beep(self) -> bool:
        return not self.zones[proto.ZONE_SETTINGS] & proto.ZONE0_MUTE

    # --- what a person does ---------------------------------------------------------------

    def present(self, code: str | bytes) -> None:
        """A phone held up to the window: the code is read and sent as a line."""
        data = code.encode() if isinstance(code, str) else code
        with self._lock:
            if self.mode == "continuous":
                self._send(data + b"\r")
            elif self.mode == "trigger":
                self._queued.append(data)

    def send_raw(self, data: bytes) -> None:
        """Bytes on the line as they are (noise, a cut-off line, a bad answer)."""
        with self._lock:
            self._send(data)

    def _send(self, data: bytes) -> None:
        for i in range(0, len(data), 64):
            chunk = data[i:i + 64]
            with contextlib.suppress(OSError):
                os.write(self._master, chunk)
            time.sleep(len(chunk) * 10 / self.baud)

    # --- the module's side of the command protocol -----------------------------------------

    def _serve(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                buf += os.read(self._master, 4096)
            except OSError:
                return
            buf = self._commands(buf)

    def _commands(self, buf: bytes) -> bytes:
        while True:
            start = buf.find(proto.HEAD_COMMAND)
            if start < 0:
                return buf[-1:] if buf.endswith(b"\x7e") else b""
            buf = buf[start:]
            if len(buf) < 6 or len(buf) < 8 + buf[3]:
                return buf
            n = buf[3]
            body, crc = buf[2:6 + n], buf[6 + n:8 + n]
            buf = buf[8 + n:]
            if crc != proto.NO_CRC and int.from_bytes(crc, "big") != proto.crc16(body):
                self.bad_commands += 1
                continue
            kind, address, data = body[0], body[2] << 8 | body[3], body[4:]
            self.commands.append((kind, address, bytes(data)))
            with self._lock:
                if kind == proto.WRITE:
                    for i, value in enumerate(data):
                        self.zones[address + i] = value
                    if address == proto.ZONE_TRIGGER and data[:1] == b"\x01":
                        self._triggered()
                    else:
                        self._send(proto.answer())
                elif kind == proto.SAVE:
                    self.saved += 1
                    self._send(proto.answer())
                elif kind == proto.READ:
                    self._send(proto.answer(data=bytes(
                        self.zones.get(address + i, 0) for i in range(data[0] or 1))))

    def _triggered(self) -> None:
        self._send(proto.answer())
        if self._queued:
            self._send(self._queued.pop(0) + b"\r")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self._master, self._keep):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--link", type=Path, default=Path("/tmp/placecode-gm65"),
                        help="symlink path the unit's UART bridge opens")
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args(argv)
    with ScannerModule(args.link, args.baud) as module:
        print(f"scanner module at {module.path}; scan TEXT | raw HEX | state | quit", flush=True)
        for line in sys.stdin:
            cmd, _, rest = line.strip().partition(" ")
            if cmd == "scan":
                module.present(rest)
            elif cmd == "raw":
                module.send_raw(bytes.fromhex(rest))
            elif cmd == "state":
                print(f"mode {module.mode} light {module.light} beep {module.beep}"
                      f" commands {len(module.commands)} bad {module.bad_commands}", flush=True)
            elif cmd == "quit":
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
