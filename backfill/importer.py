"""Sending the rows: each ticket opened at its own time with its assignment, answer and
resolution at the file's times (the opening's `events`, applied before any deadline is
checked), through the HTTP API like any client.

Idempotent, so a run may stop anywhere (Ctrl-C, a lost connection) and simply be run again:

- a ticket is opened with its own `ticket_id`, which the API opens once: the same row again
  answers 200 with the ticket as it is ("already there");
- a ticket already there that lacks a step (one opened without its events, by hand or by an
  older import) gets it as an action with a request id made of the ticket id and the step
  (`import-T-1-respond`), which the ticket applies once;
- and a step the ticket's state shows done (a first response recorded, a resolution) is not
  sent at all, since an action dated before what the ticket has recorded since is refused.

A bounded number of rows are in flight at once (each row's steps in order); answers that say
"try again" (429, 502, 503, 504, a dropped connection, a timeout) are retried with backoff,
honouring Retry-After; anything else the API refuses is that row's reason, and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from backfill.progress import Progress
from backfill.rows import BadRow, FileError, Row, read

RETRIED = frozenset({429, 502, 503, 504})
# The ticket's states in which its resolution is done: resolving again would be refused.
_RESOLVED = frozenset({"resolved", "closed"})
# Who answers and resolves a row without an assignee when there is no key to stand for us.
IMPORTER = "import"


@dataclass(frozen=True)
class Backoff:
    """Tries per request and the waits between them: doubling from `first` up to `cap`, each
    with jitter so that a burst of 503s does not come back as one burst."""

    tries: int = 8
    first: float = 0.5
    cap: float = 15.0

    def wait(self, attempt: int) -> float:
        return float(min(self.cap, self.first * 2**attempt) * random.uniform(0.5, 1.0))


class Fatal(Exception):
    """Nothing more can be imported this run (the API is not there, or refuses the key)."""


class Refused(Exception):
    """This row cannot be imported; the reason says which step and why."""


@dataclass(frozen=True)
class Refusal:
    line: int
    ticket_id: str | None
    reason: str


@dataclass
class Summary:
    path: Path
    total: int
    counts: dict[str, int]
    refused: list[Refusal] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0: every row is in; 1: some were refused; 130 (as for SIGINT): stopped early."""
        if self.interrupted:
            return 130
        return 1 if self.refused else 0

    def text(self) -> str:
        done = sum(self.counts.values())
        lines = [
            f"{self.path}: {done:,} of {self.total:,} rows in {self.seconds:.1f} s: "
            f"{self.counts['opened']:,} opened, {self.counts['already there']:,} already there, "
            f"{self.counts['refused']:,} refused"
        ]
        if self.refused:
            lines.append("refused:")
            lines += [
                f"  line {r.line}" + (f" ({r.ticket_id})" if r.ticket_id else "") + f": {r.reason}"
                for r in sorted(self.refused, key=lambda r: r.line)
            ]
        if self.interrupted:
            lines.append(
                f"interrupted: {self.total - done:,} rows not done; run the same command "
                "again to import them (what is in stays as it is)"
            )
        return "\n".join(lines)


def detail(response: httpx.Response) -> str:
    """The API's reason: its `detail` sentence, or its list of invalid fields, in one line."""
    try:
        said = response.json().get("detail")
    except (ValueError, AttributeError):
        said = None
    if isinstance(said, list):
        return "; ".join(
            ".".join(str(part) for part in error.get("loc", [])[1:]) + f": {error.get('msg')}"
            for error in said
            if isinstance(error, dict)
        )
    if said is None:
        return response.text[:200] or response.reason_phrase
    return str(said)


