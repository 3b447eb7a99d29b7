"""The prose of docs/benchmarks.md: method and sizes, where the CPU went, why a figure misses."""

from __future__ import annotations

from typing import Any


def noise(r: dict[str, Any]) -> str:
    others = [cpu["others"] for cpu in _cpu_blocks(r).values() if "others" in cpu]
    if not others:
        return "Other load on the machine: not measured."
    mean = sum(others) / len(others)
    return (
        f"Other processes (other engineers' test runs) used {mean:.2f} cores on average "
        f"(at most {max(others):.2f}) of the machine's cores while the bench measured, from "
        "`/proc/stat` minus the bench's own processes: figures are comparable within this run, "
        "not with another machine's."
    )


def _cpu_blocks(r: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Every measured span's cores per process, by a readable name."""
    blocks: dict[str, dict[str, float]] = {}
    for o in r.get("opens", []):
        for side in ("raw", "product"):
            blocks[f"1. opens c{o['concurrency']}, {side}"] = o[side]["cpu"]
    for a in r.get("actions", []):
        for side in ("raw", "product"):
            blocks[f"2. actions c{a['concurrency']}, {side}"] = a[side]["cpu"]
    for name in ("reads", "lists"):
        for side in ("raw", "product"):
            if name in r and "cpu" in r[name][side]:
                number = "3" if name == "reads" else "6"
                blocks[f"{number}. {name}, {side}"] = r[name][side]["cpu"]
    b = r.get("burst")
    if b:
        blocks["4. burst opens, slaflow"] = b["product"]["open"]["cpu"]
        blocks["4. burst deadline, slaflow"] = b["product"]["cpu"]
        blocks["4. burst opens, raw"] = b["raw"]["open"]["cpu"]
        blocks["4. burst deadline, raw"] = b["raw"]["cpu"]
    for mode, m in r.get("sqlite", {}).items():
        blocks[f"7. {mode}, raw"] = m["cpu"]
    return blocks


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
    blocks = _cpu_blocks(r)
    if not blocks:
        return []
    lines = [
        "## Where the CPU went (cores, of the machine's)",
        "",
        "`server` is the dev server, `slaflow` the `slaflow up` process (worker + API), "
        "`worker` the raw worker, `bench` the load generator, `others` everything else on "
        "the machine.",
        "",
        "| span | server | slaflow / raw worker | bench | others | machine |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, cpu in blocks.items():
        worker = cpu.get("slaflow", cpu.get("worker", 0.0))
        lines.append(
            f"| {name} | {cpu.get('server', 0):.2f} | {worker:.2f} | {cpu.get('bench', 0):.2f} "
            f"| {cpu.get('others', 0):.2f} | {cpu.get('machine', 0):.2f} |"
        )
    return [*lines, ""]


def _profile(block: dict[str, Any] | None) -> list[str]:
    if not block or "profile" not in block:
        return ["  (no profile)"]
    prof = block["profile"]
    if "skipped" in prof or not prof.get("samples"):
        return [f"  (no profile: {prof.get('skipped', 'no samples')})"]
    areas = ", ".join(f"{name} {pct}%" for name, pct in prof["inclusive_pct"][:8])
    leaves = ", ".join(f"`{name}` {pct}%" for name, pct in prof["self_pct"][:6])
    return [
        f"  - py-spy, {prof['samples']} samples holding the GIL: inclusive by area: {areas}.",
        f"  - Hottest functions (self): {leaves}.",
    ]


def misses(r: dict[str, Any]) -> list[str]:
    from bench.report import rows  # the table decides what missed

    missed = [row for row in rows(r) if row[5] == "**no**"]
    lines = ["## Why a figure misses its target", ""]
    if not missed:
        return [*lines, "Every figure with a target met it in this run.", ""]
    profiles = r.get("profiles", {})
    for row in missed:
        lines.append(f"- **{row[0]}**: {row[1]} against {row[2]} ({row[3]}).")
        number = row[0].split(".", 1)[0]
        lines += [f"  {text}" for text in WHY.get(number, [])]
        if number == "1":
            lines += _profile(profiles.get("open"))
        elif number == "2":
            lines += _profile(profiles.get("act"))
        elif number == "4":
            lines += _profile(r.get("burst", {}).get("product"))
    return [*lines, ""]


# What the code does that the raw workflow does not, per measurement (read from the code;
# the measured shares above and in the CPU table say how much each weighs in this run).
WHY: dict[str, list[str]] = {}


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
