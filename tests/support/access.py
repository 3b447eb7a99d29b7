"""Access control's shared parts (docs/api.md, "Access"): a keys file with every role, the table of
every endpoint with the status each caller gets, and calls made with a role's key.

tests/api runs the rows no ticket takes part in, against the app without Temporal; tests/e2e
the rows that open, list or act on tickets, against a real worker.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from tests.support.http import asgi_client

MINE, THEIRS = "acme-e2e", "globex-e2e"  # customers of tests/support/sla-test.yaml
WRONG_KEY = "not-a-key-of-this-server-0123456789"
INCIDENT = {"started_at": "2001-01-01T00:00:00Z", "service": "access-e2e", "note": "drill"}

T = "/tickets/{tid}"
CAL = "/calendars/berlin-office"
Row = tuple[str, str, str, Any, tuple[str, ...], tuple[int, int, int, int | None]]
# name, method, path, body, given, expected status for (admin, agent, the customer key on its own
# ticket or customer, the customer key on another customer's); None: the row has no "another's".
# `given`: what an admin does to a fresh ticket first, so the action under test can apply.
ROWS: list[Row] = [
    ("open", "POST", "/tickets", {"title": "x", "priority": "P3", "customer_id": "{customer}"},
     (), (201, 201, 201, 403)),
    ("list", "GET", "/tickets", None, (), (200, 200, 200, None)),
    ("read", "GET", T, None, (), (200, 200, 200, 404)),
    ("history", "GET", T + "/history", None, (), (200, 200, 403, 404)),
    ("timeline", "GET", T + "/timeline", None, (), (200, 200, 200, 404)),
    # No author: with keys, each key comments as itself (docs/api.md, "Access").
    ("comment", "POST", T + "/comments", {"body": "any news?"}, (), (200, 200, 200, 404)),
    ("reopen", "POST", T + "/reopen", {"reason": "still down"}, ("resolve",),
     (200, 200, 200, 404)),
    # An open ticket cannot be reopened: the 409 comes from the workflow's validator, so it still
    # proves the role was let through; another customer's ticket is 404 before any state is read.
    ("reopen-open-ticket", "POST", T + "/reopen", {}, (), (409, 409, 409, 404)),
    # A customer rates its own resolved ticket; staff record a rating given elsewhere.
    ("rate", "POST", T + "/rating", {"score": 5}, ("resolve",), (200, 200, 200, 404)),
    ("respond", "POST", T + "/respond", {"agent_id": "alice"}, (), (200, 200, 403, 403)),
    ("resolve", "POST", T + "/resolve", {"agent_id": "alice"}, (), (200, 200, 403, 403)),
    ("pause", "POST", T + "/pause", {"reason": "logs"}, (), (200, 200, 403, 403)),
    ("resume", "POST", T + "/resume", {}, ("pause",), (200, 200, 403, 403)),
    ("close", "POST", T + "/close", {}, ("resolve",), (200, 200, 403, 403)),
    ("patch", "PATCH", T, {"assignee": "bob"}, (), (200, 200, 403, 403)),
    # Repairs change the promise itself: admins only; staff follow a bulk repair.
    ("repair", "POST", T + "/repair", {"reason": "config fixed"}, (), (200, 403, 403, 403)),
    ("repair-policy", "POST", "/policies/standard/repair", {"reason": "drill", "dry_run": True},
     (), (202, 403, 403, None)),
    ("repair-progress", "GET", "/repairs/repair-" + "0" * 32, None, (), (404, 404, 403, None)),
    ("policies", "GET", "/policies", None, (), (200, 200, 403, None)),
    ("what-if", "POST", "/policies/what-if",
     {"from": "2001-01-01", "to": "2001-01-31", "policy": "standard"}, (), (200, 200, 403, None)),
    ("calendars", "GET", "/calendars", None, (), (200, 200, 403, None)),
    ("preview", "GET", CAL + "/preview?start=2026-01-05T08:00:00Z&duration=8h", None, (),
     (200, 200, 403, None)),
    ("business-time", "GET", CAL + "/business-time?start=2026-01-05T00:00:00Z"
     "&end=2026-01-06T00:00:00Z", None, (), (200, 200, 403, None)),
    ("report", "GET", "/reports/sla?from=2025-12-01&to=2025-12-31", None, (),
     (200, 200, 403, None)),
    # Staff read every customer's statement (docs/api.md, "Access").
    ("statement", "GET", "/customers/{customer}/statement?month=2025-12", None, (),
     (200, 200, 200, 404)),
    ("availability", "GET", "/availability?month=2025-12", None, (), (200, 200, 403, None)),
    ("incident-open", "POST", "/availability/incidents", INCIDENT, (), (201, 403, 403, None)),
    ("incident-end", "PATCH", "/availability/incidents/{incident}",
     {"ended_at": "2001-01-01T01:00:00Z"}, (), (200, 403, 403, None)),
    ("metrics", "GET", "/metrics", None, (), (200, 200, 403, None)),
    ("notifications-test", "POST", "/notifications/test", {"target": "webhook:e2e-down"}, (),
     (200, 403, 403, None)),
    ("deliveries", "GET", "/deliveries", None, (), (200, 200, 403, None)),
    ("retry-delivery", "POST", "/deliveries/" + "0" * 32 + "/retry", None, (),
     (404, 403, 403, None)),
]  # fmt: skip
CALLERS = {
    "admin": "admin",
    "agent": "agent",
    "mine": "acme",
    "theirs": "acme",
    "integration": "integration",
}
# An integration key (a help desk's connector, a backfill) opens tickets for any customer and
# works them, and does nothing else: every row not named here is 403 for it.
INTEGRATION = {
    "open": 201,
    "read": 200,
    "comment": 200,
    "reopen": 200,
    "reopen-open-ticket": 409,
    "rate": 200,
    "respond": 200,
    "resolve": 200,
    "pause": 200,
    "resume": 200,
    "close": 200,
    "patch": 200,
}


def with_tickets(row: Row) -> bool:
    """The row opens, lists or acts on tickets (a bulk repair too): only a real worker answers
    it."""
    return "{tid}" in row[2] or row[0] in ("open", "list", "repair-policy", "repair-progress")


def role_cases(rows: list[Row]) -> list[Any]:
    """(row, caller, expected status) for each caller a row names a status for."""
    return [
        pytest.param(row, caller, status, id=f"{row[0]}-{caller}")
        for row in rows
        for caller, status in zip(CALLERS, (*row[5], INTEGRATION.get(row[0], 403)), strict=True)
        if status is not None
    ]


def fill(value: Any, values: dict[str, str]) -> Any:
    """`value` (a path or a body) with its {placeholders} filled in."""
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


def write_keys(path: Path) -> dict[str, str]:
    """A keys file: admin, agent, integration, and customer keys for MINE (acme) and THEIRS
    (globex). The keys, by who holds them."""
    keys = {
        who: secrets.token_urlsafe(24)
        for who in ("admin", "agent", "acme", "globex", "integration")
    }
    entries = [
        {"name": "ops", "key": keys["admin"], "role": "admin"},
        {"name": "desk-sync", "key": keys["integration"], "role": "integration"},
        {"name": "alice", "key": keys["agent"], "role": "agent"},
        {"name": "acme-portal", "key": keys["acme"], "role": "customer", "customer_id": MINE},
        {"name": "globex-portal", "key": keys["globex"], "role": "customer", "customer_id": THEIRS},
    ]
    path.write_text(yaml.safe_dump({"keys": entries}))
    return keys


@dataclass
class Keyed:
    """A client to an app with the keys file of `write_keys`, and those keys."""

    http: httpx.AsyncClient
    keys: dict[str, str]  # admin, agent, acme (customer acme-e2e), globex (customer globex-e2e)


@asynccontextmanager
async def keyed_app(build: Callable[[Path], FastAPI], keys_file: Path) -> AsyncIterator[Keyed]:
    """The app `build` makes for a keys file (written at `keys_file` by `write_keys`),
    in-process, and its keys."""
    keys = write_keys(keys_file)
    async with asgi_client(build(keys_file)) as http:
        yield Keyed(http, keys)


async def call(
    k: Keyed, who: str | None, method: str, path: str, body: Any = None, **headers: str
) -> httpx.Response:
    """One request with `who`'s key (none for None)."""
    if who is not None:
        headers["Authorization"] = f"Bearer {k.keys[who]}"
    return await k.http.request(method, path, json=body, headers=headers)


async def placeholders(k: Keyed, caller: str, path: str) -> dict[str, str]:
    """Values for a row's placeholders but {tid}: the caller's customer, or another's for
    "theirs"; an incident the admin opened, if the path names one."""
    values = {"customer": THEIRS if caller == "theirs" else MINE}
    if "{incident}" in path:
        opened = await call(k, "admin", "POST", "/availability/incidents", INCIDENT)
        values["incident"] = opened.json()["id"]
    return values


async def call_row(k: Keyed, row: Row, caller: str, values: dict[str, str]) -> httpx.Response:
    """The row's request as `caller`, its placeholders filled."""
    _, method, path, body, _, _ = row
    return await call(k, CALLERS[caller], method, fill(path, values), fill(body, values))


def assert_answered(response: httpx.Response, expected: int) -> None:
    """The status expected; a refusal says why."""
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.json()["detail"]
