"""How each desk signs its webhooks, checked in constant time over the raw body (before any
parsing, so a body cannot be re-encoded into a different meaning that still verifies)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

# A Zendesk signature older than this is refused: a captured delivery cannot be replayed
# later (retries come within minutes, and each is idempotent anyway).
ZENDESK_TIMESTAMP_WINDOW = timedelta(hours=1)


def jira_signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature` of Jira's admin webhooks with a secret: `sha256=` and the hex
    HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def jira_signed(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    method, _, digest = header.strip().partition("=")
    if method.lower() != "sha256" or not digest:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode())


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`X-Zendesk-Webhook-Signature`: base64(HMAC-SHA256(signing secret, timestamp + body)),
    the timestamp being `X-Zendesk-Webhook-Signature-Timestamp` as sent."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def zendesk_problem(
    secret: str, body: bytes, signature: str | None, timestamp: str | None, now: datetime
) -> str | None:
    """Why a Zendesk delivery is not Zendesk's (a missing or wrong signature, a timestamp
    outside the window), or None when it is."""
    if not signature or not timestamp:
        return "X-Zendesk-Webhook-Signature and X-Zendesk-Webhook-Signature-Timestamp are needed"
    expected = zendesk_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "the Zendesk signature does not match the body"
    try:
        signed_at = datetime.fromisoformat(timestamp.strip())
    except ValueError:
        return "X-Zendesk-Webhook-Signature-Timestamp is not an ISO 8601 time"
    if signed_at.tzinfo is None or abs(now - signed_at) > ZENDESK_TIMESTAMP_WINDOW:
        return "the Zendesk signature's timestamp is too far from now"
    return None
