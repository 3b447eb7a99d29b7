"""Measurement 4: escalation lateness when thousands of tickets breach in the same second.

slaflow counts a ticket's time from its open, so tickets opened one after another would be due
one after another. To make them all due at the same second, the bench's config gives them a
business calendar whose hours begin at a whole minute T0 a little ahead: every ticket opened
before T0 starts its response clock at T0 and is due at T0 + target. The raw tickets get the
same absolute deadline as their input.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.measure import open_product, open_raw
from bench.profile import profiled
from bench.raw import read_escalations
from bench.stack import Stack, raw_stack, slaflow_stack
from bench.stats import Meter, summary
from sla.calendar import WEEKDAYS

CONCURRENCY = 50
STARTUP_SECONDS = 10.0
MAX_LEAD = 75.0  # seconds at most to open slaflow's tickets: fewer tickets on a busy machine
POLL = 0.5


def burst_config(now: datetime, start: datetime, target_seconds: int) -> str:
    """The SLA config: P1 due `target_seconds` of business time after `start` (UTC, a whole
    minute); no warnings, so only the breach happens at once; the default escalation."""
    hours = {day: ["00:00-24:00"] for day in WEEKDAYS}
    hours[WEEKDAYS[start.weekday()]] = [f"{start:%H:%M}-24:00"]
    if now.weekday() != start.weekday():  # T0 is tomorrow 00:00: today is closed
        del hours[WEEKDAYS[now.weekday()]]
    week = "\n".join(f'      {day}: ["{spans[0]}"]' for day, spans in hours.items())
    return f"""# bench/burst.py: every P1 opened before {start:%H:%M} UTC is due at the same second.
default_policy: burst
calendars:
  burst-window:
    timezone: UTC
    hours:
{week}
policies:
  burst:
    calendar: burst-window
    warn_at: []
    targets:
      P1: {{response: {target_seconds}s, resolution: 2h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
"""


def _escalations(store: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(store, timeout=5) as db:
        rows = db.execute("SELECT at, recorded_at FROM notifications WHERE kind = 'escalation'")
        return [(str(at), str(recorded)) for at, recorded in rows]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _until(done: Any, deadline: float) -> None:
    """Polls `done` every half second until it is true or the deadline has passed."""
    for _ in range(max(1, int((deadline - time.time()) / POLL) + 1)):
        if await done() or time.time() >= deadline:
            return
        await asyncio.sleep(POLL)


def _lateness(values: list[float], expected: int, due: float) -> dict[str, Any]:
    return {
        "tickets": expected,
        "escalated": len(values),
        "lateness": summary(values),
        "all_escalated_after_s": round(max(values), 2) if len(values) == expected else None,
        "due_at": datetime.fromtimestamp(due, UTC).isoformat(),
    }


async def raw_burst(
    count: int, rate: float, collect: float, end_by: float | None = None
) -> dict[str, Any]:
    """`count` raw workflows with one deadline; lateness = the activity's start - deadline.
    `end_by` (epoch seconds) bounds it when it runs inside slaflow's wait."""
    async with raw_stack() as stack:
        deadline = float(math.ceil(time.time() + min(count / rate * 1.3 + 5, MAX_LEAD)))
        ids = [f"burst-{i}" for i in range(count)]
        with Meter(stack.pids) as open_cpu:
            run = await open_raw(
                stack.client, ids, CONCURRENCY, deadline - time.time() - 3, deadline
            )
        opened = len(run.done)
        path = stack.data_dir / "escalations.txt"
        await asyncio.sleep(max(deadline - time.time() - 1, 0))
        with Meter(stack.pids) as cpu:

            async def done() -> bool:
                return len(read_escalations(path)) >= opened

            await _until(done, min(deadline + collect, end_by or math.inf))
        late = list(read_escalations(path).values())
        return {
            **_lateness(late, opened, deadline),
            "open": run.result(cpu=open_cpu.cores),
            "cpu": cpu.cores,
        }


async def _product_collect(stack: Stack, opened: int, due: float, collect: float) -> dict[str, Any]:
    store = stack.data_dir / "slaflow.sqlite3"
    await asyncio.sleep(max(due - time.time() - 1, 0))
    result: dict[str, Any] = {}
    with Meter(stack.pids) as cpu, profiled(stack.pids["slaflow"], collect, result):

        async def done() -> bool:
            return len(await asyncio.to_thread(_escalations, store)) >= opened

        await _until(done, due + collect)
    late = [
        (_utc(recorded) - _utc(at)).total_seconds()
        for at, recorded in await asyncio.to_thread(_escalations, store)
    ]
    return {**_lateness(late, opened, due), "cpu": cpu.cores, **result}


async def bursts(
    count: int, target: int, product_rate: float, raw_rate: float, collect: float
) -> dict[str, Any]:
    """Both bursts. slaflow's tickets are opened first (their T0 is a whole minute, which leaves
    a wait); the raw burst runs in that wait when it fits, else after."""
    now = datetime.now(UTC)
    lead = min(STARTUP_SECONDS + count / product_rate * 1.3 + 5, MAX_LEAD)
    start = (now + timedelta(seconds=lead + 59)).replace(second=0, microsecond=0)
    due = start.timestamp() + target
    raw: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-burst-") as tmp:
        config = Path(tmp) / "burst.yaml"
        config.write_text(burst_config(now, start, target), encoding="utf-8")
        async with slaflow_stack(config) as stack:
            assert stack.http is not None
            ids = [f"burst-{i}" for i in range(count)]
            cap = start.timestamp() - time.time() - 3
            with Meter(stack.pids) as open_cpu:
                run = await open_product(
                    stack.http, ids, CONCURRENCY, cap, priority="P1", customer="burst-co"
                )
            opened = len(run.done)  # the raw side gets as many: the same burst
            raw_needs = min(opened / raw_rate * 1.3 + 5, MAX_LEAD) + 10 + 20 + 10
            if due - time.time() > raw_needs:
                raw = await raw_burst(opened, raw_rate, collect, end_by=due - 5)
                raw["ran"] = "while slaflow's tickets waited for their deadline"
            product = await _product_collect(stack, opened, due, collect)
            product["open"] = run.result(cpu=open_cpu.cores)
            product["calendar_start"] = start.isoformat()
    if raw is None or raw["escalated"] < raw["tickets"]:  # did not fit: again, alone
        raw = await raw_burst(product["tickets"], raw_rate, collect)
        raw["ran"] = "after slaflow's burst"
    return {"count": count, "target_s": target, "concurrency": CONCURRENCY,
            "raw": raw, "product": product}  # fmt: skip
