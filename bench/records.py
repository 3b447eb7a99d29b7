"""What a run measured, as typed records: docs/benchmarks.json is `Results` dumped, and the
report (bench/report.py) renders its tables from these, never from loose dicts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

DOCS = Path(__file__).resolve().parents[1] / "docs"


class Latency(BaseModel):
    """Nearest-rank percentiles in ms. None: later than `censored_after_s` (measurement 4
    counts a ticket not escalated within its wait as later than the wait)."""

    n: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    censored_after_s: float | None = None


class Cpu(BaseModel):
    """Cores used over a span: the dev server, the worker (the `slaflow up` process, worker
    and API, or the raw worker), the load generator, everything else, the whole machine."""

    server: float = 0.0
    worker: float = 0.0
    bench: float = 0.0
    others: float = 0.0
    machine: float = 0.0
    span_s: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _slaflow_was_worker(cls, data: Any) -> Any:  # reports before the typed records
        if isinstance(data, dict) and "worker" not in data and "slaflow" in data:
            return {**data, "worker": data["slaflow"]}
        return data

    def per_op_ms(self, ops: int) -> tuple[float, float] | None:
        """CPU milliseconds per operation: (dev server, worker)."""
        if not ops or not self.span_s:
            return None
        return (
            round(self.server * self.span_s / ops * 1000, 1),
            round(self.worker * self.span_s / ops * 1000, 1),
        )


class Profile(BaseModel):
    """py-spy's GIL-holding samples of the `slaflow up` process: the top leaf functions (self
    %, with the caller they are most often reached from) and areas (inclusive %)."""

    samples: int = 0
    self_pct: list[tuple[str, float, str]] = []
    inclusive_pct: list[tuple[str, float]] = []
    skipped: str | None = None


class Loop(BaseModel):
    """A closed loop: operations done, their rate, errors, latency per phase, CPU over it."""

    count: int
    per_second: float
    wall_s: float
    errors: int = 0
    first_errors: list[str] = []
    capped: bool = False
    accept: Latency | None = None  # opens: the POST / start RPC alone
    live: Latency | None = None  # opens: until a read answers (the first task done)
    latency: Latency | None = None  # actions, reads, lists
    cpu: Cpu = Field(default_factory=Cpu)
    profile: Profile | None = None


class SqliteMode(Loop):
    pragmas: list[str]
    wal_file_seen: bool


class Pair(BaseModel):
    """One figure's raw loop and, right after it, slaflow's."""

    raw: Loop
    product: Loop
    concurrency: int | None = None


class Floor(BaseModel):
    """Measurement 8: the raw workflow indexed as a ticket is (its search attributes at start,
    a respond's upsert), at one concurrency."""

    concurrency: int
    opens: Loop
    actions: Loop


class Lists(Pair):
    tickets: int
    asked: int
    open: Loop
    filters: list[str]
    rows_per_page_mean: float


class Visible(BaseModel):
    """Action then read, one client: slaflow's answer and first GET; raw's signal-then-poll."""

    tickets: int
    product_state_in_answer: int
    product_first_get_shows_it: int
    product_extra_wait_ms: float | None
    product_get: Latency
    raw_signal_until_query_shows: Latency


class Rss(BaseModel):
    """Resident memory in MB at one moment (0: not taken), and what was open then."""

    slaflow: float = 0.0
    server: float = 0.0
    raw_worker: float = 0.0
    raw_server: float = 0.0
    tickets: int = 0
    raw_workflows: int = 0


class BoundedMemory(BaseModel):
    baseline: Rss
    after_opens: Rss
    at_cache_full: Rss = Field(default_factory=Rss)


class Memory(BaseModel):
    cache_10000: dict[str, Rss] = {}  # "baseline", then "after_..." in the order taken
    cache_500: BoundedMemory | None = None


class Task(BaseModel):
    """One workflow task of a history: what woke it, its commands, start to completion."""

    on: list[str]
    did: list[str] = []
    took_ms: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _took_was_text(cls, data: Any) -> Any:  # reports before the typed records: ["3 ms"]
        if isinstance(data, dict) and data.get("took"):
            return {**data, "took_ms": float(data["took"][0].split()[0])}
        return data


class Sides(BaseModel):
    raw: list[Task]
    product: list[Task]


class BurstSide(BaseModel):
    tickets: int
    escalated: int
    lateness: Latency
    all_escalated_after_s: float | None
    due_at: datetime
    open: Loop
    cpu: Cpu  # from a second before the deadline until the last escalation
    history: list[Task] = []
    profile: Profile | None = None
    calendar_start: datetime | None = None


class Burst(BaseModel):
    count: int
    target_s: int
    concurrency: int
    max_lead_s: int
    collect_s: int
    raw: BurstSide
    product: BurstSide


class Machine(BaseModel):
    nproc: int
    memory_gib: float
    cpu_model: str
    date: str
    commit: str
    python: str
    temporalio: str
    temporal_cli: str
    loadavg_at_start: list[str]
    loadavg_at_end: list[str] = []
    pythondontwritebytecode: str = ""  # no .pyc: every import compiles from source
    dockerfile_sets_it: bool = False


MEASUREMENTS = ("open", "act", "read", "burst", "memory", "list", "sqlite")


class Sizes(BaseModel):
    """What the run was asked for: `python -m bench`'s options, with their defaults."""

    only: str = Field(",".join(MEASUREMENTS), description=f"some of {', '.join(MEASUREMENTS)}")
    concurrency: list[int] = Field([50, 200], description="for opens and actions")
    open_counts: list[int] = Field([600, 1200], description="tickets per concurrency")
    act_counts: list[int] = Field([500, 1000], description="actions per concurrency")
    reads: int = Field(500, description="GETs (and raw queries), one client")
    visible: int = Field(30, description="action-then-read pairs, one client")
    burst: int = Field(2000, description="tickets due in the same second")
    burst_target: int = Field(10, description="P1 response target, seconds")
    list_tickets: int = Field(3000, description="tickets in visibility")
    list_calls: int = Field(100, description="GET /tickets calls, one client")
    sqlite_tickets: int = Field(400, description="tickets per SQLite setting")
    cap: float = Field(30.0, description="seconds at most per load loop")
    budget: float = Field(
        550.0, description="seconds for the run: loops shrink, phases are skipped"
    )
    collect: float = Field(90.0, description="seconds at most for a burst's escalations")
    profile: bool = Field(True, description="sample slaflow with py-spy (--no-profile: not)")
    quick: bool = Field(False, description="a smoke test: tiny counts, 170 s, a temporary --docs")
    docs: Path = Field(DOCS, description="where benchmarks.md and .json go")


class Results(BaseModel):
    machine: Machine
    sizes: Sizes
    selected: list[str]
    skipped: list[str] = []
    wall_s: float = 0.0
    opens: list[Pair] = []
    actions: list[Pair] = []
    floor: Floor | None = None
    visible: Visible | None = None
    reads: Pair | None = None
    burst: Burst | None = None
    memory: Memory = Field(default_factory=Memory)
    lists: Lists | None = None
    sqlite: dict[str, SqliteMode] = {}
    histories: dict[str, Sides] = {}  # "open", "respond": one sample ticket each
