"""The prose of docs/benchmarks.md: method and sizes, where the CPU went, why a figure misses."""

from __future__ import annotations

from typing import Any


def noise(r: dict[str, Any]) -> str:
    others = [cpu["others"] for _, cpu, _ in _spans(r) if "others" in cpu]
    if not others:
        return "Other load on the machine: not measured."
    mean = sum(others) / len(others)
    return (
        f"Other processes (other engineers' test runs) used {mean:.2f} cores on average "
        f"(at most {max(others):.2f}) of the machine's cores while the bench measured, from "
        "`/proc/stat` minus the bench's own processes: figures are comparable within this run, "
        "not with another machine's."
    )


Span = tuple[str, dict[str, float], int]  # name, cores per process, operations done


def _spans(r: dict[str, Any]) -> list[Span]:
    """Every measured span: its cores per process and how many operations it did."""
    spans: list[Span] = []
    for number, name in (("1", "opens"), ("2", "actions")):
        for run in r.get(name, []):
            for side in ("raw", "product"):
                label = f"{number}. {name} c{run['concurrency']}, {_side(side)}"
                spans.append((label, run[side]["cpu"], run[side]["count"]))
    for number, name in (("3", "reads"), ("6", "lists")):
        for side in ("raw", "product"):
            if name in r and "cpu" in r[name][side]:
                res = r[name][side]
                spans.append((f"{number}. {name}, {_side(side)}", res["cpu"], res["count"]))
    b = r.get("burst")
    if b:
        for side in ("raw", "product"):
            opened = b[side]["open"]
            spans.append((f"4. burst opens, {_side(side)}", opened["cpu"], opened["count"]))
            spans.append(
                (f"4. burst deadline, {_side(side)}", b[side]["cpu"], b[side]["escalated"])
            )
    for mode, m in r.get("sqlite", {}).items():
        spans.append((f"7. {mode}, raw", m["cpu"], m["count"]))
    return spans


def _side(side: str) -> str:
    return "slaflow" if side == "product" else "raw"


def _worker(cpu: dict[str, float]) -> float:
    return cpu.get("slaflow", cpu.get("worker", 0.0))


def per_op_ms(cpu: dict[str, float], count: int) -> tuple[float, float] | None:
    """CPU milliseconds per operation: (dev server, slaflow or raw worker)."""
    span = cpu.get("span_s", 0.0)
    if not count or not span:
        return None
    return (
        round(cpu.get("server", 0.0) * span / count * 1000, 1),
        round(_worker(cpu) * span / count * 1000, 1),
    )


def sections(r: dict[str, Any]) -> list[str]:
    return [*method(r), *cpu_table(r), *misses(r), *sqlite(r), *running()]


