"""The prose of docs/benchmarks.md: method and sizes, where the CPU went, why a figure misses."""

from __future__ import annotations

from typing import Any

from bench.stats import per_op_ms, worker_cores
from bench.why import history_section, misses


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


def sections(r: dict[str, Any]) -> list[str]:
    return [*method(r), *cpu_table(r), *history_section(r), *misses(r), *sqlite(r), *running()]


def method(r: dict[str, Any]) -> list[str]:
    s = r.get("sizes", {})
    lists = r.get("lists", {})
    b = r.get("burst", {})
    return [
        "## What was measured, and how much",
        "",
        "Two kinds of stack, each started on free ports on 127.0.0.1 in a temporary data "
        "directory and killed at the end (1-3 and 5 share one of each; 4, 6 and 7 start "
        "their own): the raw ceiling, a bare `temporal server start-dev` with "
        "`cli.dev_server_args` (SQLite WAL + `synchronous=normal`, one task-queue partition, "
        "slaflow's search attributes) and `python -m bench.raw`, the minimal workflow's worker "
        "in a process of its own (cache 10,000, the SDK's other defaults); and "
        "`slaflow up --no-ui` (its server, and worker and API in one process). The load "
        "generator is the bench process: the bare SDK client for raw, a small keep-alive HTTP "
        "client (`bench/http.py`) for slaflow. The raw and slaflow runs of a figure follow "
        "each other, so both see the same machine.",
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
        f"most {b.get('max_lead_s', '-')} s of opening at concurrency 50), so a busy machine "
        "opens fewer; the raw side opens as many as slaflow did. Each side waits up to "
        f"{b.get('collect_s', '-')} s after the deadline (less if the budget is spent) for its "
        "escalations; a ticket not escalated by then counts as later than that (`> N s`). "
        "No warnings in the burst config, so only the breach fires. It runs last, with what "
        "is left of the budget.",
        "5. **Memory**: VmRSS of the `slaflow up` process (worker and API; the dev server is "
        "its child and is read separately) before any ticket and after the tickets of 1 and 2"
        " are open and responded; raw: the raw worker's process. *Marginal* is the growth "
        "between the two open runs of 1 per 1,000 tickets. The bounded-cache figure comes from "
        "a second `slaflow up` with `SLAFLOW_MAX_CACHED_WORKFLOWS=500` after the tickets of 6, "
        "with the growth after the 500th ticket (the cache full) apart.",
        f"6. **Lists**: {lists.get('tickets', '-')} tickets (asked: {s.get('list_tickets')}; "
        "opened at the highest concurrency within the time the budget leaves, live, priorities "
        "P1-P3 and 50 customers in turn), then "
        f"{s.get('list_calls')} `GET /tickets` calls with the filters "
        f"{', '.join('`' + f + '`' for f in lists.get('filters', []))} in turn (first page, "
        "100); raw: the same visibility query with the bare client, same server. 10,000 "
        "tickets take longer to open than the whole run may last on this machine: "
        "`python -m bench --only list --list-tickets 10000 --budget 900` runs the full size.",
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
            f"| {name} | {cpu.get('server', 0):.2f} | {worker_cores(cpu):.2f} | "
            f"{cpu.get('bench', 0):.2f} | {cpu.get('others', 0):.2f} | "
            f"{cpu.get('machine', 0):.2f} | {count} | "
            f"{per[0] if per else '-'} | {per[1] if per else '-'} |"
        )
    return [*lines, ""]


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
        "make bench                 # everything, within the budget (--budget, 550 s)",
        "python -m bench --only open,act --cap 60            # some, with longer loops",
        "python -m bench --only list --list-tickets 10000 --budget 900   # 6 at full size",
        "python -m bench --only burst --burst 2000 --budget 900          # 4 at full size",
        "python -m bench --help",
        "```",
        "",
    ]
