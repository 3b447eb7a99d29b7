"""The deliver activity's permanent failures, against real receivers: a 3xx (redirects are not
followed) and a URL no request can be made to are non-retryable at once, and say why without
leaking the URL."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import INVALID_URL, REDIRECTED, Notifier
from sla.notifications import Delivery, Event, NotificationsConfig, WebhookTarget, event_id
from tests.support.receiver import Receiver

TOKEN = "tok-very-secret-77"
EVENT = Event(id=event_id("T-1:breach:response:c1"), type="breach", ticket_id="T-1",
              at=datetime(2026, 11, 27, 9, 15, tzinfo=UTC))  # fmt: skip
TO_OPS = Delivery(event=EVENT, target="webhook:ops")


def notifier(url: str) -> Notifier:
    hook = WebhookTarget(name="ops", url=url, secret="whsec-x")
    return Notifier(NotificationsConfig(webhooks=[hook]), timeout=5)


async def failure(notifier: Notifier, attempt: int = 1) -> ApplicationError:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    with pytest.raises(ApplicationError) as caught:
        await env.run(notifier.deliver, TO_OPS)
    return caught.value


@pytest.fixture
def redirecting() -> Iterator[Callable[[int, str | None], str]]:
    """Starts HTTP servers answering every POST with a status and Location; yields the
    starter, which returns the server's URL (with a token in its query)."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, location: str | None) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/hook?token={TOKEN}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_a_permanent_failure_on_the_first_attempt(
    receiver: Callable[..., Receiver], status: int
) -> None:
    hook = receiver(status)
    error = await failure(notifier(hook.url))
    assert (error.type, error.non_retryable) == (REDIRECTED, True)
    assert f"HTTP {status}" in error.message and "redirects are not followed" in error.message
    assert error.details[0]["status_code"] == status and error.details[0]["attempt"] == 1
    assert len(hook.received) == 1  # not followed, not repeated


@pytest.mark.parametrize(
    ("location", "said"),
    [
        (f"https://new.example.com:8443/hooks/{TOKEN}?key={TOKEN}", "https://new.example.com:8443"),
        (f"/elsewhere/{TOKEN}", "another path on the same host"),
        (None, "no Location header"),
    ],
)
async def test_a_redirect_says_where_to_without_path_or_query(
    redirecting: Callable[[int, str | None], str], location: str | None, said: str
) -> None:
    error = await failure(notifier(redirecting(301, location)))
    assert error.type == REDIRECTED
    assert said in error.message
    assert TOKEN not in error.message and TOKEN not in str(error.details)


@pytest.mark.parametrize(
    "url",
    [
        f"http://hooks.example:abc/hook?token={TOKEN}",  # a port that is no number
        f"http://127.0.0.1:70000/hook?token={TOKEN}",  # a port out of range
        f"http://hooks\x7f.example/hook?token={TOKEN}",  # a character no URL may hold
    ],
)
async def test_a_url_no_request_can_be_made_to_is_a_permanent_failure(url: str) -> None:
    error = await failure(notifier(url))
    assert (error.type, error.non_retryable) == (INVALID_URL, True)
    assert "invalid URL" in error.message
    assert TOKEN not in error.message and TOKEN not in str(error.details)


async def test_send_reports_a_redirect_as_not_ok_without_raising(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(301)
    result = await notifier(hook.url).send(TO_OPS)
    assert (result.ok, result.status_code) == (False, 301)
    assert result.detail.startswith("HTTP 301 Moved Permanently")
