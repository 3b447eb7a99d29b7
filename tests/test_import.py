"""`slaflow import`'s own bookkeeping: the file's rows checked and named by line, each ticket's
steps sent once however often it runs, retries, refusals, Ctrl-C and a run again.

Against a small desk of this file's, served over real HTTP: it keeps tickets as the API's
answers show them and refuses as the API does, so these tests need no Temporal (seconds). What
the real API and workflows make of an import is tests/e2e/test_import.py.
"""

from __future__ import annotations

import asyncio
import io
import re
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from backfill.importer import Backoff, Importer, import_file
from backfill.progress import Progress
from backfill.rows import BadRow, FileError, Row, read
from tests.support.http import serve
from tests.support.ports import free_port
from tests.support.processes import SLAFLOW

HEADER = "ticket_id,title,priority,customer_id,opened_at,responded_at,resolved_at,assignee\n"
QUICK = Backoff(tries=40, first=0.02, cap=0.2)


@dataclass
class Desk:
    """The API's ticket endpoints as far as an import uses them, kept in memory."""

    key: str | None = None
    forbidden: str | None = None  # a 403 with this reason for every request
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)  # (step) applied, not repeated
    seen: set[str] = field(default_factory=set)  # request ids
    # Every how many requests one answers "try again" (503, then 429), 0: never.
    trouble_every: int = 0
    delay: float = 0.0
    requests: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def gate(request: Request, call_next: Any) -> Any:
            if request.url.path == "/healthz":
                return JSONResponse({"status": "ok"})
            if self.key and request.headers.get("authorization") != f"Bearer {self.key}":
                return JSONResponse({"detail": "a valid API key is needed"}, 401)
            self.requests += 1
            if self.forbidden:
                return JSONResponse({"detail": self.forbidden}, 403)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.trouble_every and self.requests % self.trouble_every == 0:
                if (self.requests // self.trouble_every) % 2:
                    return JSONResponse({"detail": "Temporal is unavailable; retry"}, 503)
                return JSONResponse({"detail": "slow down"}, 429, headers={"Retry-After": "0"})
            return await call_next(request)

        @app.post("/tickets")
        async def open_ticket(request: Request) -> JSONResponse:
            body = await request.json()
            if refused := _too_old(body["at"]):
                return refused
            same = ("title", "priority", "customer_id")
            if (ticket := self.tickets.get(body["ticket_id"])) is not None:
                if any(ticket[name] != body[name] for name in same):
                    return JSONResponse({"detail": "ticket id already used"}, 409)
                return JSONResponse(ticket, 200)
            self.applied["open"] += 1
            ticket = {name: body[name] for name in ("ticket_id", *same)} | {
                "status": "open",
                "assignee": None,
                "created_at": body["at"],
                "resolved_at": None,
                "response": {"completed_at": None},
                "resolution": {"completed_at": None},
                "earlier_resolutions": [],
            }
            # Its past (the row's events) applies as it opens, as the API applies it.
            for event in body.get("events", []):
                step = {"respond": "/respond", "resolve": "/resolve", "change": ""}[event["action"]]
                if (refused := self.apply(ticket, step, event)) is not None:
                    return refused
            self.tickets[body["ticket_id"]] = ticket
            return JSONResponse(ticket, 201)

        @app.api_route("/tickets/{ticket_id}{step:path}", methods=["POST", "PATCH"])
        async def act(ticket_id: str, step: str, request: Request) -> JSONResponse:
            body = await request.json()
            ticket = self.tickets[ticket_id]
            if body["request_id"] in self.seen:
                return JSONResponse(ticket)
            if (refused := self.apply(ticket, step, body)) is not None:
                return refused
            self.seen.add(body["request_id"])
            return JSONResponse(ticket)

        return app

    def apply(self, ticket: dict[str, Any], step: str, body: dict[str, Any]) -> JSONResponse | None:
        """A step on the ticket, counted; the refusal, if the desk refuses it."""
        if refused := _too_old(body["at"]):
            return refused
        if step == "/respond":
            ticket["response"]["completed_at"] = body["at"]
            ticket["status"] = "responded"
            # Without agent_id, the key's own name (here always "ops").
            ticket["assignee"] = ticket["assignee"] or body.get("agent_id", "ops")
        elif step == "/resolve":
            if ticket["status"] == "resolved":
                return JSONResponse({"detail": "cannot resolve: the ticket is resolved"}, 409)
            answered = ticket["response"]["completed_at"] or body["at"]
            ticket["response"]["completed_at"] = answered
            ticket["status"], ticket["resolved_at"] = "resolved", body["at"]
        else:
            ticket["assignee"] = body["assignee"]
        self.applied[step or "assign"] += 1
        return None


def _too_old(at: str) -> JSONResponse | None:
    if datetime.fromisoformat(at) < datetime.now(UTC) - timedelta(days=30):
        return JSONResponse({"detail": f"at {at} is more than 30 days back"}, 422)
    return None


@pytest.fixture
async def desk() -> AsyncIterator[tuple[Desk, str]]:
    kept = Desk()
    async with serve(kept.app(), free_port()) as url:
        yield kept, url


def write_csv(path: Path, count: int, start: datetime | None = None) -> Path:
    """`count` tickets an hour back and on: every third answered, every fifth resolved, every
    seventh with an assignee."""
    start = start or datetime.now(UTC) - timedelta(hours=2)
    lines = [HEADER]
    for n in range(count):
        opened = start + timedelta(seconds=n)
        responded = (opened + timedelta(minutes=5)).isoformat() if n % 3 == 0 else ""
        resolved = (opened + timedelta(minutes=30)).isoformat() if n % 5 == 0 else ""
        assignee = "alice" if n % 7 == 0 else ""
        lines.append(
            f"T-{n},Ticket {n},P{n % 3 + 1},acme,{opened.isoformat()},{responded},{resolved},"
            f"{assignee}\n"
        )
    path.write_text("".join(lines), encoding="utf-8")
    return path


async def until(happened: Callable[[], bool], seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.01)):
        if happened():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {seconds} s")


