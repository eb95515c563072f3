"""The shop unit's real firmware under real MicroPython (WebAssembly, in Node), wired to
real things: its sockets are TCP connections to the real broker, its UART is the scanner
module simulator's pty, and its LED, buzzer and relay land on a timeline.

firmware/tests/shop_node.mjs runs the firmware; each UART, pin, wait and socket call of
firmware/shop/sim_board.py arrives here as one JSON line and is answered with one. A
blocking socket read blocks here (up to the socket's timeout), a wait waits on the pty and
the socket with select, so the firmware's timing is its own plus one pipe round trip.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
BLOCKING_CAP_S = 30.0  # a "blocking" read that waits this long is reported as a timeout


@dataclass
class Show:
    """One verdict as a person at the door saw and heard it."""

    leds: tuple[int, int]  # (red, green) when it came on
    at: float  # monotonic time it came on
    first_on_s: float | None = None  # how long the LED stayed on first (pattern)
    tones: list[int] = field(default_factory=list)  # buzzer frequencies, pauses left out

    @property
    def light(self) -> str:
        return {(0, 1): "green", (1, 1): "amber", (1, 0): "red"}[self.leds]


class ShopUnit:
    """One unit. `flash`: a host folder holding the unit's flash (/flash), loaded at start
    and written back when the unit stops; `heap_probe`: measure the live heap (slow)."""

    def __init__(self, cfg: dict, scanner_path: str, log_path: Path,
                 heap: int = 256 * 1024, mode: str = "main", count: int = 0,
                 heap_probe: bool = False, flash: Path | None = None) -> None:
        self.cfg = cfg
        self.heap_probe = heap_probe
        # harness clock: code line handed to the firmware -> LED on, and the bare marks
        self.scan_latencies: list[float] = []
        self.marks: list[float] = []
        self._last_rx = 0.0
        self._leds: object = (0, 0)
        self.scanner_path = scanner_path
        self.log_path = log_path
        self.timeline: list[tuple[float, str, object]] = []
        self.latencies_us: list[int] = []
        self.report: dict | None = None
        self.stopping = False
        self.online = threading.Event()  # set at each retained status publish (connects)
        self.connects = 0
        self.cond = threading.Condition()
        self._socks: dict[int, socket.socket] = {}
        self._next = 1
        self._uart = os.open(scanner_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed (scripts/setup installs nodejs)")
        to_node_r, self._to_node = os.pipe()
        self._from_node, from_node_w = os.pipe()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [node, "tests/shop_node.mjs", mode, str(count), str(heap)], cwd=FIRMWARE,
                stdout=log, stderr=subprocess.STDOUT, pass_fds=(to_node_r, from_node_w),
                env=dict(os.environ, SHOP_IN_FD=str(to_node_r), SHOP_OUT_FD=str(from_node_w),
                         **({"SHOP_FLASH": str(flash)} if flash else {})),
                start_new_session=True,
            )
        os.close(to_node_r)
        os.close(from_node_w)
        self._thread = threading.Thread(target=self._serve, name="shop-unit", daemon=True)
        self._thread.start()

    # --- the channel ------------------------------------------------------------------------

    def _serve(self) -> None:
        reader = os.fdopen(self._from_node, "rb", buffering=0)
        pending = b""
        while True:
            try:
                chunk = reader.read(65536)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                answer = self._handle(json.loads(line))
                with contextlib.suppress(OSError):
                    os.write(self._to_node, json.dumps(answer).encode() + b"\n")
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()
        with self.cond:
            self.cond.notify_all()

    def _handle(self, req: dict) -> dict:
        op = req["op"]
        try:
            return getattr(self, "_op_" + op)(req)
        except ConnectionRefusedError:
            return {"err": "ECONNREFUSED"}
        except TimeoutError:
            return {"err": "ETIMEDOUT"}
        except OSError:
            return {"err": "ECONNRESET"}

    def _op_config(self, req: dict) -> dict:
        return {"cfg": json.dumps(self.cfg), "heap_probe": self.heap_probe}

    def _op_connect(self, req: dict) -> dict:
        sock = socket.create_connection((req["host"], req["port"]), timeout=req["t"])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handle = self._next
        self._next += 1
        self.connects += 1
        self._socks[handle] = sock
        return {"c": handle}

    def _op_send(self, req: dict) -> dict:
        sock = self._socks[req["c"]]
        sock.settimeout(5)
        data = bytes.fromhex(req["d"])
        sock.sendall(data)
        if data[:1] == b"\x33":  # PUBLISH, QoS 1, retained: only the status is retained
            self.online.set()
        return {}

    def _op_recv(self, req: dict) -> dict:
        sock = self._socks.get(req["c"])
        if sock is None:
            return {"err": "ECONNRESET"}
        n, t = req["n"], req["t"]
        # Whatever is there beyond n goes along: the firmware side buffers it, as the
        # kernel would (firmware/shop/sim_board.py).
        if t == 0:  # non-blocking: what is there, or nothing
            ready, _, _ = select.select([sock], [], [], 0)
            if not ready:
                return {"none": True}
            return {"d": sock.recv(65536).hex()}
        deadline = time.monotonic() + (BLOCKING_CAP_S if t < 0 else t)
        data = b""
        while len(data) < n:  # a blocking stream read returns n bytes, or fewer at EOF
            left = deadline - time.monotonic()
            ready, _, _ = select.select([sock], [], [], max(0.0, left))
            if not ready:
                return {"err": "ETIMEDOUT"}
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return {"d": data.hex()}

    def _op_close(self, req: dict) -> dict:
        sock = self._socks.pop(req["c"], None)
        if sock is not None:
            sock.close()
        return {}

    def _op_uart_read(self, req: dict) -> dict:
        try:
            data = os.read(self._uart, req["n"])
        except BlockingIOError:
            return {"d": ""}
        self._last_rx = time.monotonic()
        return {"d": data.hex()}

    def _op_uart_write(self, req: dict) -> dict:
        os.write(self._uart, bytes.fromhex(req["d"]))
        return {}

    def _op_wait(self, req: dict) -> dict:
        fds: list = [self._uart]
        sock = self._socks.get(req["c"]) if req["c"] is not None else None
        if sock is not None:
            fds.append(sock)
        ready, _, _ = select.select(fds, [], [], req["t"] / 1000)
        return {"uart": self._uart in ready, "sock": sock is not None and sock in ready,
                "stop": self.stopping}

    def _op_pin(self, req: dict) -> dict:
        value = tuple(req["v"]) if isinstance(req["v"], list) else req["v"]
        now = time.monotonic()
        if req["name"] == "led":
            if self._leds == (0, 0) and value != (0, 0):
                self.scan_latencies.append(now - self._last_rx)
            self._leds = value
        with self.cond:
            self.timeline.append((time.monotonic(), req["name"], value))
            self.cond.notify_all()
        return {}

    def _op_mark(self, req: dict) -> dict:
        self.marks.append(time.monotonic())
        return {}

    def _op_shown(self, req: dict) -> dict:
        self.latencies_us.extend(req["us"])
        return {}

    def _op_done(self, req: dict) -> dict:
        with self.cond:
            self.report = req["report"]
            self.cond.notify_all()
        return {}

    # --- what the tests read ------------------------------------------------------------------

    def wait_online(self, timeout: float = 20.0) -> None:
        """Until the unit has announced itself online (connected and subscribed)."""
        if not self.online.wait(timeout):
            raise AssertionError(f"the unit never came online\n{self.log_tail()}")

    def shows(self) -> list[Show]:
        """Each time the LED came on after being dark for more than 0.6 s (slow_blink is
        dark for 0.5 s inside one show)."""
        out: list[Show] = []
        leds = (0, 0)
        dark_since = -1e9
        with self.cond:
            timeline = list(self.timeline)
        for at, name, value in timeline:
            if name == "led":
                if value != (0, 0) and leds == (0, 0):
                    if not out or at - dark_since > 0.6:
                        out.append(Show(value, at))
                elif value == (0, 0) and leds != (0, 0):
                    dark_since = at
                    if out and out[-1].first_on_s is None:
                        out[-1].first_on_s = at - out[-1].at
                leds = value
            elif name == "buzzer" and out and value:
                out[-1].tones.append(value)
        return out

    def wait_for_shows(self, n: int, timeout: float = 15.0) -> list[Show]:
        """The first n shows, each once it has finished (the LED dark for over 0.6 s)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                shows = self.shows()
                done = len(shows) >= n and self._dark_for(0.7)
                if done or len(shows) > n:
                    return shows[:n]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"{len(shows)} of {n} verdicts shown in {timeout}s\n{self.log_tail()}")
                self.cond.wait(min(left, 0.1))

    def _dark_for(self, seconds: float) -> bool:
        leds = [(at, v) for at, name, v in self.timeline if name == "led"]
        return bool(leds) and leds[-1][1] == (0, 0) and time.monotonic() - leds[-1][0] > seconds

    def stop(self, timeout: float = 10.0) -> dict | None:
        """Ask the firmware's loop to end; its report (counters, peak heap)."""
        self.stopping = True
        with self.cond:
            self.cond.wait_for(lambda: self.report is not None or self.proc.poll() is not None,
                               timeout)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.close()
        return self.report

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        self._thread.join(5)
        for fd in (self._uart, self._to_node):
            with contextlib.suppress(OSError):
                os.close(fd)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def unit_config(site: str, unit: str, door: str, broker_port: int, **options: object) -> dict:
    cfg: dict = {"site": site, "unit": unit, "door": door, "host": "127.0.0.1",
                 "port": broker_port, "data_dir": "/flash/outbox"}
    cfg.update(options)
    return cfg