def method(r: dict[str, Any]) -> list[str]:
    s = r.get("sizes", {})
    lists = r.get("lists", {})
    b = r.get("burst", {})
    return [
        "## What was measured, and how much",
        "",
        "Three stacks, each started on free ports on 127.0.0.1 and killed at the end: the raw "
        "ceiling (a bare `temporal server start-dev` with `cli.dev_server_args`: SQLite WAL + "
        "`synchronous=normal`, one task-queue partition, slaflow's search attributes; plus "
        "`python -m bench.raw`, the minimal workflow's worker in its own process, cache 10,000)"
        ", and `slaflow up --no-ui --data-dir <tmp>` (server, worker and API in one process "
        "tree). The load generator is the bench process: the bare SDK client for raw, a small "
        "keep-alive HTTP client (`bench/http.py`) for slaflow. Raw and slaflow runs of each "
        "figure follow each other, so both see the same machine.",
        "",
        f"1. **Opens**: {s.get('open_counts')} tickets at concurrency {s.get('concurrency')}."
        " Each client opens a ticket (slaflow: `POST /tickets` with an explicit `ticket_id`; "
        "raw: `start_workflow`) and then reads it (slaflow: `GET /tickets/{id}`; raw: a query)."
        " The server holds a query until the workflow's first task is done, so the read "
        "answers when the ticket is *live*; opens per second count live tickets. "
        "*Accepted* latency is the POST / start RPC alone.",
        f"2. **Agent actions**: {s.get('act_counts')} `POST /tickets/{{id}}/respond` at the "
        "same concurrencies, each on a ticket of its own (opened in 1); raw: the workflow "
        f"update `respond` on distinct workflows. Then {s.get('visible')} times, one client: "
        "respond, then `GET` at once, checking that the first read already shows it (raw: a "
        "signal, then queries every 2 ms until one shows it).",
        f"3. **Reads**: {s.get('reads')} `GET /tickets/{{id}}` one after another, one client, "
        "on open cached tickets; raw: queries.",
        f"4. **Breach burst**: {s.get('burst')} P1 tickets asked for (opened: "
        f"{b.get('product', {}).get('tickets', '-')}) with a response target of "
        f"{s.get('burst_target')} s, all due at the same second. slaflow counts a ticket's "
        "time from its open, so the bench's config gives the tickets a business calendar "
        "whose hours begin at a whole minute T0 a little ahead: every ticket opened before T0 "
        "starts its clock at T0 and is due at T0 + target. Lateness per ticket = the "
        "escalation's `recorded_at` minus its due time `at`, from the store's `notifications` "
        "table. Raw: as many minimal workflows with the same absolute deadline; lateness = "
        "the activity's start minus the deadline. Opening stops a few seconds before T0 (at "
        "most 75 s of opening), so a busy machine opens fewer; the raw side opens as many as "
        "slaflow did. No warnings in the burst config, so only the breach fires.",
        "5. **Memory**: VmRSS of the `slaflow up` process (worker and API; the dev server is "
        "its child and is read separately) before any ticket and after the tickets of 1 and 2"
        " are open and responded; raw: the raw worker's process. *Marginal* is the growth "
        "between the two open runs of 1 per 1,000 tickets. The bounded-cache figure comes from "
        "a second `slaflow up` with `SLAFLOW_MAX_CACHED_WORKFLOWS=500` after the tickets of 6.",
        f"6. **Lists**: {lists.get('tickets', '-')} tickets (asked: {s.get('list_tickets')}; "
        "opened at the highest concurrency within the time the budget leaves, live, priorities "
        "P1-P3 and 50 customers in turn), then "
        f"{s.get('list_calls')} `GET /tickets` calls with the filters "
        f"{', '.join('`' + f + '`' for f in lists.get('filters', []))} in turn (first page, "
        "100); raw: the same visibility query with the bare client, same server. "
        "`python -m bench --only list --list-tickets 10000` runs the full size (alone it fits "
        "in the budget; with everything else it does not).",
        f"7. **SQLite settings**: {s.get('sqlite_tickets')} raw tickets live at concurrency 50 "
        "on a bare dev server per journal setting.",
        "",
        f"Every load loop stops at its count or after {s.get('cap')} s, whichever comes first "
        f"(less when the {s.get('budget')} s budget of the whole run demands it): a row's "
        "count in brackets is what was done. Skipped: "
        f"{'; '.join(r.get('skipped', [])) or 'nothing'}.",
        "",
    ]


