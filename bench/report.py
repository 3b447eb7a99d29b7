"""docs/benchmarks.json (the `Results` record) and docs/benchmarks.md, its tables."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

from bench.records import (
    Burst,
    BurstSide,
    Cpu,
    Latency,
    Loop,
    Memory,
    Pair,
    Profile,
    Results,
    Rss,
    Sides,
)
from bench.records import Task as HistoryTask
from bench.stack import BIN

REPO = Path(__file__).resolve().parents[1]
CACHE = 500  # SLAFLOW_MAX_CACHED_WORKFLOWS of the bounded-memory figure

Row = tuple[str, str, str, str, str, str]  # figure, slaflow, raw, ratio, target, met


def machine() -> dict[str, object]:
    """nproc, memory, CPU model, date, commit and versions: what the figures were taken on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor())  # fmt: skip
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0]
    dockerfile = REPO / "Dockerfile"
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(int(meminfo.split()[1]) / 2**20, 1),
        "cpu_model": model,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _run(["git", "rev-parse", "--short", "HEAD"]),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "temporal_cli": _run([str(BIN / "temporal"), "--version"]),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "dockerfile_sets_it": dockerfile.exists()
        and "PYTHONDONTWRITEBYTECODE" in dockerfile.read_text(encoding="utf-8"),
    }


def _run(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def load(path: Path) -> Results:
    return Results.model_validate_json(path.read_text(encoding="utf-8"))


def write(results: Results, docs: Path, with_json: bool = True) -> Path:
    """benchmarks.md, and benchmarks.json beside it unless the results came from there."""
    docs.mkdir(parents=True, exist_ok=True)
    if with_json:
        js = docs / "benchmarks.json"
        js.write_text(results.model_dump_json(indent=2) + "\n", encoding="utf-8")
    md = docs / "benchmarks.md"
    md.write_text(markdown(results), encoding="utf-8")
    return md


def table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return [*lines, *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows), ""]


# -- figures ------------------------------------------------------------------------------


def _ratio(product: float | None, raw: float | None) -> str:
    return f"{product / raw:.2f}x" if product is not None and raw else "-"


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def _lat(latency: Latency | None) -> str:
    if latency is None or not latency.n:
        return "-"
    late = f"> {(latency.censored_after_s or 0.0) * 1000:g}"  # not escalated within the wait

    def ms(value: float | None) -> str:
        return late if value is None else f"{value:g}"

    return f"{ms(latency.p50_ms)} / {ms(latency.p99_ms)} ms"


def _p99(latency: Latency | None) -> float | None:
    return latency.p99_ms if latency else None


def _rate(loop: Loop) -> str:
    return f"{loop.per_second}/s ({loop.count})"


# The targets against the raw ceiling of the same run (issue 21): opens at concurrency 50
# and above it, agent actions at any concurrency.
OPENS_FLOOR = {50: 0.9}
OPENS_FLOOR_ABOVE = 0.85
ACTIONS_FLOOR = 0.6


def _rate_rows(
    pair: Pair,
    rate: str,
    latency: str,
    phase: Callable[[Loop], Latency | None],
    floor: float,
) -> list[Row]:
    """A rate against raw's (target: `floor` times it), then the latency of its `phase`."""
    p, w = pair.product, pair.raw
    ok = p.per_second / w.per_second >= floor if w.per_second else None
    at = f", concurrency {pair.concurrency}"
    ratio = _ratio(p.per_second, w.per_second)
    return [
        (rate + at, _rate(p), _rate(w), ratio, f">= {floor:g}x", _met(ok)),
        (latency + at, _lat(phase(p)), _lat(phase(w)), "-", "-", "-"),
    ]


def _p99_row(figure: str, pair: Pair, limit: float) -> Row:
    p, w = pair.product.latency, pair.raw.latency
    ok = None if p is None or p.p99_ms is None else p.p99_ms < limit
    ratio = _ratio(_p99(p), _p99(w)) + " (p99)"
    return (figure, _lat(p), _lat(w), ratio, f"p99 < {limit:g} ms", _met(ok))


def _p99_ratio_row(figure: str, pair: Pair, most: float) -> Row:
    """A p99 against raw's: at most `most` times it."""
    p, w = pair.product.latency, pair.raw.latency
    ok = None
    if p is not None and w is not None and p.p99_ms is not None and w.p99_ms:
        ok = p.p99_ms <= most * w.p99_ms
    ratio = _ratio(_p99(p), _p99(w)) + " (p99)"
    return (figure, _lat(p), _lat(w), ratio, f"p99 <= {most:g}x raw", _met(ok))