async def run(path: Path, url: str, key: str | None = None, **options: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = await import_file(
        path, url, key, out=out, err=io.StringIO(), backoff=options.pop("backoff", QUICK), **options
    )
    return code, out.getvalue()


def test_each_row_is_checked_and_a_bad_one_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "desk.csv"
    path.write_text(
        "\ufeff"  # a spreadsheet's byte-order mark
        "Ticket_ID, title ,priority,customer_id,opened_at,responded_at,resolved_at,assignee\n"
        "T-1,VPN down,p1,acme,2026-11-27T09:15:00+00:00,2026-11-27T09:20:00Z,,alice\n"
        '"T-2","Two\nlines",P2,acme,2026-11-27T09:15:00+01:00,,,\n'
        "\n"
        "T-3,Bad priority,P9,acme,2026-11-27T09:15:00+00:00,,,\n"
        "T-4,No offset,P3,acme,2026-11-27T09:15:00,,,\n"
        "T-5,Answered first,P3,acme,2026-11-27T09:15:00+00:00,2026-11-27T09:00:00+00:00,,\n"
        "T-1,Again,P1,acme,2026-11-27T09:15:00+00:00,,,\n"
        "T 7,Space in the id,P1,acme,2026-11-27T09:15:00+00:00,,,\n"
        "T-8,Too few cells,P1\n"
        ",No id,P1,acme,2026-11-27T09:15:00+00:00,,,\n",
        encoding="utf-8",
    )
    rows = read(path)
    assert rows[0] == Row(
        line=2,
        ticket_id="T-1",
        title="VPN down",
        priority="P1",
        customer_id="acme",
        opened_at=datetime(2026, 11, 27, 9, 15, tzinfo=UTC),
        responded_at=datetime(2026, 11, 27, 9, 20, tzinfo=UTC),
        assignee="alice",
    )
    assert isinstance(rows[1], Row) and (rows[1].line, rows[1].title) == (3, "Two\nlines")
    assert rows[2:] == [
        BadRow(6, "T-3", "priority 'P9' is not one of P1, P2, P3"),
        BadRow(7, "T-4", "opened_at '2026-11-27T09:15:00' has no UTC offset (add +00:00 or Z)"),
        BadRow(8, "T-5", "responded_at is before opened_at"),
        BadRow(9, "T-1", "ticket_id already on line 2"),
        BadRow(10, "T 7", "ticket_id 'T 7' is not 1-64 characters of A-Z a-z 0-9 . _ -"),
        BadRow(11, "T-8", "3 cells where the header has 8"),
        BadRow(12, None, "ticket_id is empty"),
    ]


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("ticket_id,title,priority,customer_id\n", "lacks the column(s) opened_at"),
        (HEADER.replace("resolved_at", "resloved_at"), "unknown column(s) 'resloved_at'"),
        ("", "is empty"),
    ],
)
def test_a_file_without_the_columns_is_refused_whole(
    tmp_path: Path, header: str, says: str
) -> None:
    path = tmp_path / "desk.csv"
    path.write_text(header, encoding="utf-8")
    with pytest.raises(FileError, match=says.replace("(", r"\(").replace(")", r"\)")):
        read(path)


