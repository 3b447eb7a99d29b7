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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from bench.histories import tasks
from bench.measure import metered, open_product, open_raw, ticket_body
from bench.profile import profiled
from bench.raw import read_escalations
from bench.records import Burst, BurstSide, Loop
from bench.stack import Stack, raw_stack, slaflow_stack
from bench.stats import Meter, summary
from sla.calendar import WEEKDAYS

CONCURRENCY = 50
STARTUP_SECONDS = 10.0
POLL = 0.5
E = TypeVar("E")  # what a side's escalations are read as


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


def _store_escalations(store: Path) -> list[tuple[str, str]]:
    """slaflow: each escalation's due time `at` and its `recorded_at`."""
    with sqlite3.connect(store, timeout=5) as db:
        rows = db.execute("SELECT at, recorded_at FROM notifications WHERE kind = 'escalation'")
        return [(str(at), str(recorded)) for at, recorded in rows]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _collect(
    stack: Stack, opened: Loop, due: float, until: float,
    escalations: Callable[[], Awaitable[list[E]]], lateness: Callable[[list[E]], list[float]],
    sample: str, spy: float | None = None,
) -> BurstSide:  # fmt: skip
    """From a second before `due` until every opened ticket escalated, or `until`: the CPU
    over it, and the lateness of every ticket (one not escalated by then counts as later
    than the wait: None, with `censored_after_s`). Polls count `escalations()`; `lateness`
    reads them once, at the end."""
    await asyncio.sleep(max(due - time.time() - 1, 0))
    with Meter(stack) as meter, profiled(stack.worker, spy) as sampled:
        for _ in range(max(1, int((until - time.time()) / POLL) + 1)):
            if len(await escalations()) >= opened.count or time.time() >= until:
                break
            await asyncio.sleep(POLL)
    late = lateness(await escalations())
    percentiles = summary(late + [math.inf] * max(opened.count - len(late), 0))
    percentiles.censored_after_s = round(until - due, 1)
    return BurstSide(
        tickets=opened.count,
        escalated=len(late),
        lateness=percentiles,
        all_escalated_after_s=round(max(late), 2) if late and len(late) == opened.count else None,
        due_at=datetime.fromtimestamp(due, UTC),
        open=opened,
        cpu=meter.cpu,
        history=await tasks(stack.client, sample) if opened.count else [],
        profile=sampled.profile,
    )


def _raw_lead(count: int, rate: float, max_lead: float) -> float:
    """Seconds from the raw stack's start to its deadline: enough to open `count`."""
    return min(count / rate * 1.2 + 6, max_lead)


def _raw_seconds(count: int, rate: float, max_lead: float) -> float:
    """The raw burst end to end: stack, opens, deadline, escalations (about 40 per s), stop."""
    return 5 + _raw_lead(count, rate, max_lead) + count / 40 + 10 + 3


async def raw_burst(
    count: int, rate: float, collect: float, max_lead: float, end_by: float
) -> BurstSide:
    """`count` raw workflows with one deadline; lateness = the activity's start - deadline.
    Over by `end_by` (epoch seconds), waiting at most `collect` s after the deadline."""
    async with raw_stack() as stack:
        deadline = float(math.ceil(time.time() + _raw_lead(count, rate, max_lead)))
        ids = [f"burst-{i}" for i in range(count)]
        cap = deadline - time.time() - 3
        _, opened = await metered(
            stack, lambda: open_raw(stack.client, ids, CONCURRENCY, cap, deadline)
        )

        async def lateness() -> list[float]:  # one per escalated workflow
            return list(read_escalations(stack.data_dir / "escalations.txt").values())

        until = max(min(deadline + collect, end_by), deadline + 20)
        return await _collect(stack, opened, deadline, until, lateness, list, "burst-0")


async def bursts(
    count: int, target: int, product_rate: float, raw_rate: float, collect: float,
    seconds: float,
) -> Burst:  # fmt: skip
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
            ids = [f"burst-{i}" for i in range(count)]

            def p1(i: int) -> dict[str, object]:
                return ticket_body(ids[i], "P1", "burst-co")

            cap = max(min(lead, start.timestamp() - time.time() - raw_seconds - 5), 5.0)
            _, opened = await metered(
                stack,
                lambda: open_product(
                    stack.http,
                    ids,
                    CONCURRENCY,
                    cap,
                    lambda i: ticket_body(ids[i], "P1", "burst-co"),
                ),
            )
            # the raw side gets as many: the same burst
            raw = await raw_burst(opened.count, raw_rate, collect, max_lead, end_by=due - 5)
            until = max(min(due + collect, end), due + 30)
            store = stack.data_dir / "slaflow.sqlite3"

            async def escalations() -> list[tuple[str, str]]:
                return await asyncio.to_thread(_store_escalations, store)

            def lateness(found: list[tuple[str, str]]) -> list[float]:
                return [(_utc(recorded) - _utc(at)).total_seconds() for at, recorded in found]

            product = await _collect(
                stack, opened, due, until, escalations, lateness, "ticket-burst-0", until - due + 5
            )
            product.calendar_start = start
    return Burst(
        count=count, target_s=target, concurrency=CONCURRENCY, max_lead_s=round(max_lead),
        collect_s=round(until - due), raw=raw, product=product,
    )  # fmt: skip