def figures(r: Results) -> list[Row]:
    rows: list[Row] = []
    for pair in r.opens:
        rows += _rate_rows(
            pair, "1. tickets opened and live per s",
            "1. accepted p50 / p99 (POST; raw: start RPC)", lambda loop: loop.accept,
            OPENS_FLOOR.get(pair.concurrency or 0, OPENS_FLOOR_ABOVE),
        )  # fmt: skip
    for pair in r.actions:
        rows += _rate_rows(
            pair, "2. agent actions per s (respond; raw: update)", "2. action latency p50 / p99",
            lambda loop: loop.latency, ACTIONS_FLOOR,
        )  # fmt: skip
    rows += _floor_rows(r)
    if v := r.visible:
        extra = v.product_extra_wait_ms
        rows.append((
            "2. wait until a read shows the action",
            f"{'0 ms' if extra == 0 else 'not always'}: the answer carries it; "
            f"{v.product_first_get_shows_it}/{v.tickets} first GETs show it",
            f"signal, then queries: {_lat(v.raw_signal_until_query_shows)}",
            "-", "0 extra", _met(extra == 0),
        ))  # fmt: skip
    if r.reads:
        rows.append(
            _p99_row("3. GET /tickets/{id} p50 / p99, one client (raw: query)", r.reads, 25)
        )
    rows += _burst_rows(r.burst) + _memory_rows(r.memory)
    if ls := r.lists:
        figure = (
            f"6. GET /tickets with filters p50 / p99, {ls.tickets} tickets in visibility "
            "(raw: the same visibility query)"
        )
        rows.append(_p99_ratio_row(figure, ls, 1.2))
    base = r.sqlite["wal+normal"].per_second if "wal+normal" in r.sqlite else None
    at = min(r.sizes.concurrency)
    for mode, m in r.sqlite.items():
        rows.append((
            f"7. raw tickets live per s, SQLite {mode} (concurrency {at})", "-", _rate(m),
            _ratio(m.per_second, base) + " of wal+normal", "-", "-",
        ))  # fmt: skip
    return rows


def _floored(r: Results) -> list[tuple[str, Loop, Pair]]:
    """Measurement 8's loops, each with the figure of the same concurrency it floors."""
    f = r.floor
    if f is None:
        return []
    found: list[tuple[str, Loop, Pair]] = []
    for name, loop, pairs in (("opens", f.opens, r.opens), ("actions", f.actions, r.actions)):
        for pair in pairs:
            if pair.concurrency == f.concurrency:
                found.append((name, loop, pair))
    return found


FLOOR_FIGURES = {
    "opens": "8. floor: raw tickets opened and live per s, started with a ticket's attributes",
    "actions": "8. floor: raw responds per s, each upserting what slaflow's respond upserts",
}


def _floor_rows(r: Results) -> list[Row]:
    return [
        (
            f"{FLOOR_FIGURES[name]}, concurrency {pair.concurrency}", _rate(pair.product),
            _rate(loop), _ratio(pair.product.per_second, loop.per_second) + " of the floor",
            "-", "-",
        )
        for name, loop, pair in _floored(r)
    ]  # fmt: skip


FLOOR_COLUMNS = (
    "operation", "the floor's server operation", "server ms/op", "worker ms/op",
    "server extra that is the floor's", "cores allow /s",
)  # fmt: skip
FLOOR_OPERATIONS = {
    "opens": "a start with the ticket's search attributes (visibility row written at once)",
    "actions": "an upsert of TicketStatus and ResponseDueAt in the update's task",
}


