"""Schemathesis hooks (loaded by the `st` run through SCHEMATHESIS_HOOKS): `date` and `date-time`
values that reach the ends of what Python's datetime holds, and calendar names that exist.

The built-in strategies draw any date but rarely its ends, and offsets rarely reach past
+-14:00; the API's overflow errors live exactly there (year 1 or 9999 pushed over the edge by
an offset, a day added, a calendar's search). Half the values come from here, the rest from
the whole range, so the run still covers ordinary dates. And a random calendar name is a 404
before any date is looked at: half the names drawn are the configured ones.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import schemathesis
import yaml
from hypothesis import strategies as st

# The config the e2e API runs (tests/support/http.py: API_CONFIG).
CONFIG = Path(__file__).resolve().parents[1] / "support" / "sla-test.yaml"
CALENDARS = ["always", *yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["calendars"]]

EDGE_DAYS = [date(1, 1, 1), date(1, 1, 2), date(1, 1, 3),
             date(9999, 12, 29), date(9999, 12, 30), date(9999, 12, 31)]  # fmt: skip
EDGE_TIMES = [time(0, 0), time(0, 0, 0, 1), time(12, 0), time(23, 59, 59), time(23, 59, 59, 999999)]
EDGE_OFFSETS = ["Z", "+00:00", "+14:00", "-14:00", "+23:59", "-23:59", "-12:00", "+05:45"]


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


days = st.one_of(st.sampled_from(EDGE_DAYS), st.dates())
times = st.one_of(st.sampled_from(EDGE_TIMES), st.times())
offsets = st.one_of(
    st.sampled_from(EDGE_OFFSETS), st.integers(min_value=-1439, max_value=1439).map(_offset)
)

schemathesis.openapi.format("date", days.map(date.isoformat))
schemathesis.openapi.format(
    "date-time",
    st.builds(
        lambda day, at, offset: f"{day.isoformat()}T{at.isoformat()}{offset}", days, times, offsets
    ),
)


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    for path, operations in raw_schema.get("paths", {}).items():
        if not path.startswith("/calendars/{name}/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "name":
                    parameter["schema"] = {"anyOf": [{"enum": CALENDARS}, parameter["schema"]]}
