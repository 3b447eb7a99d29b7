"""Slack, Microsoft Teams and PagerDuty as a `Receiver` meets them (`Receiver(service=Slack())`):
each checks a body the way the service documents it and answers as the service does.

- Slack incoming webhooks (docs.slack.dev: incoming webhooks, Block Kit blocks and text
  objects, mrkdwn): 200 `ok`; 400 `invalid_payload` (not JSON, or not the shape), `no_text`
  (no `text`), `invalid_blocks` (a block Block Kit refuses).
- A Teams Workflows webhook ("When a Teams webhook request is received", then "Post card in a
  chat or channel" with the first attachment's content) and the Adaptive Card schema: 202 and
  no body. The real trigger takes any JSON and its flow run fails later, in Power Automate;
  this one answers 400 with the flow's error at once, so a test sees it.
- PagerDuty Events API v2 (developer.pagerduty.com: Send an Alert Event): 202
  `{"status": "success", ...}`; 400 `{"status": "invalid event", "errors": [...]}`. It keeps the
  incidents as PagerDuty would: a trigger opens one per dedup_key (or adds to the open one),
  acknowledge and resolve apply to the open one and are dropped without it.

`problems(...)` of each is the list of what is wrong (empty: well formed): the pure tests of
sla/formats.py use the same checks.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from tests.support.receiver import Answer

# Slack: blocks per message, a header's text, any text object's, a section field's, fields per
# section, elements per context block, a block_id; the top-level text Slack truncates past.
SLACK_BLOCKS, SLACK_HEADER, SLACK_TEXT, SLACK_FIELD = 50, 150, 3000, 2000
SLACK_FIELDS, SLACK_CONTEXT, SLACK_BLOCK_ID, SLACK_MESSAGE = 10, 10, 255, 40_000
SLACK_KEYS = {"text", "blocks", "attachments", "thread_ts", "mrkdwn", "unfurl_links",
              "unfurl_media", "username", "icon_emoji", "icon_url", "channel"}  # fmt: skip
# mrkdwn: `&`, `<`, `>` are control characters; outside <link|text> forms they are entities.
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ANGLE = re.compile(r"<([^<>]*)>")

# Adaptive Cards as Teams renders them: versions, enums, and a message's size.
CARD_VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
TEAMS_LIMIT = 28 * 1024
COLORS = {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"}
SIZES = {"Default", "Small", "Medium", "Large", "ExtraLarge"}
WEIGHTS = {"Default", "Lighter", "Bolder"}

# PagerDuty Events API v2.
PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}
PD_KEYS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client",
           "client_url"}  # fmt: skip
PD_PAYLOAD_KEYS = {"summary", "source", "severity", "timestamp", "component", "group", "class",
                   "custom_details"}  # fmt: skip
PD_LIMIT = 512 * 1024


def _json(headers: dict[str, str], body: bytes) -> tuple[Any, str | None]:
    if not headers.get("content-type", "").startswith("application/json"):
        return None, "Content-Type is not application/json"
    try:
        return json.loads(body), None
    except ValueError:
        return None, "the body is not JSON"


def _absolute(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Slack:
    """A Slack incoming webhook."""

    def __call__(self, headers: dict[str, str], body: bytes) -> Answer:
        message, error = _json(headers, body)
        if error or not isinstance(message, dict):
            return Answer(400, b"invalid_payload")
        found = self.problems(message)
        if not found:
            return Answer(200, b"ok")
        if any(p.startswith("text: missing") for p in found):
            return Answer(400, b"no_text")
        if any(p.startswith("blocks") for p in found):
            return Answer(400, b"invalid_blocks")
        return Answer(400, b"invalid_payload")

    @staticmethod
    def problems(message: dict[str, Any]) -> list[str]:
        found = [f"unknown key {key}" for key in sorted(set(message) - SLACK_KEYS)]
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            found.append("text: missing (it is the notification and the fallback)")
        elif len(text) > SLACK_MESSAGE:
            found.append(f"text: longer than {SLACK_MESSAGE}")
        else:
            found += [f"text: {p}" for p in _mrkdwn_problems(text)]
        blocks = message.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > SLACK_BLOCKS:
            return [*found, f"blocks: a list of at most {SLACK_BLOCKS}"]
        for n, block in enumerate(blocks):
            found += [f"blocks[{n}]: {p}" for p in _block_problems(block)]
        return found


def _block_problems(block: object) -> list[str]:
    if not isinstance(block, dict):
        return ["not an object"]
    kind, found = block.get("type"), []
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > SLACK_BLOCK_ID):
        found.append("block_id")
    if kind == "header":
        found += _text_problems(block.get("text"), SLACK_HEADER, plain_only=True)
        found += [f"unknown key {k}" for k in sorted(set(block) - {"type", "text", "block_id"})]
    elif kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            found.append("a section needs text or fields")
        if text is not None:
            found += _text_problems(text, SLACK_TEXT)
        if fields is not None:
            if not isinstance(fields, list) or not 1 <= len(fields) <= SLACK_FIELDS:
                found.append(f"fields: 1 to {SLACK_FIELDS}")
            else:
                for field in fields:
                    found += _text_problems(field, SLACK_FIELD)
        allowed = {"type", "text", "fields", "block_id", "accessory", "expand"}
        found += [f"unknown key {k}" for k in sorted(set(block) - allowed)]
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= SLACK_CONTEXT:
            found.append(f"elements: 1 to {SLACK_CONTEXT}")
        else:
            for element in elements:
                found += _text_problems(element, SLACK_TEXT)
    elif kind == "divider":
        pass
    else:
        found.append(f"type {kind!r} is not a block this message uses")
    return found


def _text_problems(text: object, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(text, dict):
        return ["a text object is an object"]
    kind, value = text.get("type"), text.get("text")
    allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
    found = [] if kind in allowed else [f"text type {kind!r}"]
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        found.append(f"text: 1 to {limit} characters")
    elif kind == "mrkdwn":
        found += _mrkdwn_problems(value)
    extra = {"emoji"} if kind == "plain_text" else {"verbatim"}
    found += [f"unknown key {k}" for k in sorted(set(text) - {"type", "text"} - extra)]
    return found


def _mrkdwn_problems(text: str) -> list[str]:
    """`&`, `<`, `>` only as entities or in <url|text>, <@user>, <#channel>, <!special> forms."""
    found = []
    for form in _ANGLE.findall(text):
        target = form.split("|", 1)[0]
        if not (_absolute(target) or target[:1] in ("@", "#", "!") or target.startswith("mailto:")):
            found.append(f"<{form}> is no link or mention")
    bare = _ANGLE.sub("", text)
    if "<" in bare or ">" in bare:
        found.append("an unescaped < or >")
    if "&" in _ENTITY.sub("", bare):
        found.append("an unescaped &")
    return found


