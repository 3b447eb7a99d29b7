"""`slaflow import` against the running product: the real command, over HTTP, into the real API
and workflows (README, "Importing tickets").

A file of 1,000 tickets imported twice opens 1,000 tickets, then finds them all already
there; the times of the file are the tickets' times; a bad row and a row the API refuses are
reported by line and the rest goes in; with keys, an integration key imports and names the
file's agents, and an agent key, which may not date events, stops the run at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from store import Store
from tests.support.access import write_keys
from tests.support.http import serve
from tests.support.ports import free_port
from tests.support.processes import SLAFLOW

pytestmark = pytest.mark.e2e

HEADER = "ticket_id,title,priority,customer_id,opened_at,responded_at,resolved_at,assignee\n"


def priority(n: int) -> str:
    return "P2" if n % 20 == 0 else "P3"


def desk_file(path: Path, customer: str, count: int, now: datetime) -> Path:
    """`count` tickets opened a second apart from 30 minutes back (each step of each is past,
    for up to 1,200 rows): every 10th answered 2 minutes in, every
    20th resolved 4 minutes in (P2), every 25th assigned to alice; the rest P3, whose first
    deadline is hours away, so the session's worker has nothing to breach while other tests
    run. Then a bad row and one from 40 days back."""
    start = now - timedelta(minutes=30)
    lines = [HEADER]
    for n in range(count):
        opened = start + timedelta(seconds=n)
        responded = (opened + timedelta(minutes=2)).isoformat() if n % 10 == 0 else ""
        resolved = (opened + timedelta(minutes=4)).isoformat() if n % 20 == 0 else ""
        assignee = "alice" if n % 25 == 0 else ""
        lines.append(
            f"{customer}-{n},Imported {n},{priority(n)},{customer},{opened.isoformat()},"
            f"{responded},{resolved},{assignee}\n"
        )
    lines.append(f"{customer}-bad,Bad priority,P9,{customer},{start.isoformat()},,,\n")
    lines.append(
        f"{customer}-old,Too old,P3,{customer},{(now - timedelta(days=40)).isoformat()},,,\n"
    )
    path.write_text("".join(lines), encoding="utf-8")
    return path


async def slaflow_import(path: Path, url: str, key: str | None = None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLAFLOW_", "TEMPORAL_"))}
    env |= {"SLAFLOW_API_URL": url} | ({"SLAFLOW_API_KEY": key} if key else {})
    process = await asyncio.create_subprocess_exec(
        SLAFLOW, "import", str(path), "--concurrency", "16", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def listed(http: httpx.AsyncClient, customer: str, count: int) -> list[dict[str, Any]]:
    """The customer's tickets as visibility lists them, once it lists `count` (it lags)."""
    tickets: list[dict[str, Any]] = []
    for _ in range(200):
        page = await http.get("/tickets", params={"customer_id": customer, "page_size": 1000})
        tickets = page.json()["tickets"]
        if len(tickets) >= count:
            return tickets
        await asyncio.sleep(0.1)
    raise AssertionError(f"visibility lists {len(tickets)} of {count} tickets")


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@pytest.mark.slow
async def test_a_thousand_rows_imported_twice_open_a_thousand_tickets_at_their_own_times(
    api_url: str, http: httpx.AsyncClient, customer: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    path = desk_file(tmp_path / "desk.csv", customer, 1_000, now)

    started = time.monotonic()
    code, out, err = await slaflow_import(path, api_url)
    first_seconds = time.monotonic() - started
    assert code == 1, out + err  # two rows refused
    assert "1,002 of 1,002 rows" in out
    assert "1,000 opened, 0 already there, 2 refused" in out, out
    assert f"  line 1002 ({customer}-bad): priority 'P9' is not one of P1, P2, P3" in out
    assert re.search(rf"  line 1003 \({customer}-old\): not opened \(422\): .*30 days", out), out
    assert "1,002/1,002 100%" in err  # the progress, a line per tenth off a terminal

    tickets = await listed(http, customer, 1_000)
    assert len(tickets) == 1_000

    start = now - timedelta(minutes=30)
    for n in (0, 10, 20, 25, 37, 999):
        opened = start + timedelta(seconds=n)
        ticket = (await http.get(f"/tickets/{customer}-{n}")).json()
        assert at(ticket["created_at"]) == opened
        assert ticket["priority"] == priority(n)
        answered = opened + timedelta(minutes=2 if n % 10 == 0 else 4)
        if n % 10 == 0 or n % 20 == 0:
            assert at(ticket["response"]["completed_at"]) == answered, ticket["response"]
            assert ticket["response"]["state"] == "met"
        else:
            assert ticket["response"]["completed_at"] is None
        if n % 20 == 0:
            assert ticket["status"] == "resolved"
            assert at(ticket["resolved_at"]) == opened + timedelta(minutes=4)
            assert ticket["resolution"]["elapsed_seconds"] == 4 * 60
        else:
            assert ticket["status"] == ("responded" if n % 10 == 0 else "open")
        assert ticket["assignee"] == ("alice" if n % 25 == 0 else "import" if n % 10 == 0 else None)
    timeline = (await http.get(f"/tickets/{customer}-20/timeline")).json()["entries"]
    assert [(e["kind"], e["actor"]) for e in timeline[:3]] == [
        ("opened", customer), ("responded", "import"), ("resolved", "import"),
    ]  # fmt: skip
    assert "received_at" in timeline[0]["detail"]

    started = time.monotonic()
    code, out, err = await slaflow_import(path, api_url)
    second_seconds = time.monotonic() - started
    assert code == 1, out + err
    assert "0 opened, 1,000 already there, 2 refused" in out, out
    assert len(await listed(http, customer, 1_000)) == 1_000
    again = (await http.get(f"/tickets/{customer}-20/timeline")).json()["entries"]
    assert again == timeline  # nothing applied twice
    print(f"1,000 rows: {first_seconds:.1f} s, again {second_seconds:.1f} s")
    # 11-16 s and 10-16 s on 2 shared cores (31-38 s first, when the answers were requests
    # of their own), near what the in-process API opens per second
    # (docs/benchmarks.md): a guard against rows sent one at a time, not a benchmark.
    assert first_seconds < 120 and second_seconds < 120


async def test_an_integration_key_imports_naming_the_desks_agents_an_agent_key_cannot(
    dev_env: WorkflowEnvironment,
    e2e_settings: Settings,
    store: Store,
    api_url: str,
    customer: str,
    tmp_path: Path,
) -> None:
    """With keys (an API of its own beside the session's, whose worker runs the tickets): the
    import's key goes as a bearer token; an integration key acts for the file's assignees; an
    agent key may not date events, so the run stops at its first 403, with the API's reason."""
    keys_file = tmp_path / "keys.yaml"
    keys = write_keys(keys_file)
    settings = e2e_settings.model_copy(update={"api_keys_file": keys_file})
    now = datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "desk.csv"
    path.write_text(
        HEADER
        + f"{customer}-1,Answered,P2,{customer},{(now - timedelta(minutes=9)).isoformat()},"
        + f"{(now - timedelta(minutes=8)).isoformat()},,bob\n"
        + f"{customer}-2,Assigned only,P3,{customer},{(now - timedelta(minutes=7)).isoformat()},"
        + ",,carol\n",
        encoding="utf-8",
    )
    app = create_app(settings, dev_env.client, store)
    async with serve(app, free_port()) as url:
        code, out, err = await slaflow_import(path, url, keys["agent"])
        assert code == 1, out + err
        assert "slaflow: the API refuses the key (403): " in err
        assert "key may not send `at`: only admin and integration keys" in err

        code, out, err = await slaflow_import(path, url, keys["integration"])
        assert code == 0, out + err
        assert "2 opened" in out
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        async with httpx.AsyncClient(base_url=url, headers=admin, timeout=60) as http:
            answered = (await http.get(f"/tickets/{customer}-1")).json()
            assigned = (await http.get(f"/tickets/{customer}-2")).json()
            timeline = (await http.get(f"/tickets/{customer}-2/timeline")).json()["entries"]
    assert answered["assignee"] == "bob" and answered["response"]["state"] == "met"
    assert at(answered["response"]["completed_at"]) == now - timedelta(minutes=8)
    assert assigned["assignee"] == "carol" and assigned["status"] == "open"
    assigned_entry = next(e for e in timeline if e["kind"] == "assigned")
    assert at(assigned_entry["at"]) == now - timedelta(minutes=7)


async def test_an_open_ticket_past_its_deadline_is_breached_as_it_was_and_still_assigned(
    api_url: str, http: httpx.AsyncClient, customer: str, tmp_path: Path
) -> None:
    """The desk's open backlog: a P3 opened five hours back and never answered breached its
    4-hour response target an hour ago; it is imported breached, dated then, and assigned
    from its opening (the assignment comes with it, before the deadline is checked)."""
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    path = tmp_path / "desk.csv"
    path.write_text(
        HEADER + f"{customer}-1,Backlog,P3,{customer},{opened.isoformat()},,,bob\n",
        encoding="utf-8",
    )
    code, out, err = await slaflow_import(path, api_url)
    assert code == 0, out + err
    ticket = (await http.get(f"/tickets/{customer}-1")).json()
    due = opened + timedelta(hours=4)
    assert ticket["response"]["state"] == "breached"
    assert at(ticket["response"]["breached_at"]) == due
    assert ticket["assignee"] == "bob"
    timeline = (await http.get(f"/tickets/{customer}-1/timeline")).json()["entries"]
    assigned = next(e for e in timeline if e["kind"] == "assigned")
    assert at(assigned["at"]) == opened


async def test_a_ticket_answered_in_time_hours_ago_imports_as_met(
    api_url: str, http: httpx.AsyncClient, customer: str, tmp_path: Path
) -> None:
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    answered, resolved = opened + timedelta(minutes=5), opened + timedelta(minutes=30)
    path = tmp_path / "desk.csv"
    path.write_text(
        HEADER + f"{customer}-1,Long ago,P1,{customer},{opened.isoformat()},"
        f"{answered.isoformat()},{resolved.isoformat()},\n",
        encoding="utf-8",
    )
    code, out, err = await slaflow_import(path, api_url)
    assert code == 0, out + err
    ticket = (await http.get(f"/tickets/{customer}-1")).json()
    assert (ticket["response"]["state"], ticket["resolution"]["state"]) == ("met", "met")
    assert ticket["ever_breached"] is False and ticket["escalations"] == []
