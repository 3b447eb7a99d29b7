"""Help desks' webhooks for the tests: the fixtures' bodies (tests/fixtures/) dated to now, a
config with both desks mapped, and each desk's signature."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from sla.integrations.signatures import jira_signature, zendesk_signature
from tests.support.http import API_CONFIG

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
JIRA_SECRET = "jira-test-secret"
ZENDESK_SECRET = "zendesk-test-signing-secret"

INTEGRATIONS: dict[str, Any] = {
    "jira": {
        "secret": JIRA_SECRET,
        # The suggested names, and Jira Server's (Atlassian's example is `Minor`).
        "priorities": {
            "Highest": "P1", "High": "P1", "Medium": "P2", "Low": "P3", "Lowest": "P3",
            "Blocker": "P1", "Critical": "P1", "Major": "P1", "Minor": "P2", "Trivial": "P3",
        },
        "customer": {"field": "customfield_10010", "default": "acme-e2e"},
        "resolved_statuses": ["Resolved", "Done"],
        "waiting_statuses": ["Waiting for customer"],
        "agents": {"group_field": None},
    },
    "zendesk": {
        "secret": ZENDESK_SECRET,
        "priorities": {"Urgent": "P1", "High": "P1", "Normal": "P2", "Low": "P3", "": "P3"},
        "customer": {"field": "organization", "values": {"Acme Corp": "acme-e2e"}},
        "resolved_statuses": ["Solved", "Closed"],
        "waiting_statuses": ["Pending", "On-hold"],
    },
}  # fmt: skip


def desks_config(path: Path, integrations: dict[str, Any] | None = None) -> Path:
    """The API tests' config with the desks mapped (`integrations`, else both as above)."""
    data = yaml.safe_load(API_CONFIG.read_text())
    data["integrations"] = INTEGRATIONS if integrations is None else integrations
    path.write_text(yaml.safe_dump(data))
    return path


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def jira_body(name: str, key: str, at: datetime) -> dict[str, Any]:
    """A Jira fixture for issue `key`, dated `at`: the issue's creation, the comment's and the
    event's own time (`timestamp`, epoch milliseconds), whichever it has."""
    body = fixture(f"jira/{name}.json")
    body["issue"]["key"] = key
    fields = body["issue"]["fields"]
    if "created" in fields:
        fields["created"] = iso(at) if name == "issue_created" else fields["created"]
    if "comment" in body:
        body["comment"]["created"] = body["comment"]["updated"] = iso(at)
    body["timestamp"] = int(at.timestamp() * 1000)
    return body


def jira_headers(raw: bytes, identifier: str, secret: str = JIRA_SECRET) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "X-Hub-Signature": jira_signature(secret, raw),
        "X-Atlassian-Webhook-Identifier": identifier,
    }


def zendesk_body(name: str, ticket: str, opened: datetime, at: datetime) -> dict[str, Any]:
    """A Zendesk fixture (the trigger template rendered) for ticket `ticket`, created at
    `opened` and updated at `at`."""
    body = fixture(f"zendesk/{name}.json")
    body["ticket"]["id"] = ticket
    body["ticket"]["created_at"] = _zendesk_time(opened)
    body["ticket"]["updated_at"] = _zendesk_time(at)
    return body


def _zendesk_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # as Zendesk renders it


def zendesk_headers(
    raw: bytes,
    invocation: str,
    secret: str = ZENDESK_SECRET,
    signed_at: datetime | None = None,
) -> dict[str, str]:
    timestamp = _zendesk_time(signed_at or datetime.now(UTC))
    return {
        "content-type": "application/json",
        "X-Zendesk-Webhook-Signature": zendesk_signature(secret, timestamp, raw),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Invocation-Id": invocation,
    }


def minutes_ago(minutes: float) -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)
