"""The API over HTTP: the config its tests share, the app in-process or served by uvicorn, and
the ticket opener every HTTP test uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

# The shipped policy plus a named calendar, two customers and test-only notification targets.
API_CONFIG = Path(__file__).with_name("sla-test.yaml")


async def open_ticket(
    http: httpx.AsyncClient,
    customer: str,
    *,
    title: str = "VPN down",
    priority: str = "P1",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """POST /tickets, which must answer 201; the new ticket. `extra`: more body fields."""
    body = {"title": title, "priority": priority, "customer_id": customer, **extra}
    response = await http.post("/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client to `app` in this process (no socket), with the app's lifespan run around it.
    Addressed as 127.0.0.1, as a local client would: an app without keys answers loopback
    names only (api/browsers.py)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=20) as client,
    ):
        yield client


async def wait_ready(url: str, seconds: float = 10, path: str = "/healthz") -> None:
    """Until GET `url` + `path` answers 200 (/healthz: Temporal reachable, a worker polling)."""
    async with httpx.AsyncClient() as http:
        for _ in range(int(seconds / 0.05)):
            try:
                if (await http.get(f"{url}{path}")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the API at {url} never became ready")


@asynccontextmanager
async def serve(
    app: FastAPI, port: int, ready: str = "/healthz", **options: Any
) -> AsyncIterator[str]:
    """`app` served by uvicorn on 127.0.0.1:`port` while the block runs; yields its URL once
    GET `ready` answers 200. `options`: more of uvicorn's Config."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url, path=ready)
        yield url
    finally:
        server.should_exit = True
        await task


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    """Until the async `predicate` holds; fails the test past `seconds`."""
    for _ in range(int(seconds * 10)):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")
