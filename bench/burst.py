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

from bench.histories import tasks
from bench.measure import open_product, open_raw
from bench.profile import profiled
from bench.raw import read_escalations
from bench.stack import Stack, raw_stack, slaflow_stack
from bench.stats import Meter, summary
from sla.calendar import WEEKDAYS

CONCURRENCY = 50
STARTUP_SECONDS = 10.0
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


def _lateness(values: list[float], expected: int, due: float, waited: float) -> dict[str, Any]:
    """Lateness over every ticket: one not escalated within `waited` seconds counts as later
    than that (its percentiles show as None, with `censored_after_s`)."""
    padded = values + [math.inf] * max(expected - len(values), 0)
    late = summary(padded)
    for key in ("p50_ms", "p99_ms", "max_ms", "mean_ms"):
        if late.get(key) == math.inf:
            late[key] = None
    return {
        "tickets": expected,
        "escalated": len(values),
        "lateness": {**late, "censored_after_s": round(waited, 1)},
        "all_escalated_after_s": round(max(values), 2) if len(values) == expected else None,
        "due_at": datetime.fromtimestamp(due, UTC).isoformat(),
    }


def _raw_lead(count: int, rate: float, max_lead: float) -> float:
    """Seconds from the raw stack's start to its deadline: enough to open `count`."""
    return min(count / rate * 1.2 + 6, max_lead)


def _raw_seconds(count: int, rate: float, max_lead: float) -> float:
    """The raw burst end to end: stack, opens, deadline, escalations (about 40 per s), stop."""
    return 5 + _raw_lead(count, rate, max_lead) + count / 40 + 10 + 3


async def raw_burst(
    count: int, rate: float, collect: float, max_lead: float, end_by: float
) -> dict[str, Any]:
    """`count` raw workflows with one deadline; lateness = the activity's start - deadline.
    Over by `end_by` (epoch seconds), waiting at most `collect` s after the deadline."""
    async with raw_stack() as stack:
        deadline = float(math.ceil(time.time() + _raw_lead(count, rate, max_lead)))
        ids = [f"burst-{i}" for i in range(count)]
        with Meter(stack.pids) as open_cpu:
            run = await open_raw(
                stack.client, ids, CONCURRENCY, deadline - time.time() - 3, deadline
            )
        opened = len(run.done)
        path = stack.data_dir / "escalations.txt"
        await asyncio.sleep(max(deadline - time.time() - 1, 0))
        until = max(min(deadline + collect, end_by), deadline + 20)
        with Meter(stack.pids) as cpu:

            async def done() -> bool:
                return len(read_escalations(path)) >= opened

            await _until(done, until)
        late = list(read_escalations(path).values())
        return {
            **_lateness(late, opened, deadline, until - deadline),
            "history": await tasks(stack.client, "burst-0") if opened else [],
            "open": run.result(cpu=open_cpu.cores),
            "cpu": cpu.cores,
        }


async def _product_collect(stack: Stack, opened: int, due: float, until: float) -> dict[str, Any]:
    store = stack.data_dir / "slaflow.sqlite3"
    await asyncio.sleep(max(due - time.time() - 1, 0))
    result: dict[str, Any] = {}
    with Meter(stack.pids) as cpu, profiled(stack.pids["slaflow"], until - due + 5, result):

        async def done() -> bool:
            return len(await asyncio.to_thread(_escalations, store)) >= opened

        await _until(done, until)
    late = [
        (_utc(recorded) - _utc(at)).total_seconds()
        for at, recorded in await asyncio.to_thread(_escalations, store)
    ]
    history = await tasks(stack.client, "ticket-burst-0") if opened else []
    return {
        **_lateness(late, opened, due, until - due),
        "cpu": cpu.cores,
        "history": history,
        **result,
    }


async def bursts(
    count: int, target: int, product_rate: float, raw_rate: float, collect: float,
    seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """Both bursts within about `seconds`. slaflow's tickets are opened first; while they wait
    for T0 (the first whole minute by which both fit), the raw burst runs with as many
    workflows, alone on the machine; then slaflow's tickets breach. A short budget means
    fewer tickets than asked, and a shorter wait for the escalations."""
    now = datetime.now(UTC)
    end = time.time() + seconds
    max_lead = max(20.0, seconds * 0.18)  # for opening slaflow's tickets
    lead = min(count / product_rate * 1.3 + 5, max_lead)
    raw_seconds = _raw_seconds(min(count, round(product_rate * lead)), raw_rate, max_lead)
    at = now + timedelta(seconds=STARTUP_SECONDS + lead + raw_seconds + 5 + 59)
    start = at.replace(second=0, microsecond=0)
    due = start.timestamp() + target
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-burst-") as tmp:
        config = Path(tmp) / "burst.yaml"
        config.write_text(burst_config(now, start, target), encoding="utf-8")
        async with slaflow_stack(config) as stack:
            assert stack.http is not None
            ids = [f"burst-{i}" for i in range(count)]
            cap = min(lead, start.timestamp() - time.time() - raw_seconds - 5)
            with Meter(stack.pids) as open_cpu:
                run = await open_product(
                    stack.http, ids, CONCURRENCY, max(cap, 5.0), priority="P1",
                    customer="burst-co",
                )  # fmt: skip
            opened = len(run.done)  # the raw side gets as many: the same burst
            raw = await raw_burst(opened, raw_rate, collect, max_lead, end_by=due - 5)
            until = max(min(due + collect, end), due + 30)
            product = await _product_collect(stack, opened, due, until)
            product["open"] = run.result(cpu=open_cpu.cores)
            product["calendar_start"] = start.isoformat()
    return {"count": count, "target_s": target, "concurrency": CONCURRENCY,
            "max_lead_s": round(max_lead), "collect_s": round(until - due),
            "raw": raw, "product": product}  # fmt: skip