def _floor(r: Results) -> list[str]:
    """Per figure: the server's and the worker's CPU per operation for raw, the floor and
    slaflow, and how much of slaflow's extra server CPU the floor's visibility writes are."""
    rows = []
    for name, loop, pair in _floored(r):
        raw, floor, product = (x.cpu.per_op_ms(x.count) for x in (pair.raw, loop, pair.product))
        if raw is None or floor is None or product is None:
            continue
        extra = product[0] - raw[0]
        share = f"{(floor[0] - raw[0]) / extra:.0%}" if extra > 0 else "-"
        rows.append((
            f"{name} c{pair.concurrency}", FLOOR_OPERATIONS[name],
            f"{raw[0]} / {floor[0]} / {product[0]}",
            f"{raw[1]} / {floor[1]} / {product[1]}", share,
            " / ".join(_allows(r, x) for x in (raw, floor, product)),
        ))  # fmt: skip
    if rows and (b := r.burst):
        # A breach's task upserts what lists filter on (SlaBreached, EscalationLevel), as a
        # respond's does; the raw burst runs an activity and no upsert: no floor measured.
        raw, product = (side.cpu.per_op_ms(side.escalated) for side in (b.raw, b.product))
        if raw is not None and product is not None:
            rows.append((
                "a breach (4, deadline)",
                "an upsert of SlaBreached, EscalationLevel and a due time (not measured alone)",
                f"{raw[0]} / - / {product[0]}",
                f"{raw[1]} / - / {product[1]}", "-",
                " / ".join(_allows(r, x) for x in (raw, product)),
            ))  # fmt: skip
    if not rows:
        return []
    return [
        "## The floor: the server's visibility writes",
        "",
        "Measurement 8 runs the raw workflow indexed as a ticket is: started with the search "
        "attributes slaflow starts a ticket with, its respond upserting what slaflow's respond "
        "upserts (lists filter on these; no change of slaflow's removes them). CPU milliseconds "
        "per operation, raw / floor / slaflow; the share of slaflow's extra server CPU over raw "
        "that the floor accounts for; and the rate the machine's cores allow at each cost. A "
        "breach (4) upserts what lists filter on too (SlaBreached, EscalationLevel), where the "
        "raw burst runs an activity: raw / slaflow only.",
        "",
        *table(FLOOR_COLUMNS, rows),
        "",
    ]


def _burst_rows(b: Burst | None) -> list[Row]:
    if b is None:
        return []
    p, w = b.product, b.raw
    pl, wl = p.lateness, w.lateness

    def upper(value: float | None) -> float:
        return math.inf if value is None else value

    def after(side: BurstSide) -> str:
        if side.all_escalated_after_s is not None:
            return f"{side.all_escalated_after_s} s"
        return f"{side.escalated}/{side.tickets} within {side.lateness.censored_after_s} s"

    ok = None
    if pl.n and wl.n:
        ok = upper(pl.p99_ms) <= upper(wl.p99_ms) and upper(p.all_escalated_after_s) <= upper(
            w.all_escalated_after_s
        )
    n = f"{p.tickets} tickets due {p.due_at:%H:%M:%S} UTC, {b.target_s} s target"
    ratio = _ratio(pl.p99_ms, wl.p99_ms) + " (p99)" if pl.p99_ms is not None else "-"
    return [
        (f"4. escalation lateness p50 / p99 ({n})", _lat(pl), _lat(wl), ratio,
         "no later than raw", _met(ok)),
        ("4. all escalated after the deadline", after(p), after(w),
         _ratio(p.all_escalated_after_s, w.all_escalated_after_s), "no later than raw", "-"),
    ]  # fmt: skip


def per_thousand(
    steps: dict[str, Rss], mb: Callable[[Rss], float], raw: bool
) -> tuple[float | None, float | None]:
    """MB per 1,000 open tickets: (from the baseline, marginal between the two open runs)."""
    base, after = steps.get("baseline"), [s for k, s in steps.items() if k.startswith("after_")]
    if base is None or not after:
        return None, None

    def count(step: Rss) -> int:
        return step.raw_workflows if raw else step.tickets

    whole = round((mb(after[-1]) - mb(base)) / max(count(after[-1]), 1) * 1000, 1)
    opens = [s for k, s in steps.items() if k.startswith("after_opens")]
    if len(opens) < 2 or count(opens[-1]) <= count(opens[0]):
        return whole, None
    growth = (mb(opens[-1]) - mb(opens[0])) / (count(opens[-1]) - count(opens[0]))
    return whole, round(growth * 1000, 1)