def cpu_table(r: dict[str, Any]) -> list[str]:
    spans = _spans(r)
    if not spans:
        return []
    lines = [
        "## Where the CPU went",
        "",
        "Cores used during each span (`server`: the dev server; `worker`: the `slaflow up` "
        "process, worker and API, or the raw worker; `bench`: the load generator; `others`: "
        "everything else on the machine), and CPU milliseconds per operation, which other "
        "load disturbs far less than rates do.",
        "",
        "| span | server | worker | bench | others | machine | ops | server ms/op | worker ms/op |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, cpu, count in spans:
        per = per_op_ms(cpu, count)
        lines.append(
            f"| {name} | {cpu.get('server', 0):.2f} | {_worker(cpu):.2f} | "
            f"{cpu.get('bench', 0):.2f} | {cpu.get('others', 0):.2f} | "
            f"{cpu.get('machine', 0):.2f} | {count} | "
            f"{per[0] if per else '-'} | {per[1] if per else '-'} |"
        )
    return [*lines, ""]


def _profile(result: dict[str, Any] | None) -> list[str]:
    prof = (result or {}).get("profile")
    if not prof or "skipped" in prof or not prof.get("samples"):
        why = (prof or {}).get("skipped", "no samples")
        return [f"- No py-spy profile ({why})."]
    areas = ", ".join(f"{name} {pct}%" for name, pct in prof["inclusive_pct"][:9])
    leaves = ", ".join(f"`{name}` {pct}%" for name, pct in prof["self_pct"][:6])
    return [
        f"- py-spy on the `slaflow up` process during that run ({prof['samples']} samples "
        f"holding the GIL, 50 per s): by area, inclusive: {areas}.",
        f"- Hottest functions (self): {leaves}.",
    ]


def _cpu_compare(raw: dict[str, Any], product: dict[str, Any], what: str) -> list[str]:
    p, w = per_op_ms(product["cpu"], product["count"]), per_op_ms(raw["cpu"], raw["count"])
    if not p or not w:
        return []
    busy = product["cpu"].get("machine", 0.0)
    return [
        f"- CPU per {what}: slaflow's process {p[1]} ms and its server {p[0]} ms, against the "
        f"raw worker's {w[1]} ms and its server {w[0]} ms: slaflow adds {p[1] - w[1]:.1f} ms of "
        f"Python and {p[0] - w[0]:.1f} ms of server work per {what}. The machine was "
        f"{busy:.2f} of its cores busy (others: {product['cpu'].get('others', 0):.2f}): it is "
        "CPU-bound, so that added CPU is the lost rate."
    ]


def _by_concurrency(runs: list[dict[str, Any]], figure: str) -> dict[str, Any] | None:
    for run in runs:
        if f"concurrency {run['concurrency']}" in figure:
            return run
    return None


def _detail(r: dict[str, Any], number: str, figure: str) -> list[str]:
    if number in ("1", "2"):
        run = _by_concurrency(r.get("opens" if number == "1" else "actions", []), figure)
        if run is None:
            return []
        what = "live ticket" if number == "1" else "action"
        lines = _cpu_compare(run["raw"], run["product"], what)
        if run["product"].get("errors"):
            lines.append(
                f"- {run['product']['errors']} requests failed, e.g. "
                f"`{run['product']['first_errors'][0][:160]}`."
            )
        return [*lines, *_profile(run["product"])]
    if number == "4" and "burst" in r:
        b = r["burst"]
        p = per_op_ms(b["product"]["cpu"], b["product"]["escalated"])
        w = per_op_ms(b["raw"]["cpu"], b["raw"]["escalated"])
        lines = []
        if p and w:
            lines.append(
                f"- CPU per breach, from a second before the deadline until the last "
                f"escalation: slaflow's process {p[1]} ms and its server {p[0]} ms; raw worker "
                f"{w[1]} ms and its server {w[0]} ms."
            )
        return [*lines, *_profile(b["product"])]
    if number == "6" and "lists" in r:
        p, w = r["lists"]["product"].get("latency"), r["lists"]["raw"].get("latency")
        if p and w and p.get("n") and w.get("n"):
            return [
                f"- The same visibility query straight to the same server took {w['p50_ms']:g}"
                f" / {w['p99_ms']:g} ms (p50 / p99): the server's SQLite visibility store is "
                f"the limit here; slaflow's HTTP, query building and serialisation add "
                f"{p['p50_ms'] - w['p50_ms']:.1f} ms at p50."
            ]
    return []


def misses(r: dict[str, Any]) -> list[str]:
    from bench.report import rows  # the table decides what missed

    missed = [row for row in rows(r) if row[5] == "**no**"]
    lines = ["## Why a figure misses its target", ""]
    if not missed:
        return [*lines, "Every figure with a target met it in this run.", ""]
    seen: set[str] = set()
    for row in missed:
        number = row[0].split(".", 1)[0]
        lines += ["", f"**{row[0]}**: {row[1]} against {row[2]} ({row[3]}).", ""]
        if number not in seen:
            lines += WHY.get(number, [])
            seen.add(number)
        lines += _detail(r, number, row[0])
    return [*lines, "", *CHANGES, ""]


# What slaflow's code does that the raw workflow does not (read from the code; the figures
# above say how much each weighs in a run).
WHY: dict[str, list[str]] = {
    "1": [
        "- Per open, besides what raw does (start, first workflow task, a query): the API "
        "parses and validates the request, resolves the policy snapshot (calendar included) "
        "and computes the ticket's state, in the same Python process as the worker; the start "
        "carries 7 search attributes and a larger payload; the first workflow task awaits a "
        "local activity (`record_ticket`: a SQLite upsert through SQLAlchemy, in a thread) "
        "before it can complete, and upserts all 7 search attributes again although the start "
        "set them (`TicketWorkflow._indexed` starts as None), which costs the server a second "
        "visibility write; the live read is a GET whose answer FastAPI and pydantic serialise.",
    ],
    "2": [
        "- Per respond, besides the update itself (all raw does): the same workflow task runs "
        "the ticket's loop again: the `record_ticket` local activity (a SQLite write; the "
        "update's answer waits for the task, so for the write), an upsert of the changed "
        "search attributes (status, response due), and the SLA timer cancelled and started "
        "anew; and the API's validation and the Ticket's serialisation.",
    ],
    "4": [
        "- Per breach, raw needs the timer's workflow task, one activity and the task that "
        "completes the workflow. slaflow's timer task dispatches two activities "
        "(`record_penalty`, `escalate`), then awaits the `record_ticket` local activity, so "
        "the task (and with it the scheduling of both activities) completes only after that "
        "SQLite write; it also upserts search attributes and starts the next timer. The "
        "`escalate` activity then writes the store (SQLAlchemy, a thread) and a log line, and "
        "each activity's completion costs one more workflow task: about three workflow tasks, "
        "two activities, a local activity and three store transactions per breach, in the "
        "one Python process.",
    ],
    "5": [
        "- Each cached ticket keeps its workflow instance in the worker: the input (the policy "
        "snapshot with its calendar, targets and escalation chain) and the ticket's state as "
        "pydantic models (two clocks, timeline, escalations), inside a per-workflow sandbox "
        "that re-executes `workflows/ticket.py`; the raw workflow holds two booleans. "
        "The bounded cache (`SLAFLOW_MAX_CACHED_WORKFLOWS=500`) caps that growth, at the cost "
        "of a replay per action on an evicted ticket.",
    ],
    "6": [],
    "3": [],
}

CHANGES = [
    "### Product changes these figures point to (not made by the bench)",
    "",
    "- Breach burst (4): record the escalation and the penalty as local activities, or one "
    "activity for both, inside the timer's workflow task, and start activities before awaiting "
    "the `record_ticket` write, so one workflow task carries the whole breach "
    '(PERFORMANCE.md: "local activities for cheap steps, and doing several things in one '
    'workflow task").',
    "- Opens (1): seed `TicketWorkflow._indexed` with the values the start already indexed, so "
    "the first task does not upsert them again; let the open's first task skip the store "
    "write, or batch the store's ticket rows.",
    "- Actions (2): the update's answer waits for the `record_ticket` local activity; write the "
    "outcome after the update has answered (a later task) or batch it.",
    "- Memory (5): run workflows with the sandbox's passthrough for slaflow's own pure modules "
    "(or unsandboxed; PERFORMANCE.md: 67 KB against 47 KB per workflow), keep less in the "
    "cached state, and size `SLAFLOW_MAX_CACHED_WORKFLOWS` to the open tickets.",
    "- On two cores every workflow task and every Python millisecond is throughput: `slaflow "
    "up` runs the API and the worker in one process, sharing one GIL; on bigger machines "
    "`slaflow api` and `slaflow worker` apart.",
]


def sqlite(r: dict[str, Any]) -> list[str]:
    modes = r.get("sqlite")
    if not modes:
        return []
    figures = ", ".join(f"{mode} {m['per_second']}/s" for mode, m in modes.items())
    return [
        "## The embedded server's SQLite settings",
        "",
        f"Raw tickets live per second: {figures}.",
        "",
        "- **default** (no pragma: rollback journal `DELETE`, `synchronous=FULL`): every "
        "commit writes the journal and the database and syncs both; a power loss or OS crash "
        "loses no committed transaction.",
        "- **`journal_mode=wal` + `synchronous=normal`** (what `slaflow up` runs): commits "
        "append to the WAL without a sync; the WAL is synced at checkpoints. A killed process "
        "(even `kill -9`) loses nothing, since the WAL is in the OS's page cache; a power loss "
        "or OS crash can lose the transactions committed since the last checkpoint (the "
        "database stays consistent, it rolls back to that point: recent tickets, actions or "
        "timers could be missing).",
        "- **`journal_mode=wal` + `synchronous=full`**: every commit syncs the WAL; survives "
        "power loss like the default, at the cost of a sync per commit.",
        "",
    ]


def running() -> list[str]:
    return [
        "## Running it",
        "",
        "```sh",
        "make bench                                   # everything, within the budget",
        "python -m bench --only open,act --cap 60     # some measurements, longer loops",
        "python -m bench --only list --list-tickets 10000   # the list at full size",
        "python -m bench --help",
        "```",
        "",
    ]