class Importer:
    """Imports rows through one HTTP client; `agent` is who answers and resolves a row
    without an assignee (None: the key's own name)."""

    def __init__(
        self, http: httpx.AsyncClient, agent: str | None, backoff: Backoff | None = None
    ) -> None:
        self.http = http
        self.agent = agent
        self.backoff = backoff or Backoff()

    async def send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        """The API's answer, once it is not a "try again"; Refused when it never stops being
        one. 401 and 403 are Fatal: no row will do better with the same key."""
        problem = ""
        for attempt in range(self.backoff.tries):
            retry_after = None
            try:
                response = await self.http.request(method, path, json=body)
            except httpx.TransportError as exc:  # refused, reset, timed out: it may have applied
                problem = f"{type(exc).__name__} {exc}".strip()
            else:
                if response.status_code in (401, 403):
                    # Every step of every row is dated, and a key that may date events may open
                    # and work any ticket: a 403 is the key's role, and every row would get it.
                    status = response.status_code
                    raise Fatal(f"the API refuses the key ({status}): {detail(response)}")
                if response.status_code not in RETRIED:
                    return response
                problem = f"{response.status_code} {detail(response)}"
                retry_after = _seconds(response.headers.get("retry-after"))
            if attempt + 1 < self.backoff.tries:
                await asyncio.sleep(retry_after or self.backoff.wait(attempt))
        raise Refused(f"gave up after {self.backoff.tries} tries, the last: {problem}")

    async def row(self, row: Row) -> str:
        """Opens the row's ticket and applies its steps; "opened" or "already there"."""
        response = await self.send(
            "POST",
            "/tickets",
            {
                "ticket_id": row.ticket_id,
                "title": row.title,
                "priority": row.priority,
                "customer_id": row.customer_id,
                "at": row.opened_at.isoformat(),
                # Its story comes with it, applied before any deadline is checked: an answer
                # in time long ago is met, not refused by the breaches a catch-up records.
                "events": list(self.events(row)),
            },
        )
        if response.status_code not in (200, 201):
            raise Refused(f"not opened ({response.status_code}): {detail(response)}")
        outcome = "opened" if response.status_code == 201 else "already there"
        ticket = _ticket(response)
        for step, method, path, body in self.steps(row, ticket):
            response = await self.send(
                method,
                f"/tickets/{row.ticket_id}{path}",
                body | {"request_id": f"import-{row.ticket_id}-{step}"},
            )
            if response.status_code != 200:
                raise Refused(
                    f"{outcome}, but {step} refused ({response.status_code}): {detail(response)}"
                )
            ticket = _ticket(response)
        return outcome

    def events(self, row: Row) -> Iterator[dict[str, Any]]:
        """The row's assignment, answer and resolution as the opening's `events`, in order."""
        agent = row.assignee or self.agent
        who = {"agent_id": agent} if agent else {}
        if row.assignee and row.responded_at is None:
            yield {"action": "change", "assignee": row.assignee, "at": row.opened_at.isoformat()}
        if row.responded_at is not None:
            yield {"action": "respond", "at": row.responded_at.isoformat()} | who
        if row.resolved_at is not None:
            yield {"action": "resolve", "at": row.resolved_at.isoformat()} | who

    def steps(self, row: Row, ticket: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
        """What the row still needs, as (step, method, path, body). Read from `ticket` as the
        API last answered it, so a ticket imported before gets only what it lacks."""
        agent = row.assignee or self.agent
        who = {"agent_id": agent} if agent else {}
        if row.assignee and row.responded_at is None and ticket.get("assignee") is None:
            # A first response assigns its agent; without one, the assignee is set as the
            # ticket opens, as far back as the file knows it held the ticket, or, when the
            # ticket has recorded a breach since (a deadline passed before the import), then:
            # an action dated before it would be refused, and for an assignment the file has
            # no time of its own to insist on.
            at = max([row.opened_at, *_recorded(ticket)])
            yield "assign", "PATCH", "", {"assignee": row.assignee, "at": at.isoformat()}
        # Resolving counts as the first response, so a resolved ticket's response is done too.
        resolved = ticket.get("status") in _RESOLVED or bool(ticket.get("earlier_resolutions"))
        answered = resolved or (ticket.get("response") or {}).get("completed_at") is not None
        if row.responded_at is not None and not answered:
            yield "respond", "POST", "/respond", who | {"at": row.responded_at.isoformat()}
        if row.resolved_at is not None and not resolved:
            yield "resolve", "POST", "/resolve", who | {"at": row.resolved_at.isoformat()}


def _recorded(ticket: dict[str, Any]) -> Iterator[datetime]:
    """The times of what the ticket answer shows recorded: its last action, breaches and
    escalations (the API refuses an action dated before the latest of them)."""
    clocks = [ticket.get("response") or {}, ticket.get("resolution") or {}]
    times = [
        ticket.get("updated_at"),
        *(clock.get("breached_at") for clock in clocks),
        *(escalation.get("at") for escalation in ticket.get("escalations") or []),
    ]
    for text in times:
        with contextlib.suppress(TypeError, ValueError):
            yield datetime.fromisoformat(text)


def _ticket(response: httpx.Response) -> dict[str, Any]:
    try:
        ticket = response.json()
    except ValueError:
        ticket = None
    if not isinstance(ticket, dict):  # a proxy's page, say: the step's fate is unknown
        raise Refused(f"the answer to {response.request.url.path} is not a ticket")
    return ticket


def _seconds(value: str | None) -> float | None:
    """Retry-After in seconds (the API sends seconds; a date form is ignored for the backoff)."""
    try:
        return max(0.0, min(float(value), 60.0)) if value is not None else None
    except ValueError:
        return None


async def import_rows(
    importer: Importer,
    rows: list[Row | BadRow],
    progress: Progress,
    refused: list[Refusal],
    concurrency: int,
) -> None:
    """Every row, `concurrency` at a time; a refused row is noted and the run goes on."""
    for bad in rows:
        if isinstance(bad, BadRow):
            refused.append(Refusal(bad.line, bad.ticket_id, bad.reason))
            progress.count("refused")
    waiting = iter([row for row in rows if isinstance(row, Row)])

    async def sender() -> None:
        for row in waiting:  # one iterator shared by the senders: each row is taken once
            try:
                outcome = await importer.row(row)
            except Refused as exc:
                refused.append(Refusal(row.line, row.ticket_id, str(exc)))
                outcome = "refused"
            progress.count(outcome)

    async with asyncio.TaskGroup() as senders:
        for _ in range(concurrency):
            senders.create_task(sender())


async def import_file(
    path: Path,
    api_url: str,
    api_key: str | None,
    *,
    concurrency: int = 8,
    out: TextIO,
    err: TextIO,
    backoff: Backoff | None = None,
) -> int:
    """`slaflow import`: the summary on `out`, the progress on `err`; the exit code."""
    try:
        rows = await asyncio.to_thread(read, path)
    except FileError as exc:
        raise SystemExit(f"slaflow: {exc}") from None
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    progress = Progress(len(rows), err)
    summary = Summary(path, len(rows), progress.counts)
    async with httpx.AsyncClient(
        base_url=api_url,
        headers=headers,
        # Above the API's own request deadline (10 s by default), so it answers 503 first.
        timeout=60,
        limits=httpx.Limits(max_connections=concurrency),
    ) as http:
        await _reachable(http, api_url)
        importer = Importer(http, agent=None if api_key else IMPORTER, backoff=backoff)
        work = import_rows(importer, rows, progress, summary.refused, concurrency)
        try:
            summary.interrupted = not await _unless_stopped(work)
        except* Fatal as group:
            progress.finish()
            raise SystemExit(f"slaflow: {group.exceptions[0]}") from None
        finally:
            summary.seconds = time.monotonic() - progress.started
    progress.finish()
    print(summary.text(), file=out)
    return summary.exit_code


async def _reachable(http: httpx.AsyncClient, api_url: str) -> None:
    """Fails fast on a wrong URL, rather than retrying it for every row."""
    try:
        response = await http.get("/healthz")
    except httpx.TransportError as exc:
        raise SystemExit(
            f"slaflow: cannot reach the API at {api_url} ({type(exc).__name__} {exc}); "
            "set SLAFLOW_API_URL"
        ) from None
    if response.status_code == 421:  # an open API answers loopback names only
        raise SystemExit(f"slaflow: the API at {api_url} refuses this name: {detail(response)}")


async def _unless_stopped(work: Any) -> bool:
    """Runs `work` until done (True) or until SIGINT or SIGTERM (False): then what is in
    flight is dropped, which is safe since every step is idempotent."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.ensure_future(work)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        task.result()  # a Fatal, raised
        return True
    finally:
        stopper.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
