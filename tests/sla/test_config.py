"""parse_config: the shipped SLA, a minimal file, and bad files named by key path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from sla.calendar import ALWAYS_CALENDAR
from sla.policy import DEFAULT_ESCALATION, ConfigError, parse_config
from sla.priorities import Priority

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "sla.yaml"

MINIMAL_YAML = """
default_policy: standard
policies:
  standard:
    calendar: always
    warn_at: [0.75]
    targets:
      P1: {response: 15m, resolution: 2h}
      P2: {response: 1h,  resolution: 8h}
      P3: {response: 4h,  resolution: 24h}
"""

SEED_TARGETS = {
    Priority.P1: (timedelta(minutes=15), timedelta(hours=2)),
    Priority.P2: (timedelta(hours=1), timedelta(hours=8)),
    Priority.P3: (timedelta(hours=4), timedelta(hours=24)),
}


def shipped_data() -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def rejected(mutate: Callable[[dict[str, Any]], None]) -> str:
    """The ConfigError message for the shipped data changed by `mutate`."""
    data = copy.deepcopy(shipped_data())
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value)


def standard(data: dict[str, Any]) -> dict[str, Any]:
    policy = data["policies"]["standard"]
    assert isinstance(policy, dict)
    return policy


# -- the shipped file ----------------------------------------------------------------------


def test_shipped_config_has_exactly_the_seed_targets() -> None:
    config = parse_config(shipped_data())
    assert config.default_policy == "standard"
    assert list(config.policies) == ["standard"]
    targets = config.policies["standard"].targets
    assert set(targets) == set(Priority)
    for priority, (response, resolution) in SEED_TARGETS.items():
        assert targets[priority].response == response
        assert targets[priority].resolution == resolution


def test_shipped_config_snapshot_is_always_calendar_with_warning_at_three_quarters() -> None:
    snapshot = parse_config(shipped_data()).snapshot()
    assert snapshot.name == "standard"
    assert snapshot.calendar == ALWAYS_CALENDAR
    assert snapshot.calendar.name == "always"
    assert snapshot.calendar.timezone == "UTC"
    assert snapshot.warn_at == [0.75]
    assert snapshot.credits is None
    assert snapshot.escalation == list(DEFAULT_ESCALATION)
    assert snapshot.auto_close_after == timedelta(days=7)
    for priority, (response, resolution) in SEED_TARGETS.items():
        assert snapshot.targets[priority].response == response
        assert snapshot.targets[priority].resolution == resolution


def test_file_with_only_the_api_md_keys_parses_to_the_seed_policy() -> None:
    config = parse_config(yaml.safe_load(MINIMAL_YAML))
    assert config.snapshot() == parse_config(shipped_data()).snapshot()


def test_iso_durations_work_everywhere_a_duration_is_written() -> None:
    data = yaml.safe_load(MINIMAL_YAML.replace("15m", "PT15M").replace("24h", "P1D"))
    policy = standard(data)
    policy["escalation"] = [
        {"after": "PT0S", "notify": ["team-lead"]},
        {"after": "PT1H30M", "notify": ["manager"]},
    ]
    policy["auto_close_after"] = "P3D"
    snapshot = parse_config(data).snapshot()
    assert snapshot.targets[Priority.P1].response == timedelta(minutes=15)
    assert snapshot.targets[Priority.P3].resolution == timedelta(days=1)
    assert [level.after for level in snapshot.escalation] == [timedelta(0), timedelta(minutes=90)]
    assert snapshot.auto_close_after == timedelta(days=3)


def test_credits_percentages_parse_with_and_without_percent_sign() -> None:
    data = shipped_data()
    standard(data)["credits"] = {
        "response_breach": {"P1": "2%", "P2": "1 %", "P3": 0.5},
        "resolution_breach": {"P1": 5},
        "monthly_cap": "30%",
    }
    snapshot = parse_config(data).snapshot()
    assert snapshot.penalty_percent("response", Priority.P1) == Decimal("2")
    assert snapshot.penalty_percent("response", Priority.P2) == Decimal("1")
    assert snapshot.penalty_percent("response", Priority.P3) == Decimal("0.5")
    assert snapshot.penalty_percent("resolution", Priority.P1) == Decimal("5")
    assert snapshot.penalty_percent("resolution", Priority.P2) is None
    assert snapshot.credits is not None
    assert snapshot.credits.monthly_cap == Decimal("30")


def test_warn_at_is_sorted_and_deduplicated() -> None:
    data = shipped_data()
    standard(data)["warn_at"] = [0.9, 0.5, 0.9]
    assert parse_config(data).snapshot().warn_at == [0.5, 0.9]


def test_snapshot_by_name_picks_that_policy() -> None:
    data = shipped_data()
    gold = copy.deepcopy(standard(data))
    gold["targets"]["P1"] = {"response": "5m", "resolution": "1h"}
    data["policies"]["gold"] = gold
    config = parse_config(data)
    assert config.snapshot("gold").name == "gold"
    assert config.snapshot("gold").targets[Priority.P1].response == timedelta(minutes=5)
    assert config.snapshot().name == "standard"


# -- bad files -----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [None, [], "default_policy: standard", 42])
def test_config_that_is_not_a_mapping_is_rejected(data: object) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config(data)


def test_bad_duration_names_its_key_path_and_the_accepted_forms() -> None:
    message = rejected(lambda d: standard(d)["targets"]["P1"].update(response="soon"))
    assert "policies.standard.targets.P1.response:" in message
    assert "'soon' is not a duration" in message
    assert "PT15M" in message and "15m" in message


@pytest.mark.parametrize("value", ["0s", "PT0S", "0m"])
def test_zero_target_is_rejected_with_its_key_path(value: str) -> None:
    message = rejected(lambda d: standard(d)["targets"]["P2"].update(resolution=value))
    assert "policies.standard.targets.P2.resolution: a target must be longer than zero" in message


def test_missing_priority_is_named() -> None:
    message = rejected(lambda d: standard(d)["targets"].pop("P3"))
    assert "policies.standard.targets: targets missing for P3" in message


def test_missing_target_metric_is_named() -> None:
    message = rejected(lambda d: standard(d)["targets"]["P2"].pop("resolution"))
    assert "policies.standard.targets.P2.resolution: Field required" in message


def test_unknown_priority_is_rejected() -> None:
    message = rejected(
        lambda d: standard(d)["targets"].update(P4={"response": "1h", "resolution": "2h"})
    )
    assert "policies.standard.targets.P4" in message


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: standard(d).update(colour="red"), "policies.standard.colour"),
        (
            lambda d: standard(d)["targets"]["P1"].update(first="1m"),
            "policies.standard.targets.P1.first",
        ),
        (
            lambda d: standard(d).update(credits={"response_breach": {}, "bonus": "1%"}),
            "policies.standard.credits.bonus",
        ),
    ],
)
def test_unknown_key_is_named_by_its_path(
    mutate: Callable[[dict[str, Any]], None], path: str
) -> None:
    assert f"{path}: unknown key" in rejected(mutate)


def test_default_policy_not_among_policies_is_rejected() -> None:
    message = rejected(lambda d: d.update(default_policy="gold"))
    assert "default_policy 'gold' is not one of the policies (standard)" in message


def test_missing_default_policy_is_named() -> None:
    assert "default_policy: Field required" in rejected(lambda d: d.pop("default_policy"))


def test_empty_policies_are_rejected() -> None:
    assert "policies:" in rejected(lambda d: d.update(policies={}))


def test_unknown_calendar_is_named_by_its_key_path() -> None:
    message = rejected(lambda d: standard(d).update(calendar="berlin-office"))
    assert "policies.standard.calendar: unknown calendar 'berlin-office'" in message
    assert "known: always" in message


@pytest.mark.parametrize(
    "offsets",
    [["1h", "30m"], ["1h", "PT1H"], ["0s", "2h", "1h"], ["0s", "0s"]],
)
def test_non_increasing_escalation_offsets_are_rejected(offsets: list[str]) -> None:
    chain = [{"after": after, "notify": ["someone"]} for after in offsets]
    message = rejected(lambda d: standard(d).update(escalation=chain))
    assert "policies.standard.escalation: escalation levels must come at strictly increasing" in (
        message
    )


def test_escalation_level_without_anyone_to_notify_is_rejected() -> None:
    chain = [{"after": "0s", "notify": []}]
    message = rejected(lambda d: standard(d).update(escalation=chain))
    assert "policies.standard.escalation.0.notify:" in message


@pytest.mark.parametrize(
    ("credits", "path", "reason"),
    [
        ({"response_breach": {"P1": "200%"}}, "credits.response_breach.P1", "between 0% and 100%"),
        (
            {"resolution_breach": {"P2": "-1%"}},
            "credits.resolution_breach.P2",
            "between 0% and 100%",
        ),
        ({"response_breach": {"P1": "lots"}}, "credits.response_breach.P1", "is not a percentage"),
        ({"response_breach": {"P3": ""}}, "credits.response_breach.P3", "is not a percentage"),
        ({"response_breach": {"P3": "%"}}, "credits.response_breach.P3", "is not a percentage"),
        ({"response_breach": {"P1": "NaN"}}, "credits.response_breach.P1", "between 0% and 100%"),
        ({"monthly_cap": True}, "credits.monthly_cap", "is not a percentage"),
        ({"monthly_cap": "101%"}, "credits.monthly_cap", "between 0% and 100%"),
    ],
)
def test_bad_percentage_in_credits_is_named_by_its_key_path(
    credits: dict[str, Any], path: str, reason: str
) -> None:
    message = rejected(lambda d: standard(d).update(credits=credits))
    assert f"policies.standard.{path}:" in message
    assert reason in message


@pytest.mark.parametrize("fractions", [[0], [1], [1.5], [-0.25], [0.5, 1.0]])
def test_warn_at_outside_zero_to_one_is_rejected(fractions: list[float]) -> None:
    message = rejected(lambda d: standard(d).update(warn_at=fractions))
    assert "policies.standard.warn_at:" in message
    assert "is not a fraction between 0 and 1" in message


def test_every_problem_in_a_file_is_listed() -> None:
    def break_two_things(data: dict[str, Any]) -> None:
        standard(data)["targets"]["P1"]["response"] = "soon"
        standard(data)["warn_at"] = [2]

    message = rejected(break_two_things)
    assert "policies.standard.targets.P1.response:" in message
    assert "policies.standard.warn_at:" in message


def test_duration_too_large_is_a_config_error_naming_its_key() -> None:
    message = rejected(lambda d: standard(d)["targets"]["P1"].update(response="99999999999d"))
    assert "policies.standard.targets.P1.response: '99999999999d' is too long a duration" in message


# -- time a ticket can keep: no due time out of reach, no stuck ticket ------------------------

SPARSE = {"timezone": "UTC", "hours": {"mon": ["09:00-09:01"]}}


@pytest.mark.parametrize("hours", [{}, {"mon": [], "tue": []}])
def test_a_calendar_with_no_business_hours_is_refused_at_load(hours: dict[str, Any]) -> None:
    message = rejected(lambda d: d.update(calendars={"shut": {"timezone": "UTC", "hours": hours}}))
    assert "calendars.shut.hours: a calendar needs business hours on at least one weekday" in (
        message
    )


def test_a_target_its_calendar_takes_years_to_reach_is_refused() -> None:
    """One minute a week: 8 h of business time is 480 weeks away."""

    def sparse(data: dict[str, Any]) -> None:
        data["calendars"] = {"sparse": SPARSE}
        standard(data)["calendar"] = "sparse"

    message = rejected(sparse)
    assert (
        "policies.standard.targets.P2.resolution: 8h of business time takes more than 260 weeks "
        "on calendar 'sparse' (1m a week)"
    ) in message


def test_a_customers_calendar_is_held_to_its_policys_targets_too() -> None:
    def sparse(data: dict[str, Any]) -> None:
        data["calendars"] = {"sparse": SPARSE}
        data["customers"] = {"acme": {"monthly_fee": 100, "currency": "EUR", "calendar": "sparse"}}

    message = rejected(sparse)
    assert "customers.acme: policies.standard.targets.P2.resolution: 8h of business" in message


@pytest.mark.parametrize(
    ("key", "mutate"),
    [
        ("policies.standard.auto_close_after", lambda p: p.update(auto_close_after="3651d")),
        ("policies.standard.escalation.0.after",
         lambda p: p.update(escalation=[{"after": "522w", "notify": ["lead"]}])),
        ("policies.standard.targets.P3.resolution",
         lambda p: p["targets"]["P3"].update(resolution="100000d")),
    ],
)  # fmt: skip
def test_a_duration_a_ticket_adds_is_at_most_ten_years(
    key: str, mutate: Callable[[dict[str, Any]], None]
) -> None:
    message = rejected(lambda d: mutate(standard(d)))
    assert f"{key}: " in message and "is longer than ten years (3650d)" in message


def test_targets_of_up_to_five_years_around_the_clock_are_kept() -> None:
    data = copy.deepcopy(shipped_data())
    standard(data)["targets"]["P3"]["resolution"] = "1820d"
    standard(data)["auto_close_after"] = "3650d"
    assert parse_config(data).policies["standard"].auto_close_after == timedelta(days=3650)
