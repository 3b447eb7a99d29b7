"""Why a figure misses: what this run's histories, CPU shares and profiles say slaflow adds."""

from __future__ import annotations

from typing import Any

from bench.histories import render
from bench.stats import per_op_ms


def _profile(result: dict[str, Any] | None, host: dict[str, Any]) -> list[str]:
    prof = (result or {}).get("profile")
    if not prof or "skipped" in prof or not prof.get("samples"):
        why = (prof or {}).get("skipped", "no samples")
        return [f"- No py-spy profile ({why})."]
    areas = ", ".join(f"{name} {pct}%" for name, pct in prof["inclusive_pct"][:10])
    leaves = ", ".join(
        f"`{entry[0]}` {entry[1]}%" + (f" (from `{entry[2]}`)" if entry[2:] and entry[2] else "")
        for entry in prof["self_pct"][:5]
    )
    few = " (few: read the shares with care)" if prof["samples"] < 100 else ""
    lines = [
        f"- py-spy on the `slaflow up` process during that run ({prof['samples']} samples "
        f"holding the GIL{few}, 50 per s): by area, inclusive: {areas}.",
        f"- Hottest functions (self): {leaves}.",
    ]
    imports = dict(prof["inclusive_pct"]).get("module imports (compile, exec)", 0.0)
    if imports >= 5:
        where = [
            *(["on this machine"] if host.get("pythondontwritebytecode") else []),
            *(["in slaflow's Dockerfile"] if host.get("dockerfile_sets_it") else []),
        ]
        bytecode = (
            f" With `PYTHONDONTWRITEBYTECODE` set ({' and '.join(where)}) there is no `.pyc`, "
            "so each of those imports first compiles the module from source."
            if where
            else ""
        )
        lines.append(
            f"- {imports}% of it is module imports: the workflow sandbox imports the "
            "workflow's module (`workflows/ticket.py`) afresh for every workflow run it "
            f"starts or replays.{bytecode}"
        )
    return lines


def _cpu_compare(raw: dict[str, Any], product: dict[str, Any], what: str) -> list[str]:
    p, w = per_op_ms(product["cpu"], product["count"]), per_op_ms(raw["cpu"], raw["count"])
    if not p or not w:
        return []
    return [
        f"- CPU per {what}: slaflow's process {p[1]} ms and its server {p[0]} ms, against the "
        f"raw worker's {w[1]} ms and its server {w[0]} ms: slaflow adds {p[1] - w[1]:.1f} ms of "
        f"Python and {p[0] - w[0]:.1f} ms of server work per {what}.",
        *_limits(product["cpu"]),
    ]


def _ceiling(run: dict[str, Any], what: str, cores: int) -> list[str]:
    """The rate the machine allows at slaflow's CPU cost per operation, raw's rate beside it:
    when even the server's own share caps it below the target, no Python change reaches it."""
    product, raw = run["product"], run["raw"]
    p = per_op_ms(product["cpu"], product["count"])
    rate = raw.get("per_second")
    if not p or not rate or not p[0]:
        return []
    server_only = cores * 1000 / p[0]
    both = cores * 1000 / (p[0] + p[1])
    return [
        f"- What the machine allows at that cost: its {cores} cores give the server alone "
        f"at most {server_only:.0f} {what}s/s ({server_only / rate:.2f}x raw's "
        f"{rate:g}/s), and the server plus slaflow's process at most {both:.0f}/s "
        f"({both / rate:.2f}x): the server's work per {what} is the first limit "
        "(history events, timers, visibility upserts), then the Python."
        if server_only / rate < 0.8
        else f"- What the machine allows at that cost: {both:.0f}/s with the server and "
        f"slaflow's process sharing its {cores} cores ({both / rate:.2f}x raw's {rate:g}/s)."
    ]


