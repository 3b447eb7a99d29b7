"""Durations as config writes them: ISO 8601 (`PT15M`, `P1D`) or compact (`90s`, `15m`, `1h30m`)."""

from __future__ import annotations

import functools
import re
from datetime import timedelta

_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_COMPACT_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_COMPACT = re.compile(r"^(?:\d+(?:\.\d+)?\s*[wdhms]\s*)+$", re.IGNORECASE)
_FORMS = "write ISO 8601 (PT15M, PT2H, P1D) or compact (90s, 15m, 2h, 1d)"
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> timedelta:
    """Parse a config duration; raises ValueError saying which forms are accepted."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration: {_FORMS}")
    return _parsed(value)


@functools.lru_cache(maxsize=4096)
def _parsed(value: str) -> timedelta:
    """Cached: a policy's few durations are parsed again each time a ticket's input is
    decoded (every workflow start, record and what-if)."""
    text = value.strip()
    try:
        iso = _ISO.match(text)
        if iso:
            parts = {k: float(v) for k, v in iso.groupdict().items() if v is not None}
            return timedelta(**parts)
        if _COMPACT.match(text):
            seconds = sum(
                float(n) * _UNIT_SECONDS[unit.lower()] for n, unit in _COMPACT_PART.findall(text)
            )
            return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{value!r} is too long a duration") from None
    raise ValueError(f"{value!r} is not a duration: {_FORMS}")


def format_duration(delta: timedelta) -> str:
    """Compact form for people: 2h, 1h30m, 90s."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, total = divmod(total, size)
        if amount:
            out.append(f"{amount}{unit}")
    return sign + "".join(out)