def _memory_rows(memory: Memory) -> list[Row]:
    rows: list[Row] = []
    mem = memory.cache_10000
    if any(key.startswith("after_") for key in mem):
        whole, marginal = per_thousand(mem, lambda s: s.slaflow, raw=False)
        raw_whole, raw_marginal = per_thousand(mem, lambda s: s.raw_worker, raw=True)
        server, _ = per_thousand(mem, lambda s: s.server, raw=False)
        raw_server, _ = per_thousand(mem, lambda s: s.raw_server, raw=True)
        tickets = list(mem.values())[-1].tickets
        rows += [
            (f"5. worker RSS per 1,000 open tickets, cache 10,000 ({tickets} open; "
             "slaflow = worker + API process)",
             f"{whole} MB (marginal {marginal})", f"{raw_whole} MB (marginal {raw_marginal})",
             _ratio(whole, raw_whole), "< 150 MB", _met(None if whole is None else whole < 150)),
            ("5. dev server RSS per 1,000 open tickets (not slaflow's)", f"{server} MB",
             f"{raw_server} MB", _ratio(server, raw_server), "-", "-"),
        ]  # fmt: skip
    if bounded := memory.cache_500:
        base, after, full = bounded.baseline, bounded.after_opens, bounded.at_cache_full
        per = (after.slaflow - base.slaflow) / max(after.tickets, 1) * 1000
        beyond = ""
        if full.slaflow and after.tickets > CACHE:
            slope = (after.slaflow - full.slaflow) / (after.tickets - CACHE) * 1000
            beyond = f"; beyond the {CACHE} cached: {slope:.1f} MB per 1,000"
        rows.append((
            f"5. worker RSS per 1,000 open tickets, SLAFLOW_MAX_CACHED_WORKFLOWS={CACHE} "
            f"({after.tickets} open)",
            f"{per:.1f} MB ({after.slaflow - base.slaflow:.0f} MB in all{beyond})", "-", "-",
            "< 150 MB", _met(per < 150),
        ))  # fmt: skip
    return rows


# -- spans: CPU, errors and profiles ------------------------------------------------------


class Span(NamedTuple):
    name: str
    cpu: Cpu
    ops: int
    errors: int | None = None
    first_error: str = ""
    profile: Profile | None = None


def _loop_span(name: str, loop: Loop) -> Span:
    first = loop.first_errors[0] if loop.first_errors else ""
    return Span(name, loop.cpu, loop.count, loop.errors, first, loop.profile)


def spans(r: Results) -> list[Span]:
    """Every measured span: its cores per process, operations, errors and profile."""
    found: list[Span] = []
    named = [("1. opens", pair) for pair in r.opens] + [("2. actions", p) for p in r.actions]
    named += [(name, pair) for name, pair in (("3. reads", r.reads), ("6. lists", r.lists)) if pair]
    for name, pair in named:
        at = f" c{pair.concurrency}" if pair.concurrency is not None else ""
        found += [_loop_span(f"{name}{at}, raw", pair.raw)]
        found += [_loop_span(f"{name}{at}, slaflow", pair.product)]
    if b := r.burst:
        for side, run in (("raw", b.raw), ("slaflow", b.product)):
            found.append(_loop_span(f"4. burst opens, {side}", run.open))
            found.append(Span(f"4. burst deadline, {side}", run.cpu, run.escalated,
                              profile=run.profile))  # fmt: skip
    found += [_loop_span(f"7. {mode}, raw", m) for mode, m in r.sqlite.items()]
    if f := r.floor:
        found.append(_loop_span(f"8. floor opens c{f.concurrency}, raw indexed", f.opens))
        found.append(_loop_span(f"8. floor actions c{f.concurrency}, raw indexed", f.actions))
    return found


CPU_COLUMNS = (
    "span", "server", "worker", "bench", "others", "machine", "ops", "server ms/op",
    "worker ms/op", "cores allow /s", "errors",
)  # fmt: skip


def _allows(r: Results, per: tuple[float, float] | None) -> str:
    """The operations per second the machine's cores allow at `per` (server and worker ms)."""
    return f"{r.machine.nproc * 1000 / sum(per):.0f}" if per and sum(per) else "-"