def _limits(cpu: dict[str, float]) -> list[str]:
    """Which ceiling a span ran into: one Python process's core, or the machine's."""
    lines = []
    if cpu.get("slaflow", 0.0) >= 0.8:
        lines.append(
            f"- The `slaflow up` process ran at {cpu['slaflow']:.2f} cores, near the one core "
            "its GIL allows its Python code (API and worker); an API in a process of its own "
            "measured no faster on this machine (docs/tuning.md)."
        )
    if cpu.get("machine", 0.0) >= 1.8:
        lines.append(
            f"- The machine had {cpu['machine']:.2f} cores busy (others: "
            f"{cpu.get('others', 0.0):.2f}): CPU-bound, so the added CPU is the lost rate."
        )
    return lines


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
        lines += _ceiling(run, what, r.get("machine", {}).get("nproc") or 2)
        if run["product"].get("errors"):
            lines.append(
                f"- {run['product']['errors']} requests failed, e.g. "
                f"`{run['product']['first_errors'][0][:160]}`."
            )
        return [*lines, *_profile(run["product"], r.get("machine", {}))]
    if number == "4" and "burst" in r:
        b = r["burst"]
        p = per_op_ms(b["product"]["cpu"], b["product"]["escalated"])
        w = per_op_ms(b["raw"]["cpu"], b["raw"]["escalated"])
        lines = []
        if p and w:
            lines.append(
                f"- CPU per breach, from a second before the deadline until the last "
                f"escalation: slaflow's process {p[1]} ms and its server {p[0]} ms; raw worker "
                f"{w[1]} ms and its server {w[0]} ms (raw's server at "
                f"{b['raw']['cpu'].get('server', 0):.2f} cores)."
            )
            cores = r.get("machine", {}).get("nproc") or 2
            n_p, n_w = b["product"]["escalated"], b["raw"]["escalated"]
            floor_p = n_p * (p[0] + p[1]) / cores / 1000
            floor_w = n_w * (w[0] + w[1]) / cores / 1000
            lines.append(
                f"- A floor from that CPU alone: {n_p} breaches at {p[0] + p[1]:.1f} ms each "
                f"need {floor_p:.1f} s of the machine's {cores} cores (raw: {n_w} at "
                f"{w[0] + w[1]:.1f} ms, {floor_w:.1f} s): the burst is CPU-bound on both "
                "sides, and the server's share of a breach (timer, task, visibility) is most "
                "of it."
            )
            lines += _limits(b["product"]["cpu"])
        return [*lines, *_profile(b["product"], r.get("machine", {}))]
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
        return [*lines, "Every figure with a target met it in this run.", "", *changes(r)]
    seen: set[str] = set()
    for row in missed:
        number = row[0].split(".", 1)[0]
        lines += [f"**{row[0]}**: {row[1]} against {row[2]} ({row[3]}).", ""]
        if number not in seen:
            lines += why(r, number)
            seen.add(number)
        lines += [*_detail(r, number, row[0]), ""]
    return [*lines, *changes(r)]


Tasks = list[dict[str, list[str]]]


def _task_with(found: Tasks, text: str) -> list[str]:
    for task in found:
        if any(text in item for item in task["did"] + task["on"]):
            return task["did"]
    return []


def _after_deadline(found: Tasks) -> Tasks:
    for index, task in enumerate(found):
        if "timer fired" in task["on"]:
            return found[index:]
    return []


def _opening(r: dict[str, Any], side: str) -> Tasks:
    """The workflow tasks of the sample ticket of 1, read right after it was opened."""
    found: Tasks = r.get("histories", {}).get("open", {}).get(side) or []
    return found


def _commands(found: Tasks) -> list[str]:
    return [item for task in found for item in task["did"]]


def _respond_task(r: dict[str, Any], side: str) -> list[str]:
    return _task_with(r.get("histories", {}).get("respond", {}).get(side) or [], "update respond")


def why(r: dict[str, Any], number: str) -> list[str]:
    """What slaflow did that the raw workflow did not, read from this run's histories."""
    if number == "1":
        product, raw = _opening(r, "product"), _opening(r, "raw")
        return [
            f"- Opening took a slaflow ticket {len(product)} workflow task(s) with "
            f"{len(_commands(product))} commands ({', '.join(_commands(product))}) where the "
            f"raw workflow took {len(raw)} with {len(_commands(raw))} "
            f"({', '.join(_commands(raw))}); "
            "each upsert is one more visibility write for the server, each local activity a "
            "wait before the task can complete (a store write, in a thread).",
            *(
                [
                    "- The live read (a query) reached the worker while the first task waited "
                    "for its local activity (the store's row of the new ticket): the SDK then "
                    "completes that task early and carries on in another, so a ticket read "
                    "at once costs one workflow task more than one read later."
                ]
                if len(product) > 1 and any("local activity" in item for item in _commands(product))
                else []
            ),
            "- Around it, the API parses and validates the request, resolves the policy "
            "snapshot and computes the ticket's state, and the live read is a GET that FastAPI "
            "and pydantic serialise: all in the same Python process as the worker.",
        ]
    if number == "2":
        did, raw_did = _respond_task(r, "product"), _respond_task(r, "raw")
        lines = [
            f"- A respond's workflow task did {len(did)} things ({', '.join(did)}) where the "
            f"raw update's did {len(raw_did)} ({', '.join(raw_did)}); and the API validates "
            "the action and serialises the whole ticket in its answer."
        ]
        if any("local activity" in item for item in did):
            lines.append(
                "- The update's answer goes out when its workflow task completes, and that "
                "task completes only after its local activities: every respond waits for a "
                "store write."
            )
        return lines
    if number == "4":
        b = r.get("burst", {})
        late = _after_deadline(b.get("product", {}).get("history", []))
        raw_late = _after_deadline(b.get("raw", {}).get("history", []))
        return [
            f"- After the deadline slaflow's ticket took {len(late)} workflow task(s): "
            f"{render(late)}. The raw workflow took {len(raw_late)}: {render(raw_late)}."
        ]
    if number == "5":
        return [
            "- Each cached ticket keeps its workflow instance in the worker: the input (the "
            "policy snapshot with its calendar, targets and escalation chain) and the ticket's "
            "state as pydantic models (two clocks, timeline, escalations), about 13 KB of "
            "Python objects (tracemalloc), beside the SDK's own state of the cached run; "
            "slaflow runs it without the sandbox (`SLAFLOW_WORKFLOW_SANDBOX=false`), the "
            "raw worker with it, and the raw workflow holds two booleans. The bounded cache "
            "(`SLAFLOW_MAX_CACHED_WORKFLOWS=500`) caps the growth, at the cost of a replay "
            "per action on an evicted ticket."
        ]
    return []


