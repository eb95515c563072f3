"""A TCP link that a test can cut and restore: stands in for Wi-Fi dropping between a
kiosk and the broker, or between the gateway and the city platform.

Runs as its own process: `python -m simulators.netcut --listen PORT --to PORT`. Commands
on stdin: `cut` closes every connection and refuses new ones; `blackhole` keeps every
connection open but carries nothing either way (a link that silently loses every packet:
each end finds out only by its own timeouts; new connections are taken and held); `restore`
lets everything through again, what was held back included, as TCP's retransmissions would.
Bytes are forwarded unchanged, so both ends speak their real protocols.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys


class Link:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut = False
        self.flowing = asyncio.Event()  # clear while blackholed
        self.flowing.set()
        self.pairs: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        await self.flowing.wait()  # blackholed: the connection is held, nothing answers
        if self.cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.pairs.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.pairs.difference_update((writer, up_writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()  # blackholed: held back, the sender's buffers fill
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def set_blackhole(self, on: bool) -> None:
        if on:
            self.flowing.clear()
        else:
            self.flowing.set()

    def set_cut(self, cut: bool) -> None:
        self.cut = cut
        if cut:
            for writer in list(self.pairs):
                transport = writer.transport
                transport.abort()  # like a dropped link: no orderly goodbye
            self.pairs.clear()


async def main(listen: int, target: int) -> None:
    link = Link(target)
    server = await asyncio.start_server(link.handle, "127.0.0.1", listen)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    print("ready", flush=True)
    async with server:
        while line := await stdin.readline():
            command = line.decode().strip()
            if command in ("cut", "restore"):
                link.set_cut(command == "cut")
                link.set_blackhole(False)
                print(command, flush=True)
            elif command == "blackhole":
                link.set_blackhole(True)
                print(command, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m simulators.netcut")
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--to", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.listen, args.to))
