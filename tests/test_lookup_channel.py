"""The status lookup's own HTTP channel against small real servers on loopback: what a
platform may answer (keep-alive, chunked, close), what it must not (garbage, huge), and a
kept-alive connection the server dropped while idle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from gateway.lookup_channel import LookupChannel, LookupFailed
from gateway.platform import HttpPlatform

Reply = Callable[[bytes], Awaitable[bytes | None]]


async def serve(reply: Reply) -> tuple[asyncio.Server, str, list[int]]:
    """A server that answers each request with reply(body); None closes the connection.
    The list counts the connections it accepted."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                answer = await reply(await reader.readexactly(length))
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", accepted


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


async def test_answers_reuse_one_connection_and_chunked_answers_read():
    async def reply(_body: bytes) -> bytes:
        return ok(b'{"colour":"green"}')

    server, url, accepted = await serve(reply)
    channel = LookupChannel(url)
    for _ in range(5):
        assert (await channel.post_json("/api/v1/status", {"x": 1})).json() == {"colour": "green"}
    assert len(accepted) == 1
    await channel.close()
    server.close()

    async def chunked(_body: bytes) -> bytes:
        return (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b"5\r\n{\"col\r\nb\r\nour\":\"red\"}\r\n0\r\n\r\n")

    server, url, _ = await serve(chunked)
    channel = LookupChannel(url)
    assert (await channel.post_json("/s", {})).json() == {"colour": "red"}
    await channel.close()
    server.close()


async def test_a_connection_dropped_while_idle_is_replaced_without_a_failed_lookup():
    count = {"n": 0}

    async def reply(_body: bytes) -> bytes | None:
        count["n"] += 1
        return ok(b'{"colour":"yellow"}', b"connection: keep-alive\r\n")

    server, url, accepted = await serve(reply)
    channel = LookupChannel(url)
    await channel.post_json("/s", {})
    for conn in channel._idle:  # the server's keep-alive timeout, seen from our side
        conn.writer.transport.abort()
    assert (await channel.post_json("/s", {})).json() == {"colour": "yellow"}
    assert len(accepted) == 2
    await channel.close()
    server.close()


@pytest.mark.parametrize("answer", [
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n{}",  # no length: refused rather than read until close
])
async def test_a_bad_answer_is_could_not_check(answer: bytes):
    async def reply(_body: bytes) -> bytes | None:
        return answer

    server, url, _ = await serve(reply)
    channel = LookupChannel(url)
    with pytest.raises(LookupFailed):
        await asyncio.wait_for(channel.post_json("/s", {}), 2)
    platform = HttpPlatform(url, deadline_s=0.5)
    assert (await platform.status("code", "x")).colour == "unknown"
    assert sum(platform.errors.values()) == 1
    await platform.close()
    await channel.close()
    server.close()


async def test_a_slow_platform_is_could_not_check_within_the_deadline():
    async def reply(_body: bytes) -> bytes:
        await asyncio.sleep(2)
        return ok(b'{"colour":"green"}')

    server, url, _ = await serve(reply)
    platform = HttpPlatform(url, deadline_s=0.2)
    started = asyncio.get_running_loop().time()
    assert (await platform.status("code", "x")).colour == "unknown"
    assert asyncio.get_running_loop().time() - started < 0.5
    assert platform.errors == {"timeout": 1}
    await platform.close()
    server.close()
