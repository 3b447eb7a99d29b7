"""The desks' signatures, checked over the raw body as each desk documents them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from sla.integrations.signatures import jira_signed, zendesk_problem, zendesk_signature

BODY = b'{"webhookEvent": "jira:issue_created"}'
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def test_jira_x_hub_signature_is_sha256_and_the_hex_hmac_of_the_body() -> None:
    digest = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert jira_signed("s3cret", BODY, f"sha256={digest}")
    assert jira_signed("s3cret", BODY, f"SHA256={digest.upper()}")
    assert not jira_signed("other", BODY, f"sha256={digest}")
    assert not jira_signed("s3cret", BODY + b" ", f"sha256={digest}")  # re-encoded: refused
    assert not jira_signed("s3cret", BODY, digest)
    assert not jira_signed("s3cret", BODY, f"sha1={digest}")
    assert not jira_signed("s3cret", BODY, None)


def test_zendesk_signature_is_base64_hmac_of_timestamp_and_body() -> None:
    stamp = "2026-12-03T05:59:00Z"
    # The documented recipe, by hand: base64(HMACSHA256(TIMESTAMP + BODY)).
    expected = base64.b64encode(
        hmac.new(b"zd", stamp.encode() + BODY, hashlib.sha256).digest()
    ).decode()
    assert zendesk_signature("zd", stamp, BODY) == expected
    assert zendesk_problem("zd", BODY, expected, stamp, NOW) is None
    assert "does not match" in (zendesk_problem("zd", BODY + b"x", expected, stamp, NOW) or "")
    assert "are needed" in (zendesk_problem("zd", BODY, None, stamp, NOW) or "")
    old = (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "too far" in (
        zendesk_problem("zd", BODY, zendesk_signature("zd", old, BODY), old, NOW) or ""
    )