def _cpu(r: Results) -> list[str]:
    found = spans(r)
    if not found:
        return []
    rows = []
    for s in found:
        per = s.cpu.per_op_ms(s.ops)
        rows.append((
            s.name, f"{s.cpu.server:.2f}", f"{s.cpu.worker:.2f}", f"{s.cpu.bench:.2f}",
            f"{s.cpu.others:.2f}", f"{s.cpu.machine:.2f}", s.ops,
            per[0] if per else "-", per[1] if per else "-", _allows(r, per),
            "-" if s.errors is None else s.errors,
        ))  # fmt: skip
    errors = [f"- {s.name}: `{s.first_error[:160]}`" for s in found if s.first_error]
    return [
        "## Where the CPU went",
        "",
        "Cores used during each span (`server`: the dev server; `worker`: the `slaflow up` "
        "process, worker and API, or the raw worker; `bench`: the load generator; `others`: "
        "everything else on the machine); CPU milliseconds per operation, which other load "
        "disturbs far less than rates do; and the rate the machine's "
        f"{r.machine.nproc} cores allow at that cost (server and worker together).",
        "",
        *table(CPU_COLUMNS, rows),
        *([*errors, ""] if errors else []),
    ]


def _profiles(r: Results) -> list[str]:
    profiled = [(s.name.removesuffix(", slaflow"), s.profile) for s in spans(r) if s.profile]
    sampled = [(name, p) for name, p in profiled if p.samples]
    head = ["## Where the `slaflow up` process's Python time went (py-spy)", ""]
    if not sampled:
        why = {p.skipped or "no samples" for _, p in profiled}
        return [*head, f"No profile: {'; '.join(sorted(why)) or 'none taken'}.", ""] if why else []
    areas: dict[str, float] = {}
    for _, p in sampled:
        for area, pct in p.inclusive_pct[:10]:
            areas[area] = max(pct, areas.get(area, 0.0))
    shares = [dict(p.inclusive_pct) for _, p in sampled]
    matrix = [
        (area, *(share.get(area, "-") for share in shares))
        for area in sorted(areas, key=lambda a: -areas[a])
    ]
    hottest = [
        (name, f"`{function}`", pct, f"`{caller}`" if caller else "-")
        for name, p in sampled
        for function, pct, caller in p.self_pct[:5]
    ]
    return [
        *head,
        "Samples holding the GIL, 50 per s, during these spans (under 100: read the shares "
        "with care). By area, inclusive %:",
        "",
        *table(("area", *(f"{name} ({p.samples})" for name, p in sampled)), matrix),
        "Hottest functions, self %:",
        "",
        *table(("span", "function", "%", "reached from"), hottest),
    ]


# -- histories ----------------------------------------------------------------------------

KINDS = {"open": "opened (1)", "respond": "opened, then responded (2)"}


def _histories(r: Results) -> list[str]:
    kinds = [(KINDS[key], sides) for key, sides in r.histories.items() if key in KINDS]
    if b := r.burst:
        kinds.append(
            ("breached in the burst (4)", Sides(raw=b.raw.history, product=b.product.history))
        )
    if not kinds:
        return []

    def count(found: list[HistoryTask]) -> tuple[int, int]:
        return sum(t.took_ms is not None for t in found), sum(len(t.did) for t in found)

    def rows(name: str, side: str, found: list[HistoryTask]) -> Iterable[Sequence[object]]:
        for number, t in enumerate(found, 1):
            done = t.took_ms is not None
            yield (name, side, number if done else "then", f"{t.took_ms:.0f}" if done else "-",
                   ", ".join(t.on) or "-", ", ".join(t.did) or "-")  # fmt: skip

    return [
        "## What a ticket's history shows",
        "",
        "One ticket of each kind, read back from its server in the run: its workflow tasks, "
        "what woke each and the commands it completed with (`then`: events after its last "
        "task).",
        "",
        *table(
            ("ticket", "slaflow tasks", "slaflow commands", "raw tasks", "raw commands"),
            ((name, *count(s.product), *count(s.raw)) for name, s in kinds),
        ),
        *table(
            ("ticket", "side", "task", "ms", "woken by", "commands"),
            (
                row
                for name, s in kinds
                for side, found in (("slaflow", s.product), ("raw", s.raw))
                for row in rows(name, side, found)
            ),
        ),
    ]


# -- the page -----------------------------------------------------------------------------


