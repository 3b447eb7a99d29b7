"""One real HTTP receiver for webhooks (and for anything else a test wants to answer GETs or POSTs):
a ThreadingHTTPServer on 127.0.0.1 that records every request and answers scripted statuses, or,
given a `service` (tests/support/services.py), checks each body and answers as that service."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """What a service answers: status, body and its content type."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain"


# A service: the request's headers (lower case names) and body in, its answer out.
Service = Callable[[dict[str, str], bytes], Answer]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int  # what the receiver answered
    reply: bytes = b""  # and with what body

    @property
    def event_id(self) -> str:
        return self.headers.get("x-slaflow-event-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver(AbstractContextManager["Receiver"]):
    """Answers the scripted statuses in turn, the last one repeating, and records every request.

    `per_event`: a script of its own for each event (by X-Slaflow-Event-Id), so
    `Receiver(500, 500, 200, per_event=True)` fails the first two deliveries of every event.
    `hang`: holds each answer until `release()` or close (at most 10 s).
    `port`: 0 for a free one; `url` says where it listens. A context manager, or `close()` it.
    `service`: while the script says 2xx (the default 200), the service checks the body and
    answers; any other scripted status is answered as it is (an outage of the service).
    """

    def __init__(
        self,
        *statuses: int,
        per_event: bool = False,
        hang: bool = False,
        port: int = 0,
        path: str = "/hook",
        service: Service | None = None,
    ) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._script: list[int] = []
        self._scripts: dict[str, list[int]] = {}
        self._per_event = per_event
        self._release = threading.Event()
        self.answer(*statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                answer = receiver._record(self.command, self.path, headers, body, service)
                if hang:
                    receiver._release.wait(10)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up waiting: what a hanging receiver is for

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def answer(self, *statuses: int) -> None:
        """Answer these from now on (200 if none); per-event scripts start over too."""
        with self._lock:
            self._script = list(statuses or (200,))
            self._scripts.clear()

    def _record(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        service: Service | None,
    ) -> Answer:
        with self._lock:
            script = self._script
            if self._per_event:
                key = headers.get("x-slaflow-event-id", "")
                script = self._scripts.setdefault(key, list(self._script))
            status = script.pop(0) if len(script) > 1 else script[0]
            answer = Answer(status)
            if service is not None and 200 <= status < 300:
                answer = service(headers, body)
            self._received.append(Received(method, path, headers, body, answer.status, answer.body))
            return answer

    @property
    def received(self) -> list[Received]:
        """Every request so far, in the order they came."""
        with self._lock:
            return list(self._received)

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def release(self) -> None:
        """A hanging receiver answers what it holds, and every request from now on at once."""
        self._release.set()

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