async def test_a_run_again_finds_every_ticket_there_and_applies_nothing_twice(
    tmp_path: Path, desk: tuple[Desk, str]
) -> None:
    kept, url = desk
    path = write_csv(tmp_path / "desk.csv", 300)

    code, summary = await run(path, url, concurrency=12)
    assert code == 0, summary
    assert "300 of 300 rows" in summary and "300 opened, 0 already there, 0 refused" in summary
    applied = dict(kept.applied)
    # Every 3rd answered (100), every 5th resolved (60), every 7th assigned unless answered.
    assert applied == {"open": 300, "/respond": 100, "/resolve": 60, "assign": 28}

    code, summary = await run(path, url, concurrency=12)
    assert (code, kept.applied) == (0, applied)
    assert "0 opened, 300 already there, 0 refused" in summary

    t0, t7, t5 = kept.tickets["T-0"], kept.tickets["T-7"], kept.tickets["T-5"]
    assert (t0["status"], t0["assignee"]) == ("resolved", "alice")
    assert (t7["status"], t7["assignee"]) == ("open", "alice")
    assert t5["resolved_at"] is not None and t5["response"]["completed_at"] == t5["resolved_at"]
    # Without a key the names stand: a row without an assignee is answered by "import".
    assert kept.tickets["T-3"]["assignee"] == "import"


async def test_refused_rows_are_listed_with_the_reason_and_the_run_goes_on(
    tmp_path: Path, desk: tuple[Desk, str]
) -> None:
    kept, url = desk
    now = datetime.now(UTC)
    kept.tickets["T-2"] = {"title": "Someone else's", "priority": "P1", "customer_id": "acme"}
    path = tmp_path / "desk.csv"
    path.write_text(
        HEADER
        + f"T-1,Fine,P1,acme,{(now - timedelta(hours=1)).isoformat()},,,\n"
        + f"T-2,Different title,P1,acme,{(now - timedelta(hours=1)).isoformat()},,,\n"
        + f"T-3,Too old,P2,acme,{(now - timedelta(days=40)).isoformat()},,,\n"
        + "T-4,Bad,P7,acme,2026-11-27T09:15:00+00:00,,,\n"
        + f"T-5,Old answer,P2,acme,{(now - timedelta(days=29, hours=23, minutes=59)).isoformat()},"
        + f"{(now - timedelta(days=29)).isoformat()},,\n",
        encoding="utf-8",
    )
    code, summary = await run(path, url)
    assert code == 1
    assert "2 opened, 0 already there, 3 refused" in summary
    assert "  line 3 (T-2): not opened (409): ticket id already used" in summary
    assert "  line 4 (T-3): not opened (422): at " in summary and "more than 30 days" in summary
    assert "  line 5 (T-4): priority 'P7' is not one of P1, P2, P3" in summary
    # T-5 opened a minute inside the 30 days, its answer is still inside: it went in.
    assert "T-5" in kept.tickets and kept.applied["/respond"] == 1


async def test_try_again_answers_and_a_restarted_api_are_retried_until_everything_is_in(
    tmp_path: Path,
) -> None:
    kept = Desk(trouble_every=4)  # every 4th request a 503 or a 429
    port = free_port()
    path = write_csv(tmp_path / "desk.csv", 150)
    async with serve(kept.app(), port) as url:
        importing = asyncio.create_task(run(path, url, concurrency=8))
        await until(lambda: kept.applied["open"] >= 40)
    # The API is gone for a moment: connections refused, then it is back on the same port.
    await asyncio.sleep(0.3)
    assert not importing.done()
    async with serve(kept.app(), port):
        code, summary = await importing
    assert code == 0, summary
    assert kept.applied["open"] == 150 and kept.applied["/respond"] == 50
    assert "150 of 150 rows" in summary


async def test_a_request_that_never_gets_through_refuses_its_row_only(tmp_path: Path) -> None:
    kept = Desk(trouble_every=1)  # 503 and 429 for ever
    async with serve(kept.app(), free_port()) as url:
        path = write_csv(tmp_path / "desk.csv", 2)
        code, summary = await run(path, url, backoff=Backoff(tries=3, first=0.01))
    assert code == 1
    assert re.search(r"line 2 \(T-0\): gave up after 3 tries, the last: (503|429) ", summary)


async def test_a_refused_key_stops_the_run_and_the_key_is_sent_as_bearer(
    tmp_path: Path, desk: tuple[Desk, str]
) -> None:
    kept, url = desk
    kept.key = "k" * 32
    path = write_csv(tmp_path / "desk.csv", 20)
    with pytest.raises(SystemExit, match=r"the API refuses the key \(401\)"):
        await run(path, url, "wrong-key-wrong-key")
    assert kept.tickets == {}
    code, summary = await run(path, url, kept.key)
    assert code == 0 and len(kept.tickets) == 20, summary
    # With a key, a row without an assignee leaves agent_id to the key's own name.
    assert kept.tickets["T-3"]["assignee"] == "ops"


