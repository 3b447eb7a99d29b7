"""The shipped SLA config (`sla.yaml`), found with importlib.resources so it works installed too."""

from importlib.resources import files
from pathlib import Path


def shipped_config_path() -> Path:
    return Path(str(files(__name__) / "sla.yaml"))
