"""Write docs/benchmarks.md (figures beside their raw ceiling) and docs/benchmarks.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import explain
from bench.stack import BIN

REPO = Path(__file__).resolve().parents[1]

Row = tuple[str, str, str, str, str, str]  # figure, slaflow, raw, ratio, target, met


def machine() -> dict[str, Any]:
    """nproc, memory, CPU model, date, commit and versions: what the figures were taken on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor())  # fmt: skip
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0]
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
        # Without .pyc files every import compiles from source: it matters to the sandbox.
        "pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "dockerfile_sets_it": "PYTHONDONTWRITEBYTECODE" in _read(REPO / "Dockerfile"),
    }


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _run(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def write(results: dict[str, Any], docs: Path) -> tuple[Path, Path]:
    docs.mkdir(parents=True, exist_ok=True)
    js = docs / "benchmarks.json"
    js.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    md = docs / "benchmarks.md"
    md.write_text(markdown(results), encoding="utf-8")
    return md, js


# -- figures ------------------------------------------------------------------------------


def _ratio(product: float | None, raw: float | None) -> str:
    return f"{product / raw:.2f}x" if product is not None and raw else "-"


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def _lat(block: dict[str, Any] | None) -> str:
    if not block or not block.get("n"):
        return "-"

    def ms(value: float | None) -> str:
        # None: not escalated within the wait (measurement 4), so later than that
        after = float(block.get("censored_after_s") or 0.0)
        return f"> {after * 1000:g}" if value is None else f"{value:g}"

    return f"{ms(block['p50_ms'])} / {ms(block['p99_ms'])} ms"


def rows(r: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for o in r.get("opens", []):
        p, w = o["product"], o["raw"]
        ratio = p["per_second"] / w["per_second"] if w["per_second"] else None
        out.append((
            f"1. tickets opened and live per s, concurrency {o['concurrency']}",
            f"{p['per_second']}/s ({p['count']})", f"{w['per_second']}/s ({w['count']})",
            _ratio(p["per_second"], w["per_second"]), ">= 0.8x",
            _met(None if ratio is None else ratio >= 0.8),
        ))  # fmt: skip
        out.append((
            f"1. accepted p50 / p99 (POST; raw: start RPC), concurrency {o['concurrency']}",
            _lat(p.get("accept")), _lat(w.get("accept")), "-", "-", "-",
        ))  # fmt: skip
    for a in r.get("actions", []):
        p, w = a["product"], a["raw"]
        ratio = p["per_second"] / w["per_second"] if w["per_second"] else None
        out.append((
            f"2. agent actions per s (respond; raw: update), concurrency {a['concurrency']}",
            f"{p['per_second']}/s ({p['count']})", f"{w['per_second']}/s ({w['count']})",
            _ratio(p["per_second"], w["per_second"]), ">= 0.8x",
            _met(None if ratio is None else ratio >= 0.8),
        ))  # fmt: skip
        out.append((
            f"2. action latency p50 / p99, concurrency {a['concurrency']}",
            _lat(p.get("latency")), _lat(w.get("latency")), "-", "-", "-",
        ))  # fmt: skip
    if "visible" in r:
        v = r["visible"]
        shown = f"{v['product_first_get_shows_it']}/{v['tickets']} first GETs show it"
        extra = v["product_extra_wait_ms"]
        out.append((
            "2. wait until a read shows the action",
            f"{'0 ms' if extra == 0 else 'not always'}: the answer carries it; {shown}",
            f"signal, then queries: {_lat(v['raw_signal_until_query_shows'])}",
            "-", "0 extra", _met(extra == 0),
        ))  # fmt: skip
    if "reads" in r:
        p, w = r["reads"]["product"].get("latency"), r["reads"]["raw"].get("latency")
        out.append((
            "3. GET /tickets/{id} p50 / p99, one client (raw: query)",
            _lat(p), _lat(w), _ratio(p and p.get("p99_ms"), w and w.get("p99_ms")) + " (p99)",
            "p99 < 50 ms", _met(None if not p else p["p99_ms"] < 50),
        ))  # fmt: skip
    out += _burst_rows(r.get("burst"))
    out += _memory_rows(r.get("memory", {}))
    if "lists" in r:
        ls = r["lists"]
        p, w = ls["product"].get("latency"), ls["raw"].get("latency")
        out.append((
            f"6. GET /tickets with filters p50 / p99, {ls['tickets']} tickets in visibility "
            "(raw: the same visibility query)",
            _lat(p), _lat(w), _ratio(p and p.get("p99_ms"), w and w.get("p99_ms")) + " (p99)",
            "p99 < 200 ms", _met(None if not p else p["p99_ms"] < 200),
        ))  # fmt: skip
    if "sqlite" in r:
        base = r["sqlite"].get("wal+normal", {}).get("per_second")
        for mode, m in r["sqlite"].items():
            out.append((
                f"7. raw tickets live per s, SQLite {mode} (concurrency 50)",
                "-", f"{m['per_second']}/s ({m['count']})",
                _ratio(m["per_second"], base) + " of wal+normal", "-", "-",
            ))  # fmt: skip
    return out


def _burst_rows(b: dict[str, Any] | None) -> list[Row]:
    if not b:
        return []
    p, w = b["product"], b["raw"]
    pl, wl = p["lateness"], w["lateness"]
    n = f"{p['tickets']} tickets due {p['due_at'][11:19]} UTC, {b['target_s']} s target"
    inf = float("inf")
    ok = (
        None
        if not (pl.get("n") and wl.get("n"))
        else (pl["p99_ms"] or inf) <= (wl["p99_ms"] or inf)
        and (p["all_escalated_after_s"] or inf) <= (w["all_escalated_after_s"] or inf)
    )
    after_p, after_w = p["all_escalated_after_s"], w["all_escalated_after_s"]
    return [
        (
            f"4. escalation lateness p50 / p99 ({n})",
            _lat(pl), _lat(wl), _ratio(pl.get("p99_ms"), wl.get("p99_ms")) + " (p99)"
            if pl.get("p99_ms") is not None else "-",
            "no later than raw", _met(ok),
        ),
        (
            "4. all escalated after the deadline",
            f"{after_p} s" if after_p is not None else _partial(p),
            f"{after_w} s" if after_w is not None else _partial(w),
            _ratio(after_p, after_w), "no later than raw", "-",
        ),
    ]  # fmt: skip


def _partial(side: dict[str, Any]) -> str:
    waited = side["lateness"].get("censored_after_s")
    return f"{side['escalated']}/{side['tickets']} within {waited} s"


def per_thousand(mem: dict[str, Any], name: str) -> tuple[float | None, float | None]:
    """MB per 1,000 open tickets: (from the baseline, marginal between the two open runs)."""
    base, steps = mem.get("baseline"), [k for k in mem if k.startswith("after_")]
    if not base or not steps:
        return None, None
    last = mem[steps[-1]]
    count_key = "raw_workflows" if name.startswith("raw") else "tickets"
    whole = (last[name] - base[name]) / max(last[count_key], 1) * 1000
    opens = [mem[k] for k in steps if k.startswith("after_opens")]
    marginal = None
    if len(opens) >= 2 and opens[-1][count_key] > opens[0][count_key]:
        marginal = (opens[-1][name] - opens[0][name]) / (
            opens[-1][count_key] - opens[0][count_key]
        ) * 1000  # fmt: skip
    return round(whole, 1), None if marginal is None else round(marginal, 1)


def _memory_rows(memory: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    if "cache_10000" in memory:
        mem = memory["cache_10000"]
        whole, marginal = per_thousand(mem, "slaflow")
        raw_whole, raw_marginal = per_thousand(mem, "raw_worker")
        tickets = mem[[k for k in mem if k.startswith("after_")][-1]]["tickets"]
        out.append((
            f"5. worker RSS per 1,000 open tickets, cache 10,000 ({tickets} open; "
            "slaflow = worker + API process)",
            f"{whole} MB (marginal {marginal})", f"{raw_whole} MB (marginal {raw_marginal})",
            _ratio(whole, raw_whole), "< 150 MB", _met(None if whole is None else whole < 150),
        ))  # fmt: skip
        server, _ = per_thousand(mem, "server")
        raw_server, _ = per_thousand(mem, "raw_server")
        out.append((
            "5. dev server RSS per 1,000 open tickets (not slaflow's)",
            f"{server} MB", f"{raw_server} MB", _ratio(server, raw_server), "-", "-",
        ))  # fmt: skip
    if "cache_500" in memory:
        mem = memory["cache_500"]
        base, after = mem["baseline"], mem["after_opens"]
        per = (after["slaflow"] - base["slaflow"]) / max(after["tickets"], 1) * 1000
        full = mem.get("at_cache_full") or {}
        beyond = ""
        if full and after["tickets"] > 500:
            slope = (after["slaflow"] - full["slaflow"]) / (after["tickets"] - 500) * 1000
            beyond = f"; beyond the 500 cached: {slope:.1f} MB per 1,000"
        out.append((
            f"5. worker RSS per 1,000 open tickets, SLAFLOW_MAX_CACHED_WORKFLOWS=500 "
            f"({after['tickets']} open)",
            f"{per:.1f} MB ({after['slaflow'] - base['slaflow']:.0f} MB in all{beyond})", "-",
            "-", "< 150 MB", _met(per < 150),
        ))  # fmt: skip
    return out


def markdown(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows(r))
    return "\n".join([
        "# Benchmarks: what slaflow adds on top of the Temporal server",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand, run it again. "
        "Every slaflow figure stands beside the raw ceiling measured in the same run on this "
        "machine: a bare dev server with the same flags, the bare SDK client and a minimal "
        "ticket-like workflow (`bench/raw.py`).",
        "",
        f"- Machine: {m.get('nproc')} cores ({m.get('cpu_model')}), {m.get('memory_gib')} GiB;"
        f" Python {m.get('python')}, temporalio {m.get('temporalio')}, "
        f"{m.get('temporal_cli', '').splitlines()[0] if m.get('temporal_cli') else ''}.",
        f"- Date: {m.get('date')}; commit `{m.get('commit')}`; `python -m bench` took "
        f"{r.get('wall_s')} s (budget {r.get('sizes', {}).get('budget')} s).",
        f"- {explain.noise(r)}",
        f"- Environment: `PYTHONDONTWRITEBYTECODE={m.get('pythondontwritebytecode') or ''}`"
        f" (slaflow's Dockerfile {'sets it too' if m.get('dockerfile_sets_it') else 'does not'}"
        "); load average at start / end: "
        f"{' '.join(m.get('loadavg_at_start', []))} / {' '.join(m.get('loadavg_at_end', []))}.",
        "",
        "## Figures",
        "",
        "| figure | slaflow | raw ceiling (same run) | slaflow / raw | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
        table,
        "",
        *explain.sections(r),
    ]) + "\n"  # fmt: skip
