"""Keep-alive HTTP/1.1 connections for the status lookup, the one request on a visitor's
path: POST a small JSON body, read a small JSON answer.

A general client (httpx) spends about a millisecond of the gateway's event loop on each
request (bench: 1.4-1.8 ms against 0.4-0.6 ms for this channel, same server, same run);
at the door that is a visible share of the verdict. This channel does only what the
lookup needs: HTTP/1.1 with persistent connections (plain or TLS), a Content-Length or
chunked answer, and no redirects, cookies or retries. Any fault closes the connection
and raises LookupFailed; the caller turns that into "could not check" (manual check).
Uploads and reports, off the door's path, keep using httpx.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from urllib.parse import urlsplit

MAX_ANSWER = 64 * 1024  # a status answer is a few dozen bytes; anything huge is refused
MAX_IDLE = 8


class LookupFailed(Exception):
    """No usable answer: the connection failed, or the answer was not HTTP we can read."""


class _Stale(Exception):
    """The connection ended before any answer: a kept-alive one the server had closed."""


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> object:
        return json.loads(self.body)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class LookupChannel:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"platform url {base_url!r}: http(s)://host[:port][/path]")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc.encode("idna")
        self._ssl = ssl.create_default_context() if self.tls else None
        self._idle: list[_Connection] = []

    async def post_json(self, path: str, payload: dict) -> Answer:
        body = json.dumps(payload, separators=(",", ":")).encode()
        head = (b"POST " + (self.prefix + path).encode() + b" HTTP/1.1\r\nhost: "
                + self._host_header + b"\r\ncontent-type: application/json\r\n"
                b"accept: application/json\r\ncontent-length: " + str(len(body)).encode()
                + b"\r\n\r\n")
        conn = self._take_idle()
        if conn is not None:
            try:
                return await self._exchange(conn, head + body)
            except _Stale:
                pass  # the server closed it while idle: once more on a new connection
        try:
            return await self._exchange(await self._connect(), head + body)
        except _Stale as exc:
            raise LookupFailed("connection closed before an answer") from exc

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        return None

    async def _exchange(self, conn: _Connection, request: bytes) -> Answer:
        answered = False
        try:
            conn.writer.write(request)
            first = await conn.reader.readuntil(b"\r\n")
            answered = True
            status, keep, answer = await self._read_answer(first, conn.reader)
        except (OSError, EOFError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError) as exc:
            conn.close()
            if not answered and isinstance(exc, asyncio.IncompleteReadError | ConnectionError):
                raise _Stale from exc
            raise LookupFailed(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled (the deadline): the answer is still on its way
            conn.close()
            raise
        if keep and len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()
        return Answer(status, answer)

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self._ssl)
        except OSError as exc:
            raise LookupFailed(f"{type(exc).__name__}: {exc}") from exc
        return _Connection(reader, writer)

    async def _read_answer(self, status_line: bytes, reader: asyncio.StreamReader
                           ) -> tuple[int, bool, bytes]:
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError("not an HTTP/1.x answer")
        status = int(parts[1])
        headers: dict[bytes, bytes] = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
            if len(headers) > 100:
                raise ValueError("too many headers")
        keep = (parts[0] == b"HTTP/1.1"
                and headers.get(b"connection", b"").lower() != b"close")
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            return status, keep, await self._read_chunked(reader)
        if b"content-length" not in headers:
            raise ValueError("answer without a length")
        length = int(headers[b"content-length"])
        if not 0 <= length <= MAX_ANSWER:
            raise ValueError(f"answer of {length} bytes")
        return status, keep, await reader.readexactly(length)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return bytes(body)
            if len(body) + size > MAX_ANSWER:
                raise ValueError("answer too large")
            body += await reader.readexactly(size)
            await reader.readexactly(2)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
