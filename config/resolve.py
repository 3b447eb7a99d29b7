"""The edge where config meets library data: time zones and public holidays are read here, once,
and frozen into the calendar snapshot a ticket carries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_tables

from sla.calendar import ALWAYS, ALWAYS_CALENDAR, Calendar
from sla.policy import CalendarSpec, ConfigError, PolicySnapshot, SlaConfig

# How far ahead a snapshot knows holidays and offsets; a ticket open longer extends it.
HORIZON = timedelta(days=400)
LOOKBACK = timedelta(days=7)
# A snapshot's days stay a day inside datetime's range: neither a zone's offset nor the day
# after the end, which utc_offsets reads, may step outside it near year 1 or 9999.
_FIRST_DAY = date.min + timedelta(days=1)
_LAST_DAY = date.max - timedelta(days=1)


def utc_offsets(zone: ZoneInfo, start: date, end: date) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets from `start` to `end` as explicit transitions, to the second."""

    def offset(instant: datetime) -> int:
        delta = instant.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    cursor = datetime.combine(start, time(), tzinfo=UTC)
    stop = datetime.combine(end, time(), tzinfo=UTC) + timedelta(days=1)
    out = [(cursor, offset(cursor))]
    while cursor < stop:
        nxt = cursor + timedelta(hours=6)
        if offset(nxt) != out[-1][1]:
            # Bisect whole seconds: offset(cursor + low) is the old one, at + high the new.
            low, high = 0, int((nxt - cursor).total_seconds())
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (
                    (middle, high)
                    if offset(cursor + timedelta(seconds=middle)) == out[-1][1]
                    else (low, middle)
                )
            changed_at = cursor + timedelta(seconds=high)
            out.append((changed_at, offset(changed_at)))
        cursor = nxt
    return out


def public_holidays(country: str, subdivision: str | None, start: date, end: date) -> list[date]:
    try:
        table = holiday_tables.country_holidays(
            country, subdiv=subdivision, years=range(start.year, end.year + 1)
        )
    except NotImplementedError as exc:
        raise ConfigError(f"holidays: {exc}") from None
    return sorted(day for day in table if start <= day <= end)


def resolve_calendar(
    name: str,
    spec: CalendarSpec | None,
    around: datetime,
    horizon: timedelta = HORIZON,
) -> Calendar:
    """A calendar snapshot valid from a week before `around` to `horizon` after it."""
    if name == ALWAYS or spec is None:
        return ALWAYS_CALENDAR
    try:
        zone = ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"calendars.{name}.timezone: unknown time zone {spec.timezone!r}"
        ) from None
    day = around.date().toordinal()
    start = date.fromordinal(max(day - LOOKBACK.days, _FIRST_DAY.toordinal()))
    end = date.fromordinal(min(day + horizon.days, _LAST_DAY.toordinal()))
    days = set(spec.holidays)
    if spec.holiday_country:
        days.update(public_holidays(spec.holiday_country, spec.holiday_subdivision, start, end))
    return Calendar(
        name=name,
        timezone=spec.timezone,
        hours=spec.hours,
        holidays=sorted(days),
        offsets=utc_offsets(zone, start, end),
        holiday_country=spec.holiday_country,
        holiday_subdivision=spec.holiday_subdivision,
        horizon_start=start,
        horizon_end=end,
    )


def extended(calendar: Calendar, around: datetime) -> Calendar:
    """The same frozen rules, resolved again for a horizon around `around` (long tickets)."""
    spec = CalendarSpec(
        timezone=calendar.timezone,
        hours=calendar.hours or {},
        holidays=calendar.holidays,
        holiday_country=calendar.holiday_country,
        holiday_subdivision=calendar.holiday_subdivision,
    )
    return resolve_calendar(calendar.name, spec, around)


def policy_snapshot(
    config: SlaConfig, at: datetime, customer_id: str | None = None, policy: str | None = None
) -> PolicySnapshot:
    """The promise a ticket opened at `at` is under: the customer's policy (or `policy`, for a
    repair that names one) and contract, and the policy's calendar resolved for the ticket's
    horizon. A policy the config lacks is a ConfigError."""
    if policy is not None and policy not in config.policies:
        known = ", ".join(sorted(config.policies))
        raise ConfigError(f"no policy {policy!r} in the config in force (it has {known})")
    name = policy or (config.policy_for(customer_id) if customer_id else config.default_policy)
    calendar_name = config.calendar_for(customer_id, name)
    calendar = resolve_calendar(calendar_name, config.calendars.get(calendar_name), at)
    contract = config.contract_for(customer_id) if customer_id else None
    return config.snapshot(name, calendar, contract)


def check_edges(config: SlaConfig, now: datetime) -> None:
    """Fail at start, naming the key, on time zones or holiday countries that do not exist."""
    for name, spec in config.calendars.items():
        resolve_calendar(name, spec, now)
