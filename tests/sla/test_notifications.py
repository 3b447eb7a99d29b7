"""Notification config, routing to targets, event ids, body bytes and signatures: the pure parts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from standardwebhooks import Webhook

from sla.notifications import (
    ALL_EVENTS,
    DEFAULT_EVENTS,
    PAGERDUTY_EVENTS,
    PAGERDUTY_URL,
    EmailSettings,
    Event,
    NotificationsConfig,
    Routing,
    WebhookTarget,
    event_id,
    sign,
    signing_key,
    standard_signature,
    verify,
)
from sla.policy import ConfigError, parse_config

AT = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)

CONFIG_YAML = """
default_policy: standard
policies:
  standard:
    targets:
      P1: {response: 15m, resolution: 2h}
      P2: {response: 1h,  resolution: 8h}
      P3: {response: 4h,  resolution: 24h}
    escalation:
      - {after: 0s, notify: [team-lead]}
      - {after: 1h, notify: [support-manager]}
notifications:
  webhooks:
    - {name: ops, url: "https://ops.example.test/hook", secret: "s1"}
    - {name: billing, url: "http://127.0.0.1:9000/in", secret: "s2",
       events: [penalty, reward, statement]}
    - {name: pager, url: "http://127.0.0.1:9001/", secret: "s3", events: [breach]}
  email:
    smtp_url: "smtp://mailer:pw@127.0.0.1:2525"
    from: "slaflow@example.test"
    link_base: "http://127.0.0.1:8000/"
  audiences:
    team-lead: ["mailto:lead@example.test", "webhook:pager"]
    support-manager: ["mailto:manager@example.test", "mailto:lead@example.test"]
