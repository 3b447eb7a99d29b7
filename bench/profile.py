"""py-spy, when installed: where a process spends its CPU (GIL-holding samples) while a
measurement runs, summed by function and by package."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.records import Profile
from bench.stack import BIN
from cli import die_with_parent

REPO = str(Path(__file__).resolve().parents[1]) + "/"
ENABLED = True  # python -m bench --no-profile turns it off
RATE = 50  # samples per second: enough for shares, cheap for the machine being measured
# Where a frame's file lives says which part of the stack it is.
AREAS = (
    ("workflows/", "slaflow workflow code"),
    ("sla/", "slaflow rules (sla/)"),
    ("api/", "slaflow API (api/)"),
    ("store/", "slaflow store (store/)"),
    ("activities/", "slaflow activities"),
    ("temporalio/worker/workflow_sandbox", "temporalio sandbox"),
    ("temporalio/worker/_workflow_instance", "temporalio workflow instance"),
    ("temporalio/converter", "temporalio converter"),
    ("temporalio/worker/_activity", "temporalio activity worker (local activities too)"),
    ("temporalio/worker/_workflow.", "temporalio workflow worker"),
    ("temporalio/bridge/", "temporalio bridge (calls into the Rust core)"),
    ("temporalio/client", "temporalio client (API's calls)"),
    ("temporalio/", "temporalio (other)"),
    ("pydantic", "pydantic"),
    ("fastapi/", "fastapi"),
    ("starlette/", "starlette"),
    ("uvicorn/", "uvicorn"),
    ("sqlalchemy/", "sqlalchemy"),
    ("sqlite3/", "sqlite3"),
    ("logging/", "logging"),
    ("<frozen importlib", "module imports (compile, exec)"),
)


def py_spy() -> str | None:
    found = BIN / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


@dataclass
class Spy:
    profile: Profile | None = None  # set when the block is left


@contextlib.contextmanager
def profiled(pid: int, seconds: float | None) -> Iterator[Spy]:
    """Samples `pid` for at most `seconds` (None: not at all) while the block runs."""
    spy = Spy()
    if seconds is None:
        yield spy
        return
    tool = py_spy()
    if tool is None or not ENABLED:
        why = "--no-profile" if not ENABLED else "py-spy is not installed (pip install py-spy)"
        spy.profile = Profile(skipped=why)
        yield spy
        return
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-spy-") as tmp:
        out = Path(tmp) / "stacks.txt"
        args = [
            tool, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
            "--rate", str(RATE), "--format", "raw", "--gil", "--nonblocking", "-o", str(out),
        ]  # fmt: skip
        process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent
        )
        try:
            yield spy
        finally:
            process.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            try:
                _, err = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
        spy.profile = (
            summarize(out.read_text()) if out.exists() else Profile(skipped=err.decode()[-300:])
        )


def summarize(raw: str, top: int = 8) -> Profile:
    """Shares of GIL-holding samples: by leaf function (self, with the caller it is most
    often reached from) and by area (inclusive)."""
    leaves: Counter[str] = Counter()
    callers: dict[str, Counter[str]] = {}
    areas: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short(frame) for frame in stack.split(";")]
        leaves[frames[-1]] += count
        callers.setdefault(frames[-1], Counter())[_caller(frames)] += count
        for area in {_area(frame) for frame in frames}:
            if area is not None:
                areas[area] += count
    if not total:
        return Profile()

    def pct(n: int) -> float:
        return round(100 * n / total, 1)

    return Profile(
        samples=total,
        self_pct=[
            (name, pct(n), callers[name].most_common(1)[0][0])
            for name, n in leaves.most_common(top)
        ],
        inclusive_pct=[(name, pct(n)) for name, n in areas.most_common(top + 4)],
    )


def _caller(frames: list[str]) -> str:
    """The nearest caller that is not import machinery or the leaf's own module."""
    leaf_file = frames[-1].rpartition("(")[2]
    for frame in reversed(frames[:-1]):
        if "<frozen" not in frame and not frame.endswith(f"({leaf_file}"):
            return frame
    return ""


def _short(frame: str) -> str:
    """'respond (api/routes/tickets.py:143)' -> 'respond (api/routes/tickets.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", REPO, "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _area(frame: str) -> str | None:
    where = _short(frame)
    for marker, area in AREAS:
        anchored = f"({marker}" in where or f"/{marker}" in where
        if anchored or (marker.startswith("<") and marker in where):
            return area
    return None