def main(argv: list[str] | None = None) -> int:
    """A shop unit against a running site: type `scan TEXT` (or `raw HEX`), see the LED."""
    import argparse
    import sys
    import tempfile

    from simulators.shop_scanner import ScannerModule

    p = argparse.ArgumentParser(description="the shop unit's firmware under MicroPython, "
                                            "against a running broker and gateway")
    p.add_argument("--site", default="demo")
    p.add_argument("--unit", default="shop-1")
    p.add_argument("--door", default="door-1")
    p.add_argument("--broker-port", type=int, default=1883)
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--flash", type=Path, help="host folder kept as the unit's flash")
    args = p.parse_args(argv)
    extra = {"username": args.username, "password": args.password} if args.username else {}
    with tempfile.TemporaryDirectory(prefix="shop-unit-") as tmp, ScannerModule() as scanner:
        unit = ShopUnit(unit_config(args.site, args.unit, args.door, args.broker_port, **extra),
                        scanner.path, Path(tmp) / "unit.log", flash=args.flash)
        shown = 0
        deadline = time.monotonic() + 20
        while not scanner.commands and time.monotonic() < deadline:
            time.sleep(0.05)  # the firmware configures the module as it starts
        print(f"unit {args.unit} up ({scanner.mode} mode); scan TEXT | raw HEX | quit",
              flush=True)
        try:
            for line in sys.stdin:
                cmd, _, rest = line.strip().partition(" ")
                if cmd == "scan":
                    scanner.present(rest)
                    for show in unit.wait_for_shows(shown + 1)[shown:]:
                        steady = (show.first_on_s or 9) > 1.5
                        print(f"{show.light} {'steady' if steady else 'blinking'}"
                              f" tones {show.tones}", flush=True)
                    shown += 1
                elif cmd == "raw":
                    scanner.send_raw(bytes.fromhex(rest))
                elif cmd == "quit":
                    break
        finally:
            print(json.dumps(unit.stop()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
