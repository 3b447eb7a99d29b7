"""The archive: each closed ticket's full history, kept after Temporal's retention deletes it.

One JSON file per ticket in a directory (written atomically: a temp file, then a rename).
Each run is kept twice: decoded for people, and as the raw protobuf JSON that `temporal
workflow show --output json` prints, so `slaflow replay` can replay it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from sla.actions import ID_PATTERN

_SAFE_ID = re.compile(ID_PATTERN)


class Archive:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, ticket_id: str) -> Path:
        if not _SAFE_ID.match(ticket_id):  # ids become file names: never a path
            raise ValueError(f"not a ticket id: {ticket_id!r}")
        return self.directory / f"{ticket_id}.json"

    def write(self, ticket_id: str, document: dict[str, Any]) -> Path:
        target = self.path(ticket_id)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{ticket_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    def read(self, ticket_id: str) -> dict[str, Any] | None:
        try:
            document: dict[str, Any] = json.loads(self.path(ticket_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return document
