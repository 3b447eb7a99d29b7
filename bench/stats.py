"""Load loops, percentiles and CPU accounting shared by the measurements."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.records import Cpu, Latency, Loop, Profile
from bench.stack import Stack, cpu_seconds

Op = Callable[[int], Awaitable[dict[str, float]]]  # item -> seconds per phase ("live", ...)


def summary(values: list[float]) -> Latency:
    """p50/p99/max/mean of latencies in seconds, given in milliseconds (nearest rank); an
    infinite value (not seen in time) shows as None."""
    if not values:
        return Latency()
    ordered = sorted(values)

    def ms(seconds: float) -> float | None:
        return None if math.isinf(seconds) else round(seconds * 1000, 1)

    def rank(p: float) -> float | None:
        return ms(ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))])

    return Latency(
        n=len(ordered),
        p50_ms=rank(0.50),
        p99_ms=rank(0.99),
        max_ms=ms(ordered[-1]),
        mean_ms=ms(sum(ordered) / len(ordered)),
    )


@dataclass
class Run:
    """What a closed loop did: which items succeeded, each one's phase latencies, the wall."""

    wall: float = 0.0
    done: list[int] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    capped: bool = False

    @property
    def rate(self) -> float:
        return len(self.done) / self.wall if self.wall else 0.0

    def result(self, cpu: Cpu | None = None, profile: Profile | None = None) -> Loop:
        phases = {name: summary(values) for name, values in self.latencies.items()}
        return Loop(
            count=len(self.done),
            per_second=round(self.rate, 1),
            wall_s=round(self.wall, 2),
            errors=len(self.errors),
            first_errors=self.errors[:3],
            capped=self.capped,
            accept=phases.get("accept"),
            live=phases.get("live"),
            latency=phases.get("latency"),
            cpu=cpu or Cpu(),
            profile=profile,
        )


async def closed_loop(n: int, concurrency: int, op: Op, cap_seconds: float) -> Run:
    """`concurrency` clients take items 0..n-1 in turn, each waiting for its answer; no new
    item starts after `cap_seconds` (every loop here is bounded in count and in time)."""
    run = Run()
    cursor = 0
    start = time.monotonic()
    stop_at = start + cap_seconds

    async def client() -> None:
        nonlocal cursor
        while cursor < n:
            if time.monotonic() > stop_at:
                run.capped = True
                return
            item = cursor
            cursor += 1
            try:
                phases = await op(item)
            except Exception as exc:  # counted and reported: a benchmark never hides errors
                run.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            run.done.append(item)
            for name, seconds in phases.items():
                run.latencies.setdefault(name, []).append(seconds)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.wall = time.monotonic() - start
    return run


def _machine_busy() -> float:
    """CPU seconds all cores have been busy since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Cores a stack's processes used over a span, and what the rest of the machine used."""

    def __init__(self, stack: Stack) -> None:
        self.pids = (stack.server, stack.worker, os.getpid())
        self.cpu = Cpu()

    def __enter__(self) -> Meter:
        self._wall = time.monotonic()
        self._cpu = [cpu_seconds(pid) for pid in self.pids]
        self._busy = _machine_busy()
        return self

    def __exit__(self, *_: object) -> None:
        wall = max(time.monotonic() - self._wall, 1e-6)
        server, worker, bench = (
            (cpu_seconds(pid) - before) / wall
            for pid, before in zip(self.pids, self._cpu, strict=True)
        )
        busy = (_machine_busy() - self._busy) / wall
        self.cpu = Cpu(
            server=round(server, 2),
            worker=round(worker, 2),
            bench=round(bench, 2),
            others=round(max(busy - server - worker - bench, 0.0), 2),
            machine=round(busy, 2),
            span_s=round(wall, 2),
        )


class Budget:
    """The run's time limit: loops get at most what is left after the later phases' share."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.reserve = 0.0

    def left(self) -> float:
        return self.end - time.monotonic() - self.reserve

    def cap(self, wanted: float) -> float:
        return max(2.0, min(wanted, self.left()))
