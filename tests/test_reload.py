"""The config file in force and its reload (settings.py `ConfigFile`, cli.py `ConfigReloads`,
what SIGHUP runs): a bad file is refused naming the key, and the old config stays; a good one
is in force at once, with its version. The signal itself, on real processes:
tests/e2e/test_config_reload.py."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from cli import ConfigReloads
from settings import ConfigFile, Settings
from sla.policy import ConfigError
from sla.priorities import Priority

GOOD = """
default_policy: standard
policies:
  standard:
    targets:
      P1: {response: 15m, resolution: 2h}
      P2: {response: 1h, resolution: 8h}
      P3: {response: 4h, resolution: 24h}
"""


def p1_response(config_file: ConfigFile) -> timedelta:
    return config_file.current.policies["standard"].targets[Priority.P1].response


def test_a_bad_file_is_refused_with_its_key_and_the_config_in_force_stays(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(GOOD)
    config_file = ConfigFile(path)
    first = config_file.version
    assert first == hashlib.sha256(GOOD.encode()).hexdigest()[:12]

    for bad, key in [
        (GOOD.replace("15m", "soon"), "policies.standard.targets.P1.response"),
        (GOOD.replace("standard:", "standard: [", 1), "is not valid YAML"),
        (GOOD.replace("default_policy: standard", "default_policy: gold"), "default_policy"),
    ]:
        path.write_text(bad)
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            config_file.reload()
        assert config_file.version == first
        assert p1_response(config_file) == timedelta(minutes=15)

    path.write_text(GOOD.replace("15m", "5s"))
    assert config_file.reload().version != first
    assert p1_response(config_file) == timedelta(seconds=5)


async def test_a_reload_says_which_version_is_in_force_or_why_it_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(GOOD)
    settings = Settings(config=path, data_dir=tmp_path)
    reloads = ConfigReloads(settings)
    first = settings.config_file.version

    path.write_text(GOOD.replace("15m", "soon"))
    with caplog.at_level(logging.INFO, logger="slaflow"):
        assert await reloads.reload() is False
    refused = caplog.records[-1]
    assert refused.getMessage() == "config reload refused; the config in force stays"
    assert "policies.standard.targets.P1.response" in refused.fields["error"]  # type: ignore[attr-defined]
    assert settings.sla_config.policies["standard"].targets[Priority.P1].response == timedelta(
        minutes=15
    )

    path.write_text(GOOD.replace("15m", "5s"))
    with caplog.at_level(logging.INFO, logger="slaflow"):
        assert await reloads.reload() is True
    assert caplog.records[-1].fields == {  # type: ignore[attr-defined]
        "version": settings.config_file.version,
        "previous": first,
        "config": str(path),
    }
    assert settings.sla_config.policies["standard"].targets[Priority.P1].response == timedelta(
        seconds=5
    )
