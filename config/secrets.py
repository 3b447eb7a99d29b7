"""Secrets kept out of the config file: a secret key's value written as `${ENV_NAME}` (the
variable's value) or `{file: /path}` (the file's text, trailing newlines stripped) is resolved
here, once, where the YAML is read, so everything after sees plain values.

Only the keys in SECRET_KEYS take references; anywhere else `${...}` is text as written (a
title or a URL path is never expanded). Errors name the key and the variable or file, never a
value."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sla.policy import ConfigError

# The keys whose values are secrets, as paths into the parsed YAML; `*` is every item of a
# list. A webhook's URL and routing key are here because a Slack or Teams URL and a PagerDuty
# integration key are themselves the keys to post to the channel or open incidents.
SECRET_KEYS: tuple[tuple[str, ...], ...] = (
    ("notifications", "webhooks", "*", "secret"),
    ("notifications", "webhooks", "*", "secrets", "*"),
    ("notifications", "webhooks", "*", "url"),
    ("notifications", "webhooks", "*", "routing_key"),
    ("notifications", "email", "smtp_url"),
    ("integrations", "jira", "secret"),
    ("integrations", "zendesk", "secret"),
)

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A secret is short; a larger file is the wrong file (or /dev/zero), not read to the end.
MAX_FILE_BYTES = 64 * 1024


def resolve_secrets(data: Any, base: Path, environ: Mapping[str, str] | None = None) -> Any:
    """`data` (the parsed YAML) with every secret reference replaced by its value; a relative
    `{file: ...}` is relative to `base` (the config file's directory). ConfigError lists every
    reference that cannot be resolved, each with its key, as config validation does."""
    env = os.environ if environ is None else environ
    resolved = copy.deepcopy(data)
    problems: list[str] = []
    for path, parent, key in _secret_slots(resolved):
        try:
            value = _resolve(parent[key], base, env)
        except ValueError as exc:
            problems.append(f"{'.'.join(path)}: {exc}")
        else:
            parent[key] = value
    if problems:
        raise ConfigError("invalid SLA config:\n  " + "\n  ".join(problems))
    return resolved


def _secret_slots(data: Any) -> Iterator[tuple[list[str], Any, Any]]:
    """(key path, container, key or index) of each secret key present in `data`. A part of the
    path that is missing or of the wrong type is skipped: validation reports it."""
    for pattern in SECRET_KEYS:
        yield from _walk(data, pattern, [])


def _walk(
    node: Any, pattern: tuple[str, ...], path: list[str]
) -> Iterator[tuple[list[str], Any, Any]]:
    step, rest = pattern[0], pattern[1:]
    if step == "*":
        if not isinstance(node, list):
            return
        slots: list[tuple[Any, str]] = [(index, str(index)) for index in range(len(node))]
    else:
        if not isinstance(node, dict) or step not in node:
            return
        slots = [(step, step)]
    for key, name in slots:
        if rest:
            yield from _walk(node[key], rest, [*path, name])
        else:
            yield [*path, name], node, key


def _resolve(value: Any, base: Path, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        if match := _ENV_REFERENCE.fullmatch(value):
            return _from_environment(match[1], env)
        if "${" in value:
            raise ValueError(
                "${NAME} stands for the whole value: put all of it in the variable (or file)"
            )
        return value
    if isinstance(value, dict):
        if set(value) != {"file"} or not isinstance(value["file"], str) or not value["file"]:
            raise ValueError("a secret is a string, ${ENV_NAME} or {file: /path}")
        return _from_file(value["file"], base)
    return value  # not a string: validation says what is wrong


def _from_environment(name: str, env: Mapping[str, str]) -> str:
    if name not in env:
        raise ValueError(f"environment variable {name} is not set")
    if not env[name]:
        raise ValueError(f"environment variable {name} is empty")
    return env[name]


def _from_file(name: str, base: Path) -> str:
    path = base / name  # an absolute name stays itself
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ValueError(f"file {path} does not exist") from None
    except OSError as exc:
        raise ValueError(f"cannot read file {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"file {path} is larger than {MAX_FILE_BYTES // 1024} KiB: not a secret")
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"file {path} is not UTF-8 text") from None
    if not text:
        raise ValueError(f"file {path} is empty")
    return text
