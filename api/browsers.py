"""What keeps web pages on other sites from using the API through a visitor's browser.

A page anywhere can make a browser POST a form or `text/plain` to any address without asking
it first; a JSON body needs the server's consent (a CORS preflight), which the API never gives.
So a request body must be JSON. Without a keys file nothing else stands between such a page
and the API, and DNS rebinding can point the page's own name at 127.0.0.1: the API then
answers only requests addressed to a loopback name (or a name the operator allows). And every
answer tells the browser not to guess its type or show it in another site's frame.

Plain ASGI (no BaseHTTPMiddleware), like api/metrics.py RequestMetrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import ErrorOut
from settings import HOST_NAME

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
# What these refusals look like, for every route of the OpenAPI schema.
REFUSALS: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorOut, "description": "a request body that is not application/json"},
    421: {"model": ErrorOut, "description": "no keys file, and Host is not a loopback name"},
}


async def refuse(send: Send, status: int, detail: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})


def is_json(content_type: str) -> bool:
    """application/json or application/<anything>+json, with any parameters (charset)."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonBodies:
    """415 for a request that carries a body that is not JSON; a request without one (no
    Content-Length, or 0, and no Transfer-Encoding) needs no Content-Type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            has_body = headers.get("content-length", "0").strip() != "0" or (
                "transfer-encoding" in headers
            )
            if has_body and not is_json(headers.get("content-type", "")):
                await refuse(
                    send,
                    415,
                    "request bodies must be application/json (Content-Type: application/json)",
                )
                return
        await self.app(scope, receive, send)


HOST = re.compile(rf"(?P<name>{HOST_NAME.pattern})(?::[0-9]{{1,5}})?")


def host_name(host: str) -> str | None:
    """The Host header's name without its port, in lower case; None if it is not one."""
    found = HOST.fullmatch(host.strip().lower())
    return found["name"] if found else None


class LoopbackHosts:
    """421 for a request whose Host is not a loopback name nor one of `allowed`. Added only
    when the API has no keys file."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.extra = tuple(allowed)
        self.allowed = frozenset((*LOOPBACK, *self.extra))

    def _detail(self, name: str | None) -> str:
        hosts = ", ".join(LOOPBACK + self.extra)
        asked = f"{name!r}" if name else "this Host"
        return (
            f"this API has no keys file, so it answers only requests for {hosts}; to reach it "
            f"as {asked}, add that name to SLAFLOW_ALLOWED_HOSTS (comma-separated) or give "
            "it a keys file (SLAFLOW_API_KEYS_FILE)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = host_name(Headers(scope=scope).get("host", ""))
            if name not in self.allowed:
                await refuse(send, 421, self._detail(name))
                return
        await self.app(scope, receive, send)


# Every answer: no type sniffing, no framing, no referrer. A route that sets one of these
# (the board's pages, their Content-Security-Policy) keeps its own.
ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
NOT_A_PAGE = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
    """The headers above on every answer, refusals included; JSON gets a policy of "nothing":
    opened as a page, it loads and runs nothing, and no site frames it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                # HTML here is the board (its own policy) or /docs (scripts from a CDN).
                if not headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("content-security-policy", NOT_A_PAGE)
            await send(message)

        await self.app(scope, receive, with_headers)