class Teams:
    """A Teams Workflows webhook posting the first attachment's card to a channel."""

    def __call__(self, headers: dict[str, str], body: bytes) -> Answer:
        message, error = _json(headers, body)
        found = [error] if error else self.problems(message, len(body))
        if not found:
            return Answer(202)
        answer = {"error": {"code": "InvalidTemplate", "message": "; ".join(found)}}
        return Answer(400, json.dumps(answer).encode(), "application/json")

    @staticmethod
    def problems(message: object, size: int = 0) -> list[str]:
        if size > TEAMS_LIMIT:
            return [f"larger than Teams' {TEAMS_LIMIT} bytes"]
        if not isinstance(message, dict) or message.get("type") != "message":
            return ['type: not "message"']
        attachments = message.get("attachments")
        if not isinstance(attachments, list) or not attachments:
            return ["attachments: missing (AttachmentsNotFound)"]
        first = attachments[0]
        if not isinstance(first, dict) or first.get("contentType") != CARD_TYPE:
            return [f"attachments[0].contentType: not {CARD_TYPE}"]
        card = first.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            return ["attachments[0].content: not an AdaptiveCard"]
        found = []
        if card.get("version") not in CARD_VERSIONS:
            found.append(f"version: one of {sorted(CARD_VERSIONS)}")
        schema = card.get("$schema")
        if schema is not None and not _absolute(schema):
            found.append("$schema: a URL")
        elements = card.get("body")
        if not isinstance(elements, list) or not elements:
            found.append("body: at least one element")
        else:
            for n, element in enumerate(elements):
                found += [f"body[{n}]: {p}" for p in _element_problems(element)]
        for n, action in enumerate(card.get("actions", [])):
            if not isinstance(action, dict) or action.get("type") != "Action.OpenUrl":
                found.append(f"actions[{n}]: only Action.OpenUrl here")
            elif not _absolute(action.get("url")) or not isinstance(action.get("title"), str):
                found.append(f"actions[{n}]: an absolute url and a title")
        return found