def _header(r: Results) -> list[str]:
    m, s = r.machine, r.sizes
    others = [span.cpu.others for span in spans(r)]
    noise = (
        f"Other processes used {sum(others) / len(others):.2f} cores on average (at most "
        f"{max(others):.2f}) while the bench measured (`/proc/stat` minus the bench's own "
        "processes): figures compare within this run, not with another machine's."
        if others
        else "Other load on the machine: not measured."
    )
    return [
        "# Benchmarks: what slaflow adds on top of the Temporal server",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand, run it again. "
        "Every slaflow figure stands beside the raw ceiling measured in the same run on this "
        "machine: a bare dev server with the same flags, the bare SDK client and a minimal "
        "ticket-like workflow (`bench/raw.py`). The hand-run experiments behind slaflow's "
        "defaults: [tuning.md](tuning.md).",
        "",
        f"- Machine: {m.nproc} cores ({m.cpu_model}), {m.memory_gib} GiB; Python {m.python}, "
        f"temporalio {m.temporalio}, {m.temporal_cli.splitlines()[0] if m.temporal_cli else ''}.",
        f"- Date: {m.date}; commit `{m.commit}`; `python -m bench{' --quick' * s.quick}` took "
        f"{r.wall_s} s (budget {s.budget} s).",
        f"- {noise}",
        f"- Environment: `PYTHONDONTWRITEBYTECODE={m.pythondontwritebytecode}` (slaflow's "
        f"Dockerfile {'sets it too' if m.dockerfile_sets_it else 'does not'}); load average "
        f"at start / end: {' '.join(m.loadavg_at_start)} / {' '.join(m.loadavg_at_end)}.",
        "",
    ]


def _method(r: Results) -> list[str]:
    """What was asked; how each figure is taken is in the docstrings of bench/measure.py and
    bench/burst.py, which the page points to."""
    s, b, ls = r.sizes, r.burst, r.lists
    opened = f"{b.product.tickets} opened, {b.collect_s} s waited" if b else "-"
    rows = [
        ("1. opens", f"{s.open_counts} at concurrency {s.concurrency}"),
        ("2. actions", f"{s.act_counts} at the same; then {s.visible} action-then-read"),
        ("3. reads", f"{s.reads}, one client"),
        ("4. breach burst", f"{s.burst} P1 tickets, {s.burst_target} s target ({opened})"),
        ("5. memory", f"the tickets of 1 and 2; of 6 with a {CACHE} cache"),
        ("6. lists", f"{s.list_calls} calls, one client, on {s.list_tickets} tickets "
         f"({ls.tickets if ls else '-'} opened): {', '.join(ls.filters) if ls else '-'}"),
        ("7. SQLite", f"{s.sqlite_tickets} raw tickets per setting, at {min(s.concurrency)}"),
        ("8. the floor", f"{s.open_counts[0]} raw tickets with a ticket's search attributes, "
         f"then {s.act_counts[0]} responds with its upsert, at {min(s.concurrency)}"),
    ]  # fmt: skip
    return [
        "## What was measured, and how much",
        "",
        "Raw: a bare `temporal server start-dev` with `cli.dev_server_args` and "
        "`python -m bench.raw` (the minimal workflow's worker, a process of its own, cache "
        "10,000); slaflow: `slaflow up --no-ui`. Each on free ports in a temporary directory "
        "(1-3, 5 and 8 share one of each; 4, 6 and 7 start their own); the bench process is the "
        "load generator, and a figure's raw loop runs right before slaflow's. How each figure "
        "is taken: the docstrings of `bench/measure.py` and `bench/burst.py`.",
        "",
        *table(("measurement", "asked"), rows),
        f"Every load loop stops at its count or after {s.cap} s (less when the {s.budget} s "
        "budget demands it): a figure's count in brackets is what was done. Skipped: "
        f"{'; '.join(r.skipped) or 'nothing'}.",
        "",
    ]


RUNNING = """## Running it

```sh
make bench                 # everything, within the budget (--budget, 550 s)
python -m bench --only open,act --cap 60            # some, with longer loops
python -m bench --only list --list-tickets 10000 --budget 900   # 6 at full size
python -m bench --only burst --burst 2000 --budget 900          # 4 at full size
python -m bench --quick    # tiny counts, about 3 minutes, into a temporary directory
python -m bench --render docs/benchmarks.json   # this page again from its JSON
```
"""


def markdown(r: Results) -> str:
    return "\n".join([
        *_header(r),
        "## Figures",
        "",
        *table(("figure", "slaflow", "raw ceiling (same run)", "slaflow / raw", "target", "met"),
               figures(r)),
        *_method(r), *_cpu(r), *_floor(r), *_profiles(r), *_histories(r), RUNNING,
    ])  # fmt: skip