def _profiles(r: dict[str, Any]) -> list[dict[str, Any]]:
    runs = [run["product"] for name in ("opens", "actions") for run in r.get(name, [])]
    if "burst" in r:
        runs.append(r["burst"]["product"])
    return [run["profile"] for run in runs if run.get("profile", {}).get("samples")]


def changes(r: dict[str, Any]) -> list[str]:
    """Product changes this run's histories, profiles and CPU point to; the bench makes none."""
    first, respond = _commands(_opening(r, "product")), _respond_task(r, "product")
    breach = _after_deadline(r.get("burst", {}).get("product", {}).get("history", []))
    lives = [h.get("product", []) for h in r.get("histories", {}).values()]
    lives.append(r.get("burst", {}).get("product", {}).get("history", []))
    patches = max(
        (sum("TemporalChangeVersion" in item for item in _commands(life)) for life in lives),
        default=0,
    )
    imports = max(
        (dict(p["inclusive_pct"]).get("module imports (compile, exec)", 0.0) for p in _profiles(r)),
        default=0.0,
    )
    found = []
    if imports >= 5:
        found.append(
            f"Sandbox imports (up to {imports}% of the process's Python time): ship bytecode "
            "(no `PYTHONDONTWRITEBYTECODE` in the image, or `compileall` at build) and keep "
            "the workflow module small, or run the ticket workflow unsandboxed (PERFORMANCE.md: "
            "it also saves memory)."
        )
    opening = _opening(r, "product")
    started_indexed = any("started with" in item for task in opening for item in task["on"])
    if started_indexed and any("TicketStatus" in item for item in first):
        found.append(
            "Opens: the first task upserts the ticket's search attributes that the start "
            "already set: seed `TicketWorkflow._indexed` with the start's values to save one "
            "visibility write per open."
        )
    if patches:
        found.append(
            f"Patches: a sample ticket above upserts `TemporalChangeVersion` {patches} times "
            "in its life: each `workflow.patched()` a new ticket passes writes a marker and "
            "that visibility upsert. Retire a patch (deprecate, then remove) once no ticket "
            "started before it is open."
        )
    if any("local activity record_ticket" in item for item in respond):
        found.append(
            "Actions: the update's answer waits for the `record_ticket` local activity; write "
            "the outcome in a later task (after the answer) or batch those writes."
        )
    if "activity escalate scheduled" in render(breach):
        found.append(
            "Breach burst: record the escalation and penalty as local activities inside the "
            "timer's task instead of activities, so one workflow task carries the breach."
        )
    found += [
        "Memory: size `SLAFLOW_MAX_CACHED_WORKFLOWS` to the open tickets (figure 5 shows "
        "the cost of a cached ticket and of an evicted one).",
        "One GIL: `slaflow up` runs the API and the worker in one Python process. A "
        "separate API process measured no faster on 2 cores (`python -m bench.split`, "
        "docs/tuning.md): the machine, not the GIL, is full; on more cores run `slaflow "
        "api` (`SLAFLOW_API_WORKERS`) and `slaflow worker` apart.",
    ]
    return [
        "### Product changes these figures point to (not made by the bench)",
        "",
        *[f"- {text}" for text in found],
        "",
    ]


def history_section(r: dict[str, Any]) -> list[str]:
    h = dict(r.get("histories", {}))
    b = r.get("burst", {})
    if b:
        h["breach"] = {
            "raw": b["raw"].get("history", []),
            "product": b["product"].get("history", []),
        }
    if not h:
        return []
    lines = [
        "## What a ticket's history shows",
        "",
        "One ticket of each kind, read back from its server in the run: its workflow tasks, "
        "what woke each (`on`) and the commands it completed with.",
        "",
    ]
    names = {"open": "opened (1)", "respond": "opened, then responded (2)",
             "breach": "breached in the burst (4)"}  # fmt: skip
    for key, name in names.items():
        if key in h:
            lines += [
                f"- **{name}**, slaflow: {render(h[key]['product'])}",
                f"- **{name}**, raw: {render(h[key]['raw'])}",
            ]
    return [*lines, ""]