async def test_a_key_whose_role_may_not_date_events_stops_the_run(
    tmp_path: Path, desk: tuple[Desk, str]
) -> None:
    kept, url = desk
    kept.forbidden = "an agent key may not send `at`"
    path = write_csv(tmp_path / "desk.csv", 50)
    with pytest.raises(SystemExit, match=r"refuses the key \(403\): an agent key may not"):
        await run(path, url, "agent-key")
    assert kept.requests < 20  # stopped at once, not a 403 for each of the 50 rows


async def test_an_api_that_is_not_there_fails_at_once(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "desk.csv", 2)
    with pytest.raises(SystemExit, match=re.escape("cannot reach the API at http://127.0.0.1:1 ")):
        await run(path, "http://127.0.0.1:1")


def test_steps_are_what_the_ticket_still_lacks() -> None:
    row = Row(2, "T-1", "t", "P1", "acme", datetime(2026, 11, 27, tzinfo=UTC),
              responded_at=datetime(2026, 11, 27, 0, 5, tzinfo=UTC),
              resolved_at=datetime(2026, 11, 27, 1, tzinfo=UTC))  # fmt: skip
    importer = Importer(httpx.AsyncClient(), agent="import")
    fresh = {"status": "open", "response": {"completed_at": None}, "earlier_resolutions": []}
    assert [s[0] for s in importer.steps(row, fresh)] == ["respond", "resolve"]
    answered = fresh | {"status": "responded", "response": {"completed_at": "x"}}
    assert [s[0] for s in importer.steps(row, answered)] == ["resolve"]
    # Resolved, or resolved once and reopened since by the desk: nothing to send.
    assert list(importer.steps(row, fresh | {"status": "closed"})) == []
    assert list(importer.steps(row, fresh | {"earlier_resolutions": [{}]})) == []


def test_an_assignment_is_dated_no_earlier_than_what_the_ticket_recorded() -> None:
    opened = datetime(2026, 11, 27, 9, tzinfo=UTC)
    row = Row(2, "T-1", "t", "P3", "acme", opened, assignee="bob")
    importer = Importer(httpx.AsyncClient(), agent="import")
    fresh = {"status": "open", "assignee": None, "updated_at": opened.isoformat()}
    [(_, _, _, body)] = importer.steps(row, fresh)
    assert body == {"assignee": "bob", "at": opened.isoformat()}
    # Opened five hours back on a 4-hour target: breached at once, at 13:00.
    breached = fresh | {"response": {"breached_at": "2026-11-27T13:00:00+00:00"}}
    [(_, _, _, body)] = importer.steps(row, breached)
    assert body["at"] == "2026-11-27T13:00:00+00:00"
    assert list(importer.steps(row, fresh | {"assignee": "carol"})) == []  # the desk's stands


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_redrawn_on_a_terminal_and_logged_by_tenths_elsewhere() -> None:
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(40, stream)
        for n in range(40):
            progress.count("refused" if n == 3 else "opened")
        progress.finish()
    drawn = terminal.getvalue()
    assert drawn.startswith("\r[") and drawn.endswith("\n")
    assert drawn.rsplit("\r", 1)[1].startswith(
        f"[{'#' * 30}] 40/40 100%  opened 39, already there  0, refused  1  "
    )
    assert drawn.count("\n") == 1
    logged = log.getvalue().splitlines()
    assert len(logged) == 10 and "\r" not in log.getvalue()
    assert logged[0].startswith(f"[{'#' * 3:<30}]  4/40  10%  opened  3,")


async def test_ctrl_c_stops_the_command_and_running_it_again_imports_the_rest(
    tmp_path: Path, desk: tuple[Desk, str]
) -> None:
    """The real command: SIGINT mid-run stops it with a summary (130); the same command again
    imports the rest, with every ticket opened once."""
    kept, url = desk
    kept.delay = 0.005
    path = write_csv(tmp_path / "desk.csv", 600)
    env = {"SLAFLOW_API_URL": url, "PATH": "/usr/bin:/bin"}

    async def slaflow_import() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            SLAFLOW, "import", str(path), "--concurrency", "4", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

    first = await slaflow_import()
    await until(lambda: kept.applied["open"] >= 100)
    first.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(first.communicate(), 30)
    assert first.returncode == 130, err.decode()
    assert "interrupted: " in out.decode() and "run the same command again" in out.decode()
    assert 100 <= kept.applied["open"] < 600

    kept.delay = 0
    second = await slaflow_import()
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, out.decode() + err.decode()
    assert kept.applied["open"] == 600 and len(kept.tickets) == 600
    assert kept.applied["/respond"] == 200 and kept.applied["/resolve"] == 120
    assert "600 of 600 rows" in out.decode() and "already there" in out.decode()
    assert "[" in err.decode()  # the progress, a line per tenth (stderr is not a terminal)
