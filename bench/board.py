"""Verdict to light over the board link: how long from BoardLink.show() until the board
has acknowledged (it switches the ring in the same tick it sends the ack), through a real
pty to the real firmware logic in the simulator.

Baseline, measured in the same run: a bare pty round trip of a frame-sized message to an
echo thread, i.e. what the transport alone costs. The difference is protocol + firmware.
The last line of output is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import serial

from bench.stats import summarise
from firmware.kiosk.board import BoardLink, DoorEventStore
from simulators.board import BoardSimulator

FRAME = bytes(range(20))  # the size of a SHOW frame


def pty_round_trips(n: int) -> list[float]:
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def echo() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                os.write(master, os.read(master, 4096))

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    port = serial.Serial(os.ttyname(slave), 115200, timeout=1)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        port.write(FRAME)
        got = b""
        while len(got) < len(FRAME):
            got += port.read(len(FRAME) - len(got))
        samples.append((time.perf_counter() - t0) * 1000)
    stop.set()
    thread.join()
    port.close()
    os.close(master)
    os.close(slave)
    return samples


async def verdict_to_ack(n: int) -> list[float]:
    samples = []
    with BoardSimulator() as sim, tempfile.TemporaryDirectory() as tmp:
        board = BoardLink(sim.path, DoorEventStore(Path(tmp) / "ev.sqlite"))
        await board.start()
        for i in range(n):
            light = "green" if i % 2 else "red"
            t0 = time.perf_counter()
            await board.show(light, "steady", "none", 2000)
            samples.append((time.perf_counter() - t0) * 1000)
            if sim.state()["light"] != light:
                raise SystemExit(f"board shows {sim.state()['light']}, expected {light}")
            await asyncio.sleep(0.01)
        await board.close()
        board.store.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    baseline = summarise(pty_round_trips(args.n))
    board = summarise(asyncio.run(verdict_to_ack(args.n)))
    print(
        f"pty round trip (baseline)   p50 {baseline['p50']:.3f} ms  p99 {baseline['p99']:.3f} ms"
    )
    print(f"verdict -> board ack/light  p50 {board['p50']:.3f} ms  p99 {board['p99']:.3f} ms")
    print(json.dumps({"bench": "board", "unit": "ms", "baseline_pty_round_trip": baseline,
                      "verdict_to_board_ack": board,
                      "overhead_p50_ms": round(board["p50"] - baseline["p50"], 3)}))


if __name__ == "__main__":
    main()
