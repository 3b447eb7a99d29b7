"""Load loops, percentiles and CPU accounting shared by the measurements."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stack import cpu_seconds

Op = Callable[[int], Awaitable[dict[str, float]]]


def summary(values: list[float]) -> dict[str, Any]:
    """p50/p99/max/mean of latencies in seconds, given in milliseconds (nearest rank)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50_ms": round(rank(0.50) * 1000, 1),
        "p99_ms": round(rank(0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 1),
    }


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

    def result(self, **extra: Any) -> dict[str, Any]:
        return {
            "count": len(self.done),
            "per_second": round(self.rate, 1),
            "wall_s": round(self.wall, 2),
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "capped": self.capped,
            **{name: summary(values) for name, values in self.latencies.items()},
            **extra,
        }


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
    """Cores each process used over a span, and what the rest of the machine used meanwhile."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = {**pids, "bench": os.getpid()}

    def __enter__(self) -> Meter:
        self._wall = time.monotonic()
        self._cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._busy = _machine_busy()
        return self

    def __exit__(self, *_: object) -> None:
        wall = max(time.monotonic() - self._wall, 1e-6)
        used = {
            name: (cpu_seconds(pid) - self._cpu[name]) / wall for name, pid in self.pids.items()
        }
        busy = (_machine_busy() - self._busy) / wall
        self.cores = {name: round(value, 2) for name, value in used.items()}
        self.cores["machine"] = round(busy, 2)
        self.cores["span_s"] = round(wall, 2)
        self.cores["others"] = round(max(busy - sum(used.values()), 0.0), 2)


class Budget:
    """The run's time limit: loops get at most what is left after the later phases' share."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.reserve = 0.0

    def left(self) -> float:
        return self.end - time.monotonic() - self.reserve

    def cap(self, wanted: float) -> float:
        return max(2.0, min(wanted, self.left()))


def worker_cores(cpu: dict[str, float]) -> float:
    return cpu.get("slaflow", cpu.get("worker", 0.0))


def per_op_ms(cpu: dict[str, float], count: int) -> tuple[float, float] | None:
    """CPU milliseconds per operation: (dev server, slaflow or raw worker)."""
    span = cpu.get("span_s", 0.0)
    if not count or not span:
        return None
    return (
        round(cpu.get("server", 0.0) * span / count * 1000, 1),
        round(worker_cores(cpu) * span / count * 1000, 1),
    )
