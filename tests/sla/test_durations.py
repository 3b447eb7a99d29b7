"""Config durations: ISO 8601 and compact forms, rejection messages, and the format round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla.durations import format_duration, parse_duration

ACCEPTED_FORMS = "ISO 8601 (PT15M, PT2H, P1D) or compact (90s, 15m, 2h, 1d)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("0s", timedelta(0)),
    ],
)
def test_compact_single_unit_parses_to_its_length(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT15M", timedelta(minutes=15)),
        ("PT2H", timedelta(hours=2)),
        ("P1D", timedelta(days=1)),
        ("PT90S", timedelta(seconds=90)),
        ("P2W", timedelta(weeks=2)),
        ("pt15m", timedelta(minutes=15)),
    ],
)
def test_iso_single_unit_parses_to_its_length(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("iso", "compact", "expected"),
    [
        ("PT1H30M", "1h30m", timedelta(hours=1, minutes=30)),
        ("P1DT2H", "1d2h", timedelta(days=1, hours=2)),
        ("PT1H1M1S", "1h1m1s", timedelta(hours=1, minutes=1, seconds=1)),
        ("P1W2DT3H4M5S", "1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
    ],
)
def test_iso_and_compact_combinations_mean_the_same_duration(
    iso: str, compact: str, expected: timedelta
) -> None:
    assert parse_duration(iso) == expected
    assert parse_duration(compact) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5h", timedelta(minutes=90)),
        ("0.5d", timedelta(hours=12)),
        ("2.25m", timedelta(seconds=135)),
        ("PT1.5H", timedelta(minutes=90)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("P0.5D", timedelta(hours=12)),
    ],
)
def test_fractional_amounts_are_accepted_in_both_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  15m", timedelta(minutes=15)),
        ("15m  ", timedelta(minutes=15)),
        ("\t15m\n", timedelta(minutes=15)),
        ("15 m", timedelta(minutes=15)),
        (" PT15M ", timedelta(minutes=15)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1 h 30 m ", timedelta(hours=1, minutes=30)),
    ],
)
def test_whitespace_around_and_between_parts_is_ignored(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_timedelta_passes_through_unchanged() -> None:
    value = timedelta(minutes=7)
    assert parse_duration(value) is value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "P",
        "PT",
        "P1DT",
        "15",
        "m",
        "15x",
        "fifteen minutes",
        "-15m",
        "-PT15M",
        "PT-15M",
        "P1M",  # months are ambiguous, not accepted
        "P1Y",
        "15m garbage",
        "1.h",
        ".5h",
        "1h-30m",
        "PT15M30",
    ],
)
def test_garbage_empty_and_negative_text_is_rejected_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert repr(text) in message
    assert ACCEPTED_FORMS in message


@pytest.mark.parametrize("value", [True, False, 15, 0, 1.5, None, [15], {"m": 15}])
def test_non_text_values_are_rejected_with_the_accepted_forms(value: object) -> None:
    with pytest.raises(ValueError, match="is not a duration") as caught:
        parse_duration(value)
    assert repr(value) in str(caught.value)
    assert ACCEPTED_FORMS in str(caught.value)


@pytest.mark.parametrize("text", ["99999999999d", "P99999999999D", "1" * 400 + "s"])
def test_amount_too_large_for_a_timedelta_is_rejected_with_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="is too long a duration") as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(weeks=1), "7d"),
        (timedelta(seconds=-90), "-1m30s"),
    ],
)
def test_format_duration_writes_compact_form(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_format_duration_drops_fractions_of_a_second() -> None:
    assert format_duration(timedelta(seconds=61, milliseconds=900)) == "1m1s"


@given(st.integers(min_value=0, max_value=10**12))
def test_format_duration_round_trips_through_parse_duration(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=0, max_value=59),
    st.integers(min_value=0, max_value=59),
)
def test_iso_and_compact_spellings_of_the_same_parts_agree(
    days: int, hours: int, minutes: int, seconds: int
) -> None:
    iso = f"P{days}DT{hours}H{minutes}M{seconds}S"
    compact = f"{days}d{hours}h{minutes}m{seconds}s"
    expected = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    assert parse_duration(iso) == expected
    assert parse_duration(compact) == expected
