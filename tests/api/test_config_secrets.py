"""Secrets the config takes from the environment or a file (config/secrets.py) stay out of what
the API answers and logs: `GET /policies`, a test delivery, a reload and a refused one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from cli import ConfigReloads
from settings import Settings
from tests.support.http import asgi_client

HOOK_SECRET = "hook-secret-from-the-environment-7f3a"
URL_TOKEN = "url-token-from-a-file-91c2"
SMTP_PASSWORD = "smtp-password-from-the-environment-5d0e"
JIRA_SECRET = "jira-secret-from-a-file-c4b8"
SECRETS = (HOOK_SECRET, URL_TOKEN, SMTP_PASSWORD, JIRA_SECRET)

CONFIG = """
default_policy: standard
policies:
  standard:
    targets:
      P1: {response: 15m, resolution: 2h}
      P2: {response: 1h, resolution: 8h}
      P3: {response: 4h, resolution: 24h}
notifications:
  webhooks:
    # Port 1: nobody listens, so the test delivery fails at once, and says why.
    - {name: ops, url: {file: hook-url}, secret: "${SLAFLOW_TEST_HOOK_SECRET}", events: [test]}
  email: {smtp_url: "${SLAFLOW_TEST_SMTP_URL}", from: "slaflow@example.com"}
integrations:
  jira:
    secret: {file: jira-secret}
    priorities: {High: P1}
"""


@pytest.fixture
def secret_settings(
    api_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("SLAFLOW_TEST_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv(
        "SLAFLOW_TEST_SMTP_URL", f"smtps://mailer:{SMTP_PASSWORD}@smtp.example.com:465"
    )
    (tmp_path / "hook-url").write_text(f"http://127.0.0.1:1/hooks/{URL_TOKEN}\n")
    (tmp_path / "jira-secret").write_text(JIRA_SECRET + "\n")
    (tmp_path / "sla.yaml").write_text(CONFIG)
    # A new Settings, not a copy: a copy would keep the config file api_settings has read.
    return Settings(
        config=tmp_path / "sla.yaml",
        data_dir=api_settings.data_dir,
        task_queue=api_settings.task_queue,
        max_request_seconds=api_settings.max_request_seconds,
    )


def test_the_secrets_are_in_force(secret_settings: Settings) -> None:
    config = secret_settings.sla_config
    assert config.notifications.webhooks[0].secret == HOOK_SECRET
    assert config.integrations.jira is not None
    assert config.integrations.jira.secret == JIRA_SECRET


async def test_no_answer_or_log_line_shows_a_secret(
    secret_settings: Settings,
    app_for: Callable[[Settings], FastAPI],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: list[str] = []
    with caplog.at_level(logging.DEBUG):
        async with asgi_client(app_for(secret_settings)) as http:
            policies = await http.get("/policies")
            assert policies.status_code == 200
            assert list(policies.json()["policies"]) == ["standard"]
            answers.append(policies.text)

            tested = await http.post("/notifications/test", json={"target": "webhook:ops"})
            assert tested.status_code == 200 and tested.json()["ok"] is False
            answers.append(tested.text)

            reloads = ConfigReloads(secret_settings)
            assert await reloads.reload() is True
            monkeypatch.delenv("SLAFLOW_TEST_HOOK_SECRET")
            assert await reloads.reload() is False  # refused: the secret is not set
            assert secret_settings.sla_config.notifications.webhooks[0].secret == HOOK_SECRET
            answers.append((await http.get("/policies")).text)

    refused = next(r for r in caplog.records if r.getMessage().startswith("config reload refused"))
    assert (
        "notifications.webhooks.0.secret: environment variable SLAFLOW_TEST_HOOK_SECRET is not set"
        in (
            refused.fields["error"]  # type: ignore[attr-defined]
        )
    )
    logged = caplog.text + "\n".join(
        str(getattr(record, "fields", "")) for record in caplog.records
    )
    assert any(r.getMessage() == "delivery" for r in caplog.records)  # the delivery was logged
    for secret in SECRETS:
        assert secret not in logged
        for answer in answers:
            assert secret not in answer