"""


def config_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CONFIG_YAML)
    return data


def notifications(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = config_data()["notifications"]
    data.update(changes)
    return data


def invalid(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        NotificationsConfig.model_validate(data)
    return str(caught.value)


def test_the_yaml_example_parses_with_from_as_the_sender_and_the_link_base_trimmed() -> None:
    config = parse_config(config_data()).notifications
    assert [hook.name for hook in config.webhooks] == ["ops", "billing", "pager"]
    assert config.email is not None
    assert config.email.sender == "slaflow@example.test"
    assert config.email.link_base == "http://127.0.0.1:8000"


def test_a_config_without_notifications_has_no_targets() -> None:
    data = config_data()
    del data["notifications"]
    config = parse_config(data).notifications
    assert config.targets_for("breach", ["team-lead"]) == []


def test_email_settings_accept_the_sender_by_its_python_name_too() -> None:
    settings = EmailSettings(smtp_url="smtps://mail.example.test:465", sender="a@example.test")
    assert settings.sender == "a@example.test"


def test_a_webhook_without_an_event_filter_hears_every_event_but_test_and_responded() -> None:
    hook = WebhookTarget(name="ops", url="http://x.test/", secret="s")
    assert set(hook.events) == set(ALL_EVENTS) - {"test", "responded"}


def test_routes_list_the_webhooks_subscribed_to_each_event_type() -> None:
    routes = NotificationsConfig.model_validate(notifications()).routes()
    assert routes["breach"] == ["webhook:ops", "webhook:pager"]
    assert routes["penalty"] == ["webhook:ops", "webhook:billing"]
    assert routes["statement"] == ["webhook:ops", "webhook:billing"]
    assert routes["test"] == []
    assert set(routes) == set(ALL_EVENTS)


def test_targets_for_adds_the_audiences_targets_once_each_in_order() -> None:
    config = NotificationsConfig.model_validate(notifications())
    assert config.targets_for("escalation", ["team-lead", "support-manager"]) == [
        "webhook:ops",
        "mailto:lead@example.test",
        "webhook:pager",
        "mailto:manager@example.test",
    ]
    # pager is both subscribed to breaches and in team-lead: it gets the event once.
    assert config.targets_for("breach", ["team-lead"]) == [
        "webhook:ops",
        "webhook:pager",
        "mailto:lead@example.test",
    ]


def test_targets_for_refuses_an_unknown_event_type() -> None:
    config = NotificationsConfig.model_validate(notifications())
    with pytest.raises(ValueError, match="unknown event type 'breached'"):
        config.targets_for("breached", [])


def test_routing_carries_no_url_or_secret_and_routes_like_the_config() -> None:
    config = NotificationsConfig.model_validate(notifications())
    routing = config.routing()
    dumped = routing.model_dump_json()
    assert "s1" not in dumped
    assert "example.test/hook" not in dumped
    assert routing.targets_for("warning", ["support-manager"]) == config.targets_for(
        "warning", ["support-manager"]
    )


def test_duplicate_webhook_names_are_refused() -> None:
    hooks = [
        {"name": "ops", "url": "http://a.test/", "secret": "s"},
        {"name": "ops", "url": "http://b.test/", "secret": "s"},
    ]
    assert "duplicate name ops" in invalid(notifications(webhooks=hooks, audiences={}))


def test_an_audience_naming_an_unknown_webhook_is_refused() -> None:
    message = invalid(notifications(audiences={"team-lead": ["webhook:nope"]}))
    assert "audiences.team-lead: unknown webhook 'nope'" in message


def test_a_mailto_audience_needs_email_settings() -> None:
    message = invalid(notifications(email=None))
    assert "needs notifications.email" in message


@pytest.mark.parametrize(
    "target", ["mailto:not-an-address", "sms:+4912345", "ops", "webhook:", "mailto:"]
)
def test_a_malformed_audience_target_is_refused(target: str) -> None:
    assert "audiences.team-lead" in invalid(notifications(audiences={"team-lead": [target]}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "has space"),
        ("name", "x" * 65),
        ("url", "ftp://example.test/hook"),
        ("url", "example.test/hook"),
        ("secret", ""),
        ("events", ["breach", "exploded"]),
        ("events", []),
        ("colour", "red"),
    ],
)
def test_a_bad_webhook_field_is_refused(field: str, value: Any) -> None:
    hook: dict[str, Any] = {"name": "ops", "url": "http://a.test/", "secret": "s", field: value}
    with pytest.raises(ValidationError):
        WebhookTarget.model_validate(hook)


@pytest.mark.parametrize(
    "smtp_url",
    ["http://mail.test:25", "smtp://", "smtp://mail.test:port", "smtp://user@mail.test:25"],
)
def test_a_bad_smtp_url_is_refused(smtp_url: str) -> None:
    with pytest.raises(ValidationError, match="smtp_url"):
        EmailSettings.model_validate({"smtp_url": smtp_url, "from": "a@example.test"})


def test_an_escalation_audience_missing_from_configured_audiences_is_refused() -> None:
    data = config_data()
    del data["notifications"]["audiences"]["support-manager"]
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    message = str(caught.value)
    assert "policies.standard.escalation.1.notify" in message
    assert "'support-manager'" in message


def test_escalation_audiences_need_no_mapping_while_no_audiences_are_configured() -> None:
    data = config_data()
    data["notifications"] = {"webhooks": data["notifications"]["webhooks"]}
    assert parse_config(data).notifications.audiences == {}


def test_a_bad_notification_target_is_named_in_the_config_error() -> None:
    data = config_data()
    data["notifications"]["audiences"]["team-lead"] = ["webhook:gone"]
    with pytest.raises(ConfigError, match="unknown webhook 'gone'"):
        parse_config(data)


def test_event_id_is_the_same_for_the_same_key_and_differs_across_keys() -> None:
    key = "T-1:escalation:response:c1:l2"
    assert event_id(key) == event_id(key) == Event.event_id(key)
    assert event_id(key) != event_id("T-1:escalation:response:c1:l1")
    # Pinned: receivers deduplicate by these ids, so they may never change between releases.
    assert event_id(key) == "d963c811-fbc7-52d5-a308-765f0ffa0a4a"


def event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "id": event_id("T-1:breach:response:c1"),
        "type": "breach",
        "ticket_id": "T-1",
        "at": AT,
        "data": {"metric": "response", "priority": "P1"},
    }
    fields.update(changes)
    return Event.model_validate(fields)


def test_the_body_has_exactly_the_documented_fields() -> None:
    body = json.loads(event().body())
    assert body == {
        "id": event().id,
        "type": "breach",
        "ticket_id": "T-1",
        "at": "2026-11-27T09:15:00Z",
        "data": {"metric": "response", "priority": "P1"},
    }


def test_the_body_bytes_do_not_depend_on_data_order_or_the_time_zone_given() -> None:
    berlin = timezone(timedelta(hours=1))
    other = event(at=AT.astimezone(berlin), data={"priority": "P1", "metric": "response"}).body()
    assert other == event().body()


def test_an_event_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValidationError):
        event(at=datetime(2026, 11, 27, 9, 15))


def test_an_event_for_a_ticket_id_outside_the_id_alphabet_is_refused() -> None:
    with pytest.raises(ValidationError):
        event(ticket_id="T-1\r\nBcc: x@evil.test")


def test_sign_is_the_hex_hmac_sha256_of_the_body_with_the_secret() -> None:
    body = event().body()
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign(body, "s3cret") == f"sha256={expected}"


def test_verify_accepts_the_signature_and_refuses_another_secret_body_or_format() -> None:
    body = event().body()
    header = sign(body, "s3cret")
    assert verify(body, "s3cret", header)
    assert not verify(body, "other", header)
    assert not verify(body + b" ", "s3cret", header)
    assert not verify(body, "s3cret", header.removeprefix("sha256="))
    assert not verify(body, "s3cret", "")


def test_the_api_md_example_without_webhook_names_parses_with_positional_names() -> None:
    config = NotificationsConfig.model_validate(
        yaml.safe_load(
            """
            webhooks:
              - {url: "http://127.0.0.1:9999/hook", secret: "s3cret",
                 events: [warning, breach, escalation, penalty, reward, resolved]}
              - {url: "http://127.0.0.1:9998/hook", secret: "other"}
            """
        )
    )
    assert [hook.name for hook in config.webhooks] == ["webhook-1", "webhook-2"]
    assert config.routes()["statement"] == ["webhook:webhook-2"]


WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def config_error(**hook: Any) -> str:
    """The ConfigError text of a config whose first webhook has these fields."""
    data = config_data()
    data["notifications"]["webhooks"][0] = {"name": "ops", "url": "http://a.test/", **hook}
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value)


def test_a_webhook_takes_secret_or_secrets_newest_first() -> None:
    one = WebhookTarget(name="ops", url="http://a.test/", secret=WHSEC)
    two = WebhookTarget(name="ops", url="http://a.test/", secrets=[WHSEC, "old-plain"])
    assert (one.all_secrets(), two.all_secrets()) == ([WHSEC], [WHSEC, "old-plain"])


@pytest.mark.parametrize(
    "hook",
    [{}, {"secret": "s", "secrets": ["s"]}, {"secrets": []}, {"secrets": ["new", ""]}],
    ids=["neither", "both", "empty-list", "empty-secret"],
)
def test_a_webhook_needs_exactly_one_of_secret_and_secrets(hook: dict[str, Any]) -> None:
    message = config_error(**hook)
    assert "notifications.webhooks.0" in message
    if "secrets" not in hook or "secret" in hook:
        assert "give either `secret` or `secrets: [new, old]`" in message


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("whsec_not*base64!", "standard base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 24 bytes"),
    ],
)
def test_a_malformed_whsec_secret_is_refused_without_quoting_it(secret: str, why: str) -> None:
    for hook in ({"secret": secret}, {"secrets": [WHSEC, secret]}):
        message = config_error(**hook)
        assert why in message
        assert secret not in message
    assert "notifications.webhooks.0.secrets.1" in config_error(secrets=[WHSEC, secret])


def test_a_whsec_key_is_its_base64_padded_or_not_any_other_secret_its_bytes() -> None:
    assert signing_key(WHSEC) == bytes(range(32))
    assert signing_key(WHSEC.rstrip("=")) == bytes(range(32))
    assert signing_key("whsec-legacy") == b"whsec-legacy"


def test_the_standard_signature_is_what_the_stock_library_signs_one_per_secret() -> None:
    body = event().body()
    stamp = 1_795_000_000
    at = datetime.fromtimestamp(stamp, UTC)
    stock = [Webhook(WHSEC), Webhook(b"old-plain")]
    expected = " ".join(hook.sign(event().id, at, body.decode()) for hook in stock)
    assert standard_signature(event().id, stamp, body, [WHSEC, "old-plain"]) == expected


@pytest.mark.parametrize(
    ("smtp_url", "tls"),
    [
        ("smtp://mailer:pw@mail.test:587", "starttls"),
        ("smtp://mail.test:25", "starttls"),
        ("smtp://relay.local:25?tls=none", "none"),
        ("smtps://mailer:pw@mail.test:465", "implicit"),
    ],
)
def test_smtp_urls_say_how_tls_is_spoken(smtp_url: str, tls: str) -> None:
    assert EmailSettings(smtp_url=smtp_url, sender="a@example.test").tls == tls


@pytest.mark.parametrize(
    ("smtp_url", "why"),
    [
        ("smtp://mailer:pw@relay.local:25?tls=none", "would send the password in clear"),
        ("smtp://relay.local:25?tls=off", "?tls= takes one value, none"),
        ("smtps://mail.test:465?tls=none", "only on smtp://"),
        ("smtp://relay.local:25?tls=none&tls=none", "?tls= takes one value"),
        ("smtp://relay.local:25?starttls=no", "unknown parameter 'starttls'"),
    ],
)
def test_smtp_url_tls_options_that_cannot_hold_are_refused_at_load(smtp_url: str, why: str) -> None:
    data = config_data()
    data["notifications"]["email"]["smtp_url"] = smtp_url
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    message = str(caught.value)
    assert "notifications.email.smtp_url" in message and why in message
    assert "pw" not in message.replace("password", "")


# -- on-call formats: Slack, Teams, PagerDuty ---------------------------------------------

ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"


def test_a_chat_webhook_needs_no_secret_and_a_standard_one_still_does() -> None:
    slack = WebhookTarget(name="chat", url="https://hooks.slack.test/T/B/x", format="slack")
    teams = WebhookTarget(name="room", url="https://prod.logic.test/wf?sig=x", format="teams")
    assert (slack.all_secrets(), teams.all_secrets()) == ([], [])
    assert slack.events == teams.events == list(DEFAULT_EVENTS)
    assert WebhookTarget(name="ops", url="http://x.test/", secret="s").format == "standard"
    message = config_error()
    assert "notifications.webhooks.0: Value error" not in message
    assert "a standard webhook is signed" in message


def test_a_pagerduty_webhook_defaults_to_the_events_api_and_the_events_it_can_say() -> None:
    hook = WebhookTarget(name="oncall", format="pagerduty", routing_key=ROUTING_KEY)
    assert hook.url == PAGERDUTY_URL
    assert hook.events == ["breach", "escalation", "responded", "resolved"]
    assert ROUTING_KEY not in repr(hook)  # kept like a secret
    eu = "https://events.eu.pagerduty.com/v2/enqueue"
    assert WebhookTarget(name="o", format="pagerduty", routing_key=ROUTING_KEY, url=eu).url == eu


@pytest.mark.parametrize(
    ("hook", "key", "why"),
    [
        ({"format": "pagerduty"}, "routing_key", "needs the routing key"),
        ({"format": "pagerduty", "routing_key": "short-" + "9" * 20}, "routing_key", "32 letters"),
        ({"format": "slack", "routing_key": ROUTING_KEY}, "routing_key", "only a pagerduty"),
        ({"routing_key": ROUTING_KEY, "secret": "s"}, "routing_key", "not standard"),
        (
            {"format": "pagerduty", "routing_key": ROUTING_KEY, "events": ["breach", "warning"]},
            "events",
            "not warning",
        ),
        ({"format": "sms"}, "format", "'standard', 'slack', 'teams' or 'pagerduty'"),
        ({"format": "teams", "secret": "a", "secrets": ["b"]}, "0", "not both"),
    ],
)
def test_a_bad_on_call_webhook_is_refused_naming_the_key(
    hook: dict[str, Any], key: str, why: str
) -> None:
    message = config_error(**hook)
    assert f"notifications.webhooks.0.{key}: " in message or key == "0"
    assert why in message
    assert "short-" not in message and ROUTING_KEY not in message  # never quoted


def test_routing_leaves_out_a_pagerduty_target_for_events_it_cannot_say() -> None:
    config = NotificationsConfig.model_validate(
        {
            "webhooks": [
                {"name": "oncall", "format": "pagerduty", "routing_key": ROUTING_KEY},
                {"name": "chat", "format": "slack", "url": "https://hooks.slack.test/x"},
            ],
            "audiences": {"team-lead": ["webhook:oncall", "webhook:chat"]},
        }
    )
    routing = config.routing()
    assert routing.only == {"webhook:oncall": list(PAGERDUTY_EVENTS)}
    # A follow-up goes to escalation level 1's audiences: PagerDuty has no word for it.
    assert routing.targets_for("follow_up", ["team-lead"]) == ["webhook:chat"]
    assert routing.targets_for("escalation", ["team-lead"]) == ["webhook:oncall", "webhook:chat"]
    assert routing.targets_for("responded") == ["webhook:oncall"]
    assert ROUTING_KEY not in routing.model_dump_json()
    # A ticket opened before formats existed has no `only`: it routes as it did.
    old = Routing.model_validate({"routes": {"breach": ["webhook:ops"]}})
    assert old.targets_for("breach") == ["webhook:ops"]


def test_notifications_link_base_serves_links_without_an_smtp_server() -> None:
    config = NotificationsConfig.model_validate(
        {"link_base": "https://slaflow.example.test/", "webhooks": []}
    )
    assert config.pages == "https://slaflow.example.test"
    assert config.routing().link_base == "https://slaflow.example.test"
    older = NotificationsConfig.model_validate(notifications())
    assert older.link_base is None and older.pages == "http://127.0.0.1:8000"
