"""`python -m bench`: measure slaflow against the raw Temporal ceiling, write docs/benchmarks.*."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import burst, histories, measure, profile, report
from bench.records import DOCS, MEASUREMENTS, BoundedMemory, Results, Rss, Sides, Sizes
from bench.report import CACHE
from bench.stack import SlaflowStack, Stack, raw_stack, slaflow_stack
from bench.stats import Budget

# Shares of the default 550 s budget the later phases are expected to need (scaled to
# --budget), and what a phase needs left to start at all.
PLANNED = {"list": 115 / 550, "sqlite": 45 / 550, "burst": 230 / 550}
NEEDS = {"core": 30 / 550, "list": 40 / 550, "sqlite": 30 / 550, "burst": 90 / 550}
QUICK = {
    "concurrency": [5, 10], "open_counts": [20, 40], "act_counts": [10, 20], "reads": 20,
    "visible": 5, "burst": 40, "list_tickets": 60, "list_calls": 10, "sqlite_tickets": 20,
    "cap": 5.0, "budget": 170.0, "collect": 20.0,
}  # fmt: skip


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


CONVERT: dict[object, Callable[[str], object]] = {int: int, float: float, str: str, Path: Path}


def parser() -> argparse.ArgumentParser:
    """One option per field of `Sizes`; a true boolean is turned off with --no-..."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    for name, field in Sizes.model_fields.items():
        flag, kind, default = "--" + name.replace("_", "-"), field.annotation, field.default
        if kind is bool:
            flag, action = ("--no-" + flag[2:], "store_false") if default else (flag, "store_true")
            p.add_argument(flag, dest=name, action=action, help=field.description)
        else:
            convert = CONVERT.get(kind, _ints)  # list[int]: "50,200"
            p.add_argument(flag, type=convert, default=default, help=field.description)
    p.add_argument("--render", type=Path, metavar="JSON", help="no run: the report from a JSON")
    return p


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _rss(raw: Stack, product: Stack, tickets: int, raw_workflows: int) -> Rss:
    (raw_worker, raw_server), (slaflow, server) = raw.rss(), product.rss()
    return Rss(
        slaflow=slaflow, server=server, raw_worker=raw_worker, raw_server=raw_server,
        tickets=tickets, raw_workflows=raw_workflows,
    )  # fmt: skip


async def _histories(raw: Stack, product: Stack, raw_id: str, ticket_id: str) -> Sides:
    return Sides(
        raw=await histories.tasks(raw.client, raw_id),
        product=await histories.tasks(product.client, f"ticket-{ticket_id}"),
    )


async def core(s: Sizes, wanted: set[str], budget: Budget, out: Results) -> None:
    """Measurements 1, 3, 2 and 5 on one raw stack and one `slaflow up`, interleaved so that
    each slaflow figure is taken right after its raw counterpart."""

    def cap() -> float:  # per loop; the loops come in pairs (raw, then slaflow)
        return budget.cap(2 * s.cap) / 2

    async with raw_stack() as raw, slaflow_stack() as product:
        memory = out.memory.cache_10000
        memory["baseline"] = _rss(raw, product, 0, 0)
        raw_ids: list[str] = []
        product_ids: list[str] = []
        for concurrency, count in zip(s.concurrency, s.open_counts, strict=True):
            _say(f"1. opens at concurrency {concurrency}: {count} each")
            pair, raw_done, product_done = await measure.opens(
                raw, product, count, concurrency, cap()
            )
            raw_ids += raw_done
            product_ids += product_done
            out.opens.append(pair)
            if "open" not in out.histories and raw_ids and product_ids:
                out.histories["open"] = await _histories(raw, product, raw_ids[-1], product_ids[-1])
            memory[f"after_opens_c{concurrency}"] = _rss(
                raw, product, len(product_ids), len(raw_ids)
            )
        if "read" in wanted:
            _say(f"3. reads: {s.reads} each, one client")
            out.reads = await measure.reads(raw, product, raw_ids, product_ids, s.reads, cap())
        if "act" in wanted:
            await _actions(s, raw, product, raw_ids, product_ids, cap, out)
            sample = min(s.visible, len(raw_ids) - 1, len(product_ids) - 1)
            if sample >= 0:  # the first ticket the measured actions responded to
                out.histories["respond"] = await _histories(
                    raw, product, raw_ids[sample], product_ids[sample]
                )
            memory["after_actions"] = _rss(raw, product, len(product_ids), len(raw_ids))
            at = min(s.concurrency)
            opens, acts = s.open_counts[0], s.act_counts[0]
            _say(f"8. the floor: {opens} raw tickets indexed as tickets, {acts} responds, at {at}")
            out.floor = await measure.floor(raw, opens, acts, at, cap())


async def _actions(
    s: Sizes, raw: Stack, product: SlaflowStack, raw_ids: list[str], product_ids: list[str],
    cap: Callable[[], float], out: Results,
) -> None:  # fmt: skip
    """Measurement 2, each action on a ticket of its own, then action-then-read pairs."""
    used = min(s.visible, len(raw_ids), len(product_ids))  # these first, for the reads after
    for concurrency, count in zip(s.concurrency, s.act_counts, strict=True):
        _say(f"2. actions at concurrency {concurrency}: {count} each")
        r, p = raw_ids[used : used + count], product_ids[used : used + count]
        used += count
        out.actions.append(await measure.actions(raw, product, r, p, concurrency, cap()))
    _say(f"2. action then read: {s.visible} each")
    visible = min(s.visible, len(raw_ids), len(product_ids))
    out.visible = await measure.visible_after_action(
        raw, product, raw_ids[:visible], product_ids[:visible]
    )