def _element_problems(element: object) -> list[str]:
    if not isinstance(element, dict):
        return ["not an object"]
    kind = element.get("type")
    if kind == "TextBlock":
        found = []
        if not isinstance(element.get("text"), str) or not element["text"]:
            found.append("TextBlock.text: required")
        for key, allowed in (("color", COLORS), ("size", SIZES), ("weight", WEIGHTS)):
            if key in element and element[key] not in allowed:
                found.append(f"TextBlock.{key}: one of {sorted(allowed)}")
        for key in ("wrap", "isSubtle"):
            if key in element and not isinstance(element[key], bool):
                found.append(f"TextBlock.{key}: a boolean")
        return found
    if kind == "FactSet":
        facts = element.get("facts")
        if not isinstance(facts, list) or not facts:
            return ["FactSet.facts: at least one"]
        return [
            "FactSet.facts: each a title and a value, both strings"
            for fact in facts
            if not isinstance(fact, dict)
            or set(fact) != {"title", "value"}
            or not all(isinstance(v, str) for v in fact.values())
        ]
    return [f"type {kind!r} is not an element this card uses"]


class PagerDuty:
    """The Events API v2 enqueue endpoint, with the incidents it opened (by dedup_key)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.incidents: dict[str, str] = {}  # dedup_key -> triggered, acknowledged, resolved
        self.history: list[tuple[str, str]] = []  # (event_action, dedup_key) accepted, in order

    def __call__(self, headers: dict[str, str], body: bytes) -> Answer:
        event, error = _json(headers, body)
        found = [error] if error else self.problems(event, len(body))
        if found:
            answer = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": found,
            }
            return Answer(400, json.dumps(answer).encode(), "application/json")
        action, key = event["event_action"], event.get("dedup_key") or "generated"
        with self._lock:
            self.history.append((action, key))
            state = self.incidents.get(key)
            if action == "trigger" and state in (None, "resolved"):
                self.incidents[key] = "triggered"  # a new incident after a resolved one
            elif action == "acknowledge" and state == "triggered":
                self.incidents[key] = "acknowledged"
            elif action == "resolve" and state in ("triggered", "acknowledged"):
                self.incidents[key] = "resolved"
        answer = {"status": "success", "message": "Event processed", "dedup_key": key}
        return Answer(202, json.dumps(answer).encode(), "application/json")

    @staticmethod
    def problems(event: object, size: int = 0) -> list[str]:
        if size > PD_LIMIT:
            return ["larger than 512 KB"]
        if not isinstance(event, dict):
            return ["the event is an object"]
        found = [f"unknown key '{k}'" for k in sorted(set(event) - PD_KEYS)]
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            found.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        action = event.get("event_action")
        if action not in PD_ACTIONS:
            found.append("'event_action' is invalid (must be one of: trigger acknowledge resolve)")
        dedup = event.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or not 1 <= len(dedup) <= 255):
            found.append("'dedup_key' must be a string of at most 255 characters")
        if action in ("acknowledge", "resolve") and dedup is None:
            found.append(f"'dedup_key' is required to {action}")
        if action == "trigger":
            found += _payload_problems(event.get("payload"))
        for link in event.get("links", []):
            if not isinstance(link, dict) or not _absolute(link.get("href")):
                found.append("each of 'links' needs an 'href' URL")
        for name in ("client", "client_url"):
            if name in event and not isinstance(event[name], str):
                found.append(f"'{name}' must be a string")
        return found


def _payload_problems(payload: object) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required to trigger"]
    found = [f"unknown key 'payload.{k}'" for k in sorted(set(payload) - PD_PAYLOAD_KEYS)]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not 1 <= len(summary) <= 1024:
        found.append("'payload.summary' is required, at most 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        found.append("'payload.source' is required")
    if payload.get("severity") not in PD_SEVERITIES:
        found.append("'payload.severity' must be one of critical, error, warning, info")
    if "timestamp" in payload:
        try:
            datetime.fromisoformat(str(payload["timestamp"]))
        except ValueError:
            found.append("'payload.timestamp' must be ISO 8601")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            found.append(f"'payload.{name}' must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        found.append("'payload.custom_details' must be an object")
    return found
