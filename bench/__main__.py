"""`python -m bench`: measure slaflow against the raw Temporal ceiling, write docs/benchmarks.*."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import burst, histories, measure, profile, report
from bench.stack import Stack, raw_stack, slaflow_stack
from bench.stats import Budget, closed_loop

MEASUREMENTS = ("open", "act", "read", "burst", "memory", "list", "sqlite")
# Seconds the later phases are expected to need; earlier loops leave them this much.
PLANNED = {"list": 115.0, "sqlite": 45.0, "burst": 230.0}
CACHE = 500  # SLAFLOW_MAX_CACHED_WORKFLOWS for the bounded-memory figure
DOCS = Path(__file__).resolve().parents[1] / "docs"


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--only",
        default=",".join(MEASUREMENTS),
        help=f"comma-separated measurements of {', '.join(MEASUREMENTS)} (all)",
    )
    p.add_argument("--concurrency", type=_ints, default=[50, 200], help="for opens and actions")
    p.add_argument("--open-counts", type=_ints, default=[600, 1200], help="tickets per concurrency")
    p.add_argument("--act-counts", type=_ints, default=[500, 1000], help="actions per concurrency")
    p.add_argument("--reads", type=int, default=500, help="GETs (and raw queries), one client")
    p.add_argument("--visible", type=int, default=30, help="action-then-read pairs, one client")
    p.add_argument("--burst", type=int, default=2000, help="tickets due in the same second")
    p.add_argument("--burst-target", type=int, default=10, help="P1 response target, seconds")
    p.add_argument("--list-tickets", type=int, default=3000, help="tickets in visibility")
    p.add_argument("--list-calls", type=int, default=100, help="GET /tickets calls, one client")
    p.add_argument("--sqlite-tickets", type=int, default=400, help="tickets per SQLite setting")
    p.add_argument("--cap", type=float, default=30.0, help="seconds at most per load loop")
    p.add_argument(
        "--budget",
        type=float,
        default=550.0,
        help="seconds for the whole run; loops shrink, phases are skipped to keep it",
    )
    p.add_argument(
        "--collect",
        type=float,
        default=90.0,
        help="seconds at most to wait for a burst's escalations",
    )
    p.add_argument(
        "--no-profile", dest="profile", action="store_false", help="no py-spy sampling of slaflow"
    )
    p.add_argument("--docs", type=Path, default=DOCS, help="where benchmarks.md/.json go")
    return p


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def core(
    args: argparse.Namespace, wanted: set[str], budget: Budget, out: dict[str, Any]
) -> None:
    """Measurements 1, 3, 2 and 5 on one raw stack and one `slaflow up`, interleaved so that
    each slaflow figure is taken right after its raw counterpart."""

    def cap() -> float:  # per loop; the loops come in pairs (raw, then slaflow)
        return budget.cap(2 * args.cap) / 2

    async with raw_stack() as raw, slaflow_stack() as product:
        memory: dict[str, Any] = {"baseline": _rss(raw, product)}
        samples: dict[str, Any] = out.setdefault("histories", {})
        raw_ids: list[str] = []
        product_ids: list[str] = []
        out["opens"] = []
        for concurrency, count in zip(args.concurrency, args.open_counts, strict=True):
            _say(f"1. opens at concurrency {concurrency}: {count} each")
            result = await measure.opens(raw, product, count, concurrency, cap())
            raw_ids += result.pop("raw_ids")
            product_ids += result.pop("product_ids")
            out["opens"].append(result)
            if "open" not in samples and raw_ids and product_ids:
                samples["open"] = await _histories(raw, product, raw_ids[-1], product_ids[-1])
            memory[f"after_opens_c{concurrency}"] = {
                **_rss(raw, product),
                "tickets": len(product_ids),
                "raw_workflows": len(raw_ids),
            }
        if "read" in wanted:
            _say(f"3. reads: {args.reads} each, one client")
            out["reads"] = await measure.reads(
                raw, product, raw_ids, product_ids, args.reads, cap()
            )
        if "act" in wanted:
            await _actions(args, raw, product, raw_ids, product_ids, cap, out)
            sample = min(args.visible, len(raw_ids) - 1, len(product_ids) - 1)
            if sample >= 0:  # the first ticket the measured actions responded to
                samples["respond"] = await _histories(
                    raw, product, raw_ids[sample], product_ids[sample]
                )
            memory["after_actions"] = {
                **_rss(raw, product),
                "tickets": len(product_ids),
                "raw_workflows": len(raw_ids),
            }
        out["memory"] = {"cache_10000": memory}


async def _actions(
    args: argparse.Namespace, raw: Stack, product: Stack, raw_ids: list[str],
    product_ids: list[str], cap: Callable[[], float], out: dict[str, Any],
) -> None:  # fmt: skip
    """Measurement 2, each action on a ticket of its own, then action-then-read pairs."""
    out["actions"] = []
    used = min(args.visible, len(raw_ids), len(product_ids))  # these first, for the reads after
    for concurrency, count in zip(args.concurrency, args.act_counts, strict=True):
        _say(f"2. actions at concurrency {concurrency}: {count} each")
        r, p = raw_ids[used : used + count], product_ids[used : used + count]
        used += count
        out["actions"].append(await measure.actions(raw, product, r, p, concurrency, cap()))
    _say(f"2. action then read: {args.visible} each")
    visible = min(args.visible, len(raw_ids), len(product_ids))
    out["visible"] = await measure.visible_after_action(
        raw, product, raw_ids[:visible], product_ids[:visible]
    )


async def _histories(raw: Stack, product: Stack, raw_id: str, ticket_id: str) -> dict[str, Any]:
    return {
        "raw": await histories.tasks(raw.client, raw_id),
        "product": await histories.tasks(product.client, f"ticket-{ticket_id}"),
    }


def _rss(raw: Stack, product: Stack) -> dict[str, float]:
    return {
        "raw_worker": raw.rss()["worker"],
        "raw_server": raw.rss()["server"],
        "slaflow": product.rss()["slaflow"],
        "server": product.rss()["server"],
    }


async def list_phase(args: argparse.Namespace, budget: Budget, out: dict[str, Any]) -> None:
    """Measurement 6 and the bounded-cache half of 5, on a `slaflow up` with a 500 cache."""
    async with slaflow_stack(env={"SLAFLOW_MAX_CACHED_WORKFLOWS": str(CACHE)}) as product:
        assert product.http is not None
        http = product.http
        baseline = product.rss()
        count = args.list_tickets
        cap = budget.cap(max(60.0, count / 20)) - 15  # the list calls come after
        _say(f"6. opening up to {count} tickets for the list (at most {cap:.0f} s)")
        ids = [f"l-{i}" for i in range(count)]
        priorities = ("P1", "P2", "P3")

        live = 0
        at_cache: dict[str, float] = {}

        async def op(i: int) -> dict[str, float]:
            nonlocal live, at_cache
            start = time.perf_counter()
            body = measure.ticket_body(ids[i], priorities[i % 3], f"cust-{i % 50}")
            status, answer = await http.post("/tickets", body)
            if status != 201:
                raise RuntimeError(f"POST /tickets answered {status}: {answer[:120]!r}")
            await measure.http_live(http, ids[i])
            live += 1
            if live == CACHE:  # the cache is full from here: memory should stop growing
                at_cache = product.rss()
            return {"live": time.perf_counter() - start}

        run = await closed_loop(count, max(args.concurrency), op, max(cap, 5.0))
        after = product.rss()
        _say(f"6. list calls: {args.list_calls}")
        out["lists"] = {
            "tickets": len(run.done),
            "asked": count,
            "open": run.result(),
            # at least 12 s a side: 100 calls take 9-12 s on this machine
            **await measure.lists(product, args.list_calls, max(budget.cap(args.cap), 12.0)),
        }
        out.setdefault("memory", {})["cache_500"] = {
            "baseline": {"slaflow": baseline["slaflow"], "server": baseline["server"]},
            "after_opens": {
                "slaflow": after["slaflow"], "server": after["server"], "tickets": len(run.done)
            },
            "at_cache_full": at_cache,
        }  # fmt: skip


def _rate(out: dict[str, Any], side: str, default: float) -> float:
    with contextlib.suppress(KeyError, IndexError, ZeroDivisionError):
        return max(float(out["opens"][0][side]["per_second"]), 5.0)
    return default


async def run(args: argparse.Namespace) -> dict[str, Any]:
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop the stacks (finally blocks), then exit
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)
    wanted = set(args.only.split(","))
    unknown = wanted - set(MEASUREMENTS)
    if unknown:
        raise SystemExit(f"unknown measurements: {', '.join(sorted(unknown))}")
    later = [
        p
        for p in ("list", "sqlite", "burst")
        if p in wanted or (p == "list" and "memory" in wanted)
    ]
    budget = Budget(args.budget)
    out: dict[str, Any] = {"selected": sorted(wanted), "skipped": []}

    def phase(name: str, needs: float) -> bool:
        after = later[later.index(name) + 1 :] if name in later else later
        budget.reserve = sum(PLANNED[p] for p in after)
        if budget.left() < needs:
            out["skipped"].append(f"{name}: {budget.left():.0f} s of the budget left")
            _say(f"skipping {name}: not enough of the budget left")
            return False
        return True

    if wanted & {"open", "act", "read", "memory"} and phase("core", 30):
        await core(args, wanted, budget, out)
    if "list" in later and phase("list", 40):
        await list_phase(args, budget, out)
    if "sqlite" in later and phase("sqlite", 30):
        _say(f"7. SQLite settings: {args.sqlite_tickets} raw tickets each")
        per_mode = min(args.cap, PLANNED["sqlite"] / 3 - 5, budget.left() / 3 - 5)
        out["sqlite"] = await measure.sqlite_modes(
            args.sqlite_tickets, min(args.concurrency), max(per_mode, 5.0)
        )
    if "burst" in later and phase("burst", 90):
        _say(f"4. burst: {args.burst} tickets due in the same second, each side")
        out["burst"] = await burst.bursts(
            args.burst, args.burst_target, _rate(out, "product", 40.0),
            _rate(out, "raw", 60.0), args.collect, budget.left(),
        )  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    profile.ENABLED = args.profile
    started = time.monotonic()
    host = report.machine()
    try:
        results = {"machine": host, **asyncio.run(run(args))}
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise SystemExit(
            "bench: stopped; its stacks are stopped too, nothing was written"
        ) from None
    host["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["wall_s"] = round(time.monotonic() - started, 1)
    results["sizes"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    md, js = report.write(results, args.docs)
    _say(f"done in {results['wall_s']} s: {md}, {js}")


if __name__ == "__main__":
    main()
