"""A minimal HTTP/1.1 keep-alive client for the load generator.

httpx spends about a millisecond of CPU per request; on two cores shared with the server and
slaflow that would be taken from what is measured, so the load generator speaks the little
HTTP it needs itself: JSON bodies, Content-Length or chunked answers, one pool of connections.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

TIMEOUT_SECONDS = 30.0
IDLE_SECONDS = 4.0  # uvicorn closes a keep-alive connection idle for 5 s
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Stale(ConnectionError):
    """The connection was closed before the request got an answer."""


class HttpClient:
    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[Connection, float]] = []
        self._slots = asyncio.Semaphore(size)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        return await self.request("POST", path, json.dumps(body).encode())

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        async with self._slots:
            for attempt in range(2):
                conn, reused = self._take()
                if conn is None:
                    conn = await self._open()
                try:
                    async with asyncio.timeout(TIMEOUT_SECONDS):
                        status, answer, keep = await self._exchange(conn, method, path, body)
                except _Stale:
                    conn[1].close()
                    if reused and attempt == 0:
                        continue  # the server had closed the idle connection: a fresh one
                    raise
                except BaseException:
                    conn[1].close()
                    raise
                if keep:
                    self._idle.append((conn, time.monotonic()))
                else:
                    conn[1].close()
                return status, answer
        raise AssertionError("unreachable")

    def _take(self) -> tuple[Connection | None, bool]:
        """The most recently used idle connection that the server has not timed out yet."""
        while self._idle:
            conn, since = self._idle.pop()
            if time.monotonic() - since < IDLE_SECONDS:
                return conn, True
            conn[1].close()
        return None, False

    async def _open(self) -> Connection:
        return await asyncio.open_connection(self.host, self.port)

    async def _exchange(
        self,
        conn: Connection,
        method: str,
        path: str,
        body: bytes | None,
    ) -> tuple[int, bytes, bool]:
        reader, writer = conn
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            writer.write(head.encode() + b"\r\n" + (body or b""))
            await writer.drain()
            status_line = await reader.readline()
        except ConnectionError as exc:
            raise _Stale(str(exc)) from None
        if not status_line:
            raise _Stale("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            answer = await _read_chunked(reader)
        else:
            answer = await reader.readexactly(int(headers.get("content-length", "0")))
        return status, answer, headers.get("connection") != "close"

    async def close(self) -> None:
        while self._idle:
            (_, writer), _ = self._idle.pop()
            writer.close()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readline()
