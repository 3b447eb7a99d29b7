"""Secrets written as `${ENV_NAME}` or `{file: /path}` (config/secrets.py): resolved where the
config file is read, refused with the key that names them, and only on secret keys."""

from __future__ import annotations

import errno
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.resolve import policy_snapshot
from config.secrets import MAX_FILE_BYTES, resolve_secrets
from settings import ConfigFile, load_config_file
from sla.policy import ConfigError
from tests.support.processes import SLAFLOW

WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWtleS1vZi1hdC1sZWFzdC0yNC1ieXRlcw=="
SMTP_URL = "smtps://mailer:p4ss-w0rd@smtp.example.com:465"
JIRA_SECRET = "jira-shared-secret-from-a-file"

POLICIES = """
default_policy: standard
policies:
  standard:
    targets:
      P1: {response: 15m, resolution: 2h}
      P2: {response: 1h, resolution: 8h}
      P3: {response: 4h, resolution: 24h}
"""

WITH_REFERENCES = (
    POLICIES
    + """
notifications:
  webhooks:
    - {name: ops, url: "https://ops.example.com/hook", secret: "${SLAFLOW_TEST_HOOK_SECRET}"}
    - {name: rotating, url: "https://ops.example.com/hook2",
       secrets: ["${SLAFLOW_TEST_HOOK_SECRET}", {file: old-secret}]}
    - {name: chat, format: slack, url: {file: slack-url}}
  email: {smtp_url: "${SLAFLOW_TEST_SMTP_URL}", from: "slaflow@example.com"}
integrations:
  jira:
    secret: {file: jira-secret}
    priorities: {High: P1}
"""
)


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The variables and files WITH_REFERENCES names; the config file's path."""
    monkeypatch.setenv("SLAFLOW_TEST_HOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("SLAFLOW_TEST_SMTP_URL", SMTP_URL)
    (tmp_path / "old-secret").write_text("the-old-secret\n")
    (tmp_path / "slack-url").write_text("https://hooks.slack.com/services/T0/B0/XXXX\r\n")
    (tmp_path / "jira-secret").write_text(JIRA_SECRET)
    path = tmp_path / "sla.yaml"
    path.write_text(WITH_REFERENCES)
    return path


def refused(text: str, tmp_path: Path) -> str:
    """The error a config file with `text` is refused with."""
    path = tmp_path / "sla.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    return str(info.value)


def test_environment_variables_and_files_become_the_secrets_values(secrets_env: Path) -> None:
    config = load_config_file(secrets_env)
    ops, rotating, chat = config.notifications.webhooks
    assert ops.secret == WEBHOOK_SECRET
    # A relative file is next to the config file; trailing newlines (\n, \r\n) are stripped.
    assert rotating.secrets == [WEBHOOK_SECRET, "the-old-secret"]
    assert chat.url == "https://hooks.slack.com/services/T0/B0/XXXX"
    assert config.notifications.email is not None
    assert config.notifications.email.smtp_url == SMTP_URL
    assert config.integrations.jira is not None
    assert config.integrations.jira.secret == JIRA_SECRET


def test_an_absolute_file_path_is_read_as_it_is(tmp_path: Path) -> None:
    secret = tmp_path / "mounted" / "zendesk"
    secret.parent.mkdir()
    secret.write_text("zd-signing-secret\n")
    data = {"integrations": {"zendesk": {"secret": {"file": str(secret)}}}}
    resolved = resolve_secrets(data, Path("/nowhere"), environ={})
    assert resolved["integrations"]["zendesk"]["secret"] == "zd-signing-secret"
    assert data["integrations"]["zendesk"]["secret"] == {"file": str(secret)}  # not changed


def test_a_variable_not_set_stops_the_config_naming_the_key_and_variable(
    secrets_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLAFLOW_TEST_HOOK_SECRET")
    with pytest.raises(ConfigError) as info:
        load_config_file(secrets_env)
    message = str(info.value)
    assert message.startswith(f"{secrets_env}: invalid SLA config:")
    # Every reference that cannot be resolved, each with its key.
    assert (
        "notifications.webhooks.0.secret: environment variable SLAFLOW_TEST_HOOK_SECRET is not set"
        in message
    )
    assert (
        "notifications.webhooks.1.secrets.0: environment variable SLAFLOW_TEST_HOOK_SECRET is "
        "not set" in message
    )
    assert SMTP_URL not in message and JIRA_SECRET not in message


def test_an_empty_variable_is_refused(secrets_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAFLOW_TEST_SMTP_URL", "")
    with pytest.raises(
        ConfigError,
        match=r"notifications\.email\.smtp_url: environment variable SLAFLOW_TEST_SMTP_URL "
        r"is empty",
    ):
        load_config_file(secrets_env)


def test_a_missing_file_stops_the_config_naming_the_key_and_file(
    secrets_env: Path,
) -> None:
    (secrets_env.parent / "jira-secret").unlink()
    with pytest.raises(ConfigError) as info:
        load_config_file(secrets_env)
    missing = secrets_env.parent / "jira-secret"
    assert f"integrations.jira.secret: file {missing} does not exist" in str(info.value)


def test_an_unreadable_file_stops_the_config(
    secrets_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets_env.parent / "jira-secret"
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads any file: it is refused as the kernel would refuse it
        opened = Path.open

        def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == secret:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return opened(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConfigError) as info:
        load_config_file(secrets_env)
    assert f"integrations.jira.secret: cannot read file {secret}: Permission denied" in str(
        info.value
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "is empty"),
        (b"\n", "is empty"),
        (b"\xff\xfe secret", "is not UTF-8 text"),
        (b"x" * (MAX_FILE_BYTES + 1), "is larger than 64 KiB"),
    ],
)
def test_a_file_that_holds_no_secret_is_refused(
    secrets_env: Path, content: bytes, why: str
) -> None:
    secret = secrets_env.parent / "jira-secret"
    secret.write_bytes(content)
    with pytest.raises(
        ConfigError, match=re.escape(f"integrations.jira.secret: file {secret} {why}")
    ):
        load_config_file(secrets_env)


def test_a_directory_is_not_a_secret_file(tmp_path: Path) -> None:
    data = {"integrations": {"jira": {"secret": {"file": str(tmp_path)}}}}
    with pytest.raises(
        ConfigError, match=re.escape(f"cannot read file {tmp_path}: Is a directory")
    ):
        resolve_secrets(data, tmp_path, environ={})


@pytest.mark.parametrize(
    "written",
    [
        "smtp://mailer:${SMTP_PASSWORD}@smtp.example.com:587",  # a part of the value
        {"env": "SMTP_URL"},
        {"file": "/run/secrets/smtp", "mode": "text"},
        {"file": ""},
    ],
)
def test_a_reference_is_the_whole_value_in_one_of_two_forms(written: Any, tmp_path: Path) -> None:
    email = {"smtp_url": written, "from": "slaflow@example.com"}
    data = {"notifications": {"email": email}}
    with pytest.raises(ConfigError, match=r"notifications\.email\.smtp_url: "):
        resolve_secrets(data, tmp_path, environ={"SMTP_PASSWORD": "p", "SMTP_URL": "u"})


def test_only_secret_keys_take_references(tmp_path: Path) -> None:
    # A `${...}` in a policy name, an audience's address or a probe URL is text as written.
    config = yaml.safe_load(POLICIES)
    config["customers"] = {"acme": {"monthly_fee": 100, "currency": "EUR", "notify": []}}
    config["availability"] = {"probe": {"url": "https://status.example.com/${HOME}"}}
    resolved = resolve_secrets(config, tmp_path, environ={"HOME": "/root"})
    assert resolved == config
    assert resolved["availability"]["probe"]["url"].endswith("/${HOME}")


def test_a_config_without_secrets_or_with_plain_ones_is_unchanged(tmp_path: Path) -> None:
    plain = yaml.safe_load(POLICIES)
    plain["notifications"] = {"webhooks": [{"url": "https://x.example.com", "secret": "s3cret"}]}
    assert resolve_secrets(plain, tmp_path, environ={}) == plain
    for odd in (None, [], "text", {"notifications": {"webhooks": "not a list"}}):
        assert resolve_secrets(odd, tmp_path, environ={}) == odd


def test_a_resolved_secret_is_validated_as_one_written_in_the_file(
    secrets_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLAFLOW_TEST_HOOK_SECRET", "whsec_short")
    monkeypatch.setenv("SLAFLOW_TEST_SMTP_URL", "http://not-smtp.example.com")
    with pytest.raises(ConfigError) as info:
        load_config_file(secrets_env)
    message = str(info.value)
    assert "notifications.webhooks.0.secret" in message
    assert "notifications.email.smtp_url" in message
    assert "whsec_short" not in message and "not-smtp" not in message


def test_a_reload_with_a_secret_gone_is_refused_and_the_old_secrets_stay(
    secrets_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = ConfigFile(secrets_env)
    version = config_file.version
    (secrets_env.parent / "jira-secret").write_text("rotated-secret\n")
    config_file.reload()
    assert config_file.current.integrations.jira is not None
    assert config_file.current.integrations.jira.secret == "rotated-secret"
    # The version is the file's bytes: a rotated secret file does not change it.
    assert config_file.version == version

    monkeypatch.delenv("SLAFLOW_TEST_SMTP_URL")
    with pytest.raises(ConfigError, match=r"notifications\.email\.smtp_url: environment variable"):
        config_file.reload()
    assert config_file.current.notifications.email is not None
    assert config_file.current.notifications.email.smtp_url == SMTP_URL
    assert config_file.current.integrations.jira.secret == "rotated-secret"


def test_a_tickets_policy_snapshot_carries_target_names_not_secrets(secrets_env: Path) -> None:
    # The snapshot is the workflow input's policy (and a repair's, and the journal's): what
    # goes into a ticket's history. Its routing names targets; URLs and secrets stay here.
    audiences = "  audiences: {team-lead: [webhook:ops, webhook:chat, mailto:lead@example.com]}"
    secrets_env.write_text(secrets_env.read_text().replace("  email:", f"{audiences}\n  email:"))
    config = load_config_file(secrets_env)
    snapshot = policy_snapshot(config, datetime.now(UTC))
    assert snapshot.routing is not None
    assert "webhook:ops" in snapshot.routing.audiences["team-lead"]
    written = snapshot.model_dump_json()
    for secret in (WEBHOOK_SECRET, "the-old-secret", "hooks.slack.com", "ops.example.com"):
        assert secret not in written
    assert "p4ss-w0rd" not in written and JIRA_SECRET not in written


@pytest.mark.parametrize("command", ["up", "worker", "api"])
def test_each_command_stops_at_start_naming_the_secret_it_cannot_resolve(
    secrets_env: Path, command: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLAFLOW_", "TEMPORAL_"))}
    # Nothing listens here: a command that got as far as Temporal would wait, then fail.
    env |= {"TEMPORAL_ADDRESS": "127.0.0.1:9", "SLAFLOW_CONFIG": str(secrets_env)}
    env |= {"SLAFLOW_DATA_DIR": str(secrets_env.parent / "data")}
    env["SLAFLOW_TEST_HOOK_SECRET"] = WEBHOOK_SECRET  # set; SLAFLOW_TEST_SMTP_URL is not
    done = subprocess.run([SLAFLOW, command], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"slaflow: {secrets_env}: invalid SLA config:",
        "  notifications.email.smtp_url: environment variable SLAFLOW_TEST_SMTP_URL is not set",
    ]
