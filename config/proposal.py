"""A proposed policy for a what-if (sla/what_if.py): validated as config is, with the key that
is wrong, and its calendars resolved here, at the edge, once for the whole replay."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml
from pydantic import ValidationError

from config.resolve import HORIZON, resolve_calendar
from sla.calendar import ALWAYS, ALWAYS_CALENDAR, Calendar
from sla.journal import TicketOpening
from sla.policy import CalendarSpec, ConfigError, Policy, PolicySnapshot, SlaConfig

# A pasted policy's name in the answer; a configured one keeps its own.
PROPOSED = "proposed"


class _NoAliases(yaml.SafeLoader):
    """YAML from a request: no anchors and aliases, so a small text cannot expand into a huge
    structure to validate."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("anchors and aliases are not taken here")
        return super().compose_node(parent, index)


def _errors(prefix: str, exc: ValidationError) -> list[str]:
    """Each error with its key, as config names them (`policy.targets.P1.response: ...`)."""
    lines = []
    for error in exc.errors():
        key = ".".join([*filter(None, [prefix]), *(str(part) for part in error["loc"])])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}" if key else message)
    return lines


class Proposal:
    """One policy in the config's shape, to be applied to every ticket of a what-if: its
    calendar (or a customer's own, as the config would have it) resolved for the replay."""

    def __init__(
        self, name: str, policy: Policy, calendars: Mapping[str, CalendarSpec], config: SlaConfig
    ) -> None:
        self.name = name
        self.policy = policy
        self._calendars = dict(calendars)
        self._config = config
        self._resolved: dict[str, Calendar] = {}
        self._until: datetime | None = None
        # The cross-key checks config makes (targets reachable on the calendar).
        try:
            self._alone = SlaConfig(
                default_policy=name, policies={name: policy}, calendars=self._calendars
            )
        except ValidationError as exc:
            lines = [line.replace(f"policies.{name}.", "policy.") for line in _errors("", exc)]
            raise ConfigError("invalid policy: " + "; ".join(lines)) from None

    @property
    def cap(self) -> Decimal | None:
        return self.policy.credits.monthly_cap if self.policy.credits else None

    def until(self, until: datetime) -> Proposal:
        """The replay runs to `until`: calendars are resolved to well past it."""
        self._until = until
        return self

    def snapshot_for(self, opening: TicketOpening) -> PolicySnapshot:
        """The policy as it would have applied to the ticket: its customer's own calendar
        stands, as config has it. The contract is the replay's (each ticket keeps its own)."""
        customer = self._config.customers.get(opening.customer_id)
        name = customer.calendar if customer and customer.calendar else self.policy.calendar
        return self._alone.snapshot(self.name, self._calendar(name, opening.opened_at))

    def _calendar(self, name: str, opened_at: datetime) -> Calendar:
        """Resolved once per calendar, from a week before the first ticket that asks (the
        window's earliest) to HORIZON past the replay's end: the replay never reads time-zone
        or holiday tables, as a ticket never does."""
        if name == ALWAYS:
            return ALWAYS_CALENDAR
        known = self._resolved.get(name)
        if known is None or known.horizon_start is None or opened_at.date() < known.horizon_start:
            until = max(self._until or opened_at, opened_at)
            self._resolved[name] = known = resolve_calendar(
                name, self._calendars[name], opened_at, horizon=(until - opened_at) + HORIZON
            )
        return known


def proposal(
    config: SlaConfig,
    policy: Any,
    calendars: Mapping[str, Any] | None = None,
    name: str = PROPOSED,
) -> Proposal:
    """The proposed policy: a mapping in the config's shape, YAML or JSON text of one, or the
    name of a configured policy. `calendars` adds (or replaces) calendars it names. Raises
    ConfigError with every key that is wrong (`policy.targets.P1.response: ...`)."""
    if isinstance(policy, str) and policy in config.policies:
        name, policy = policy, config.policies[policy]
    elif isinstance(policy, str):
        try:
            policy = yaml.load(policy, Loader=_NoAliases)  # a SafeLoader
        except yaml.YAMLError as exc:
            raise ConfigError(f"policy: not YAML or JSON ({exc})") from None
        except RecursionError:
            raise ConfigError("policy: nested too deeply to be a policy") from None
        if not isinstance(policy, dict):
            raise ConfigError(
                "policy: give one policy in the config's shape (a mapping with `targets`), "
                f"or the name of a configured one ({', '.join(sorted(config.policies))})"
            )
    lines: list[str] = []
    specs: dict[str, CalendarSpec] = dict(config.calendars)
    for calendar, spec in (calendars or {}).items():
        try:
            specs[calendar] = CalendarSpec.model_validate(spec)
        except ValidationError as exc:
            lines += _errors(f"calendars.{calendar}", exc)
    try:
        parsed = policy if isinstance(policy, Policy) else Policy.model_validate(policy)
    except ValidationError as exc:
        lines += _errors("policy", exc)
        parsed = None
    if parsed is not None and parsed.calendar != ALWAYS and parsed.calendar not in specs:
        known = ", ".join([ALWAYS, *sorted(specs)])
        lines.append(
            f"policy.calendar: unknown calendar {parsed.calendar!r} (known: {known}; "
            "give it in `calendars`)"
        )
    if lines or parsed is None:
        raise ConfigError("invalid policy: " + "; ".join(lines))
    return Proposal(name, parsed, specs, config)
