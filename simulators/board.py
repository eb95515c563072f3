"""The door board on a pseudo-terminal: the real firmware logic, simulated pins.

The kiosk opens the pty's slave path with pyserial exactly as it opens the RP2040's USB
port, and what answers is firmware/board/core.py itself, ticking on a thread against
SimPins. So kiosk tests exercise the real framing, acknowledgements, fail-safe timing and
restarts, and only the copper is pretended. People walking through the door, the lid
being opened and the board resetting are methods on the simulator.

Run standalone: `python -m simulators.board [--link PATH]`; type `in`, `out`, `tamper`,
`restart` or `quit` on stdin. Every change of light, buzzer and relay is logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
import threading
import time
import tty
from pathlib import Path
from typing import Any, Self

from firmware import board_link as link
from firmware.board.core import Board
from firmware.board.sim_pins import SimMLX90614, SimPins

log = logging.getLogger(__name__)
TICK_S = 0.005


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


class PtyPins(SimPins):
    """SimPins whose serial port is the master side of a pty."""

    def __init__(self, master: int, thermometer: SimMLX90614 | None = None) -> None:
        super().__init__(thermometer)
        self.master = master
        self.muted = False  # True: written bytes are lost, as on a glitching cable

    def uart_read(self) -> bytes | None:
        try:
            return os.read(self.master, 4096) or None
        except (BlockingIOError, OSError):  # nothing waiting, or no one on the other end
            return None

    def uart_write(self, data: bytes) -> None:
        if self.muted:
            return
        try:
            os.write(self.master, data)
        except OSError as err:  # the kiosk end is closed: the bytes are lost, like on a cable
            log.debug("board write dropped: %s", err)

    def _record(self, name: str, value: Any) -> None:
        if self.state.get(name) != value:
            log.info("board %s -> %s", name, value)
        super()._record(name, value)


class BoardSimulator:
    """One board behind a pty whose slave is reachable at `path` (a symlink if `link`)."""

    def __init__(self, config: dict[str, Any] | None = None, link_path: str | None = None,
                 thermometer: SimMLX90614 | None = None) -> None:
        """`thermometer`: the sensor on the board's I2C bus (the board's settings get
        `thermometer = "mlx90614"`); none: a door without one, as today."""
        if thermometer is not None:
            config = dict(config or {}, thermometer="mlx90614")
        self.config = config
        self.link = Path(link_path) if link_path else None
        self.restarts = 0
        self._lock = threading.RLock()
        self._running = False
        self._awake = threading.Event()
        self._awake.set()
        self._thread: threading.Thread | None = None
        self._master = self._slave = -1
        self.pins = PtyPins(-1, thermometer)
        self._open_pty()
        self.pins.now = _now_ms()
        self.board = Board(self.pins, self.pins.now, config)

    @property
    def path(self) -> str:
        return str(self.link) if self.link else os.ttyname(self._slave)

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # raw before anyone opens it: no echo, no line editing
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.pins.master = master
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(os.ttyname(slave))
            os.replace(tmp, self.link)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self.pins.master = -1

    def start(self) -> BoardSimulator:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="board-sim", daemon=True)
        self._thread.start()
        log.info("board simulator on %s", self.path)
        return self

    def stop(self) -> None:
        self._running = False
        if self._thread:
            self._thread.join(5)
        self._close_pty()
        if self.link:
            self.link.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while self._running:
            master = self._master
            if master >= 0:
                try:
                    select.select([master], [], [], TICK_S)
                except (OSError, ValueError):  # unplugged under our feet
                    continue
            else:
                time.sleep(TICK_S)
            if not self._awake.wait(TICK_S):
                continue
            with self._lock:
                self.pins.now = _now_ms()
                self.board.tick(self.pins.now)

    # --- the world around the board -----------------------------------------------------

    def unplug(self) -> None:
        """The USB cable pulled: the port disappears; the kiosk's handle fails."""
        with self._lock:
            self._close_pty()

    def plug(self) -> None:
        """The port comes back (a new pty behind the same link path)."""
        with self._lock:
            self._open_pty()

    def restart(self, cause: str = "watchdog", lose_hello: bool = False,
                replug: bool = False) -> None:
        """A reset: outputs drop to their power-on state, all RAM state is gone.

        `lose_hello`: the HELLO the board sends at boot never reaches the kiosk.
        `replug`: like a real RP2040, the USB port vanishes and comes back (needs `link`).
        """
        if replug and not self.link:
            raise ValueError("replug needs a link path: the pty's own name changes")
        if replug:
            self.unplug()
        with self._lock:
            self.restarts += 1
            self.pins.now = _now_ms()
            for name, off in (("light", "off"), ("buzzer", 0), ("relay", False)):
                if self.pins.state[name] != off:
                    self.pins._record(name, off)
            self.pins.muted = lose_hello
            self.board = Board(self.pins, self.pins.now, self.config, reset_cause=cause)
            self.pins.muted = False
        if replug:
            time.sleep(0.1)  # USB enumeration
            self.plug()

    def hang(self) -> None:
        """The firmware stops ticking (bytes pile up unread) until `wake()`."""
        self._awake.clear()

    def wake(self) -> None:
        self._awake.set()

    def set_beams(self, a: bool, b: bool) -> None:
        with self._lock:
            self.pins.beam_a, self.pins.beam_b = a, b

    def walk(self, direction: str, step_s: float = 0.06) -> None:
        """One person through the door (blocking for about 4 * step_s)."""
        first, second = ((True, False), (False, True)) if direction == "in" else (
            (False, True), (True, False))
        for a, b in (first, (True, True), second, (False, False)):
            self.set_beams(a, b)
            time.sleep(step_s)

    def set_tamper(self, opened: bool) -> None:
        with self._lock:
            self.pins.tamper = opened

    def set_temperature(self, celsius: float) -> None:
        """What the next visitor's forehead reads."""
        with self._lock:
            assert self.pins.thermometer is not None, "no thermometer on this board"
            self.pins.thermometer.object_cc = round(celsius * 100)

    def set_sensor_answering(self, answering: bool) -> None:
        """False: the thermometer stops answering on the bus (unplugged, broken wire)."""
        with self._lock:
            assert self.pins.thermometer is not None, "no thermometer on this board"
            self.pins.thermometer.answering = answering

    def state(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.pins.state, failsafe=self.board.failsafe,
                        counts=dict(self.board.door.counts), boot=self.board.session.boot,
                        counters=dict(self.board.counters))

    def changes(self, name: str, since_ms: int = 0) -> list[tuple[int, Any]]:
        with self._lock:
            return self.pins.changes(name, since_ms)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--link", help="also reach the pty at this path (a symlink)")
    parser.add_argument("--heartbeat-timeout-ms", type=int, default=3000)
    parser.add_argument("--gate-safe-state", choices=("locked", "free"), default="locked")
    parser.add_argument("--thermometer", type=float, metavar="CELSIUS",
                        help="fit an MLX90614 reading this temperature")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = {"heartbeat_timeout_ms": args.heartbeat_timeout_ms,
              "gate_safe_state": args.gate_safe_state}
    sensor = None if args.thermometer is None else SimMLX90614(round(args.thermometer * 100))
    with BoardSimulator(config, args.link, sensor) as sim:
        print(f"board on {sim.path}  (protocol {link.MAJOR}.{link.MINOR}); "
              "commands: in, out, tamper, temp C, sensor on|off, restart, quit", flush=True)
        quit_asked = False
        for line in sys.stdin:
            cmd = line.strip()
            if cmd in ("in", "out"):
                sim.walk(cmd)
            elif cmd == "tamper":
                sim.set_tamper(not sim.pins.tamper)
            elif cmd.startswith("temp ") and sensor is not None:
                try:
                    sim.set_temperature(float(cmd.split()[1]))
                except ValueError:
                    print("temp takes degrees Celsius, e.g. temp 38.2", flush=True)
            elif cmd in ("sensor on", "sensor off") and sensor is not None:
                sim.set_sensor_answering(cmd == "sensor on")
            elif cmd == "restart":
                sim.restart()
            elif cmd == "quit":
                quit_asked = True
                break
            elif cmd:
                print("unknown command; use in, out, tamper, restart, quit", flush=True)
            print(sim.state(), flush=True)
        if not quit_asked:  # stdin closed (run in the background): serve until killed
            threading.Event().wait()


if __name__ == "__main__":
    main()