async def list_phase(s: Sizes, budget: Budget, out: Results) -> None:
    """Measurement 6 and the bounded-cache half of 5, on a `slaflow up` with a 500 cache."""
    async with slaflow_stack(env={"SLAFLOW_MAX_CACHED_WORKFLOWS": str(CACHE)}) as product:
        http = product.http
        slaflow, server = product.rss()
        baseline = Rss(slaflow=slaflow, server=server)
        at_cache = Rss()
        count = s.list_tickets
        cap = budget.cap(max(60.0, count / 20)) - 15  # the list calls come after
        _say(f"6. opening up to {count} tickets for the list (at most {cap:.0f} s)")
        ids = [f"l-{i}" for i in range(count)]
        live = 0

        def body(i: int) -> dict[str, object]:
            return measure.ticket_body(ids[i], ("P1", "P2", "P3")[i % 3], f"cust-{i % 50}")

        def counted() -> None:
            nonlocal live, at_cache
            live += 1
            if live == CACHE:  # the cache is full from here: memory should stop growing
                slaflow, server = product.rss()
                at_cache = Rss(slaflow=slaflow, server=server)

        concurrency, cap = max(s.concurrency), max(cap, 5.0)
        _, opened = await measure.metered(
            product, lambda: measure.open_product(http, ids, concurrency, cap, body, counted)
        )
        slaflow, server = product.rss()
        after = Rss(slaflow=slaflow, server=server, tickets=opened.count)
        _say(f"6. list calls: {s.list_calls}")
        # at least 12 s a side: 100 calls take 9-12 s on this machine
        seconds = max(budget.cap(s.cap), 12.0)
        out.lists = await measure.lists(product, opened, count, s.list_calls, seconds)
        out.memory.cache_500 = BoundedMemory(
            baseline=baseline, after_opens=after, at_cache_full=at_cache
        )


async def run(s: Sizes, out: Results) -> None:
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop the stacks (finally blocks), then exit
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)
    wanted = set(out.selected)
    later = [
        p
        for p in ("list", "sqlite", "burst")
        if p in wanted or (p == "list" and "memory" in wanted)
    ]
    budget = Budget(s.budget)

    def planned(name: str) -> float:
        return PLANNED[name] * s.budget

    def phase(name: str) -> bool:
        after = later[later.index(name) + 1 :] if name in later else later
        budget.reserve = sum(planned(p) for p in after)
        if budget.left() < NEEDS[name] * s.budget:
            out.skipped.append(f"{name}: {budget.left():.0f} s of the budget left")
            _say(f"skipping {name}: not enough of the budget left")
            return False
        return True

    if wanted & {"open", "act", "read", "memory"} and phase("core"):
        await core(s, wanted, budget, out)
    if "list" in later and phase("list"):
        await list_phase(s, budget, out)
    if "sqlite" in later and phase("sqlite"):
        _say(f"7. SQLite settings: {s.sqlite_tickets} raw tickets each")
        per_mode = min(s.cap, planned("sqlite") / 3 - 5, budget.left() / 3 - 5)
        out.sqlite = await measure.sqlite_modes(
            s.sqlite_tickets, min(s.concurrency), max(per_mode, 5.0)
        )
    if "burst" in later and phase("burst"):
        _say(f"4. burst: {s.burst} tickets due in the same second, each side")
        rates = [(max(o.product.per_second, 5.0), max(o.raw.per_second, 5.0)) for o in out.opens]
        product_rate, raw_rate = rates[0] if rates else (40.0, 60.0)
        out.burst = await burst.bursts(
            s.burst, s.burst_target, product_rate, raw_rate, s.collect, budget.left()
        )


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.render is not None:
        md = report.write(report.load(args.render), args.docs, with_json=False)
        _say(f"rendered {md} from {args.render}")
        return
    if args.quick:
        vars(args).update(QUICK)
        if args.docs == DOCS:  # a smoke test's figures never replace the real report
            args.docs = Path(tempfile.mkdtemp(prefix="slaflow-bench-quick-"))
    sizes = Sizes.model_validate(vars(args))
    wanted = set(sizes.only.split(","))
    if unknown := wanted - set(MEASUREMENTS):
        raise SystemExit(f"unknown measurements: {', '.join(sorted(unknown))}")
    profile.ENABLED = sizes.profile
    started = time.monotonic()
    results = Results.model_validate(
        {"machine": report.machine(), "sizes": sizes, "selected": sorted(wanted)}
    )
    try:
        asyncio.run(run(sizes, results))
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise SystemExit(
            "bench: stopped; its stacks are stopped too, nothing was written"
        ) from None
    results.machine.loadavg_at_end = Path("/proc/loadavg").read_text().split()[:3]
    results.wall_s = round(time.monotonic() - started, 1)
    md = report.write(results, sizes.docs)
    _say(f"done in {results.wall_s} s: {md} and benchmarks.json beside it")


if __name__ == "__main__":
    main()
