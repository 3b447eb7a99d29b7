"""The archive: each closed ticket's full history, kept after Temporal's retention deletes it.

One JSON document per ticket, in one of two stores with the same interface (`ArchiveStore`):
`Archive`, a directory (written atomically: a temp file, then a rename), and `S3Archive`, a
bucket of an S3-compatible object store (one object per ticket; a put is atomic per object),
the scale path, chosen by `SLAFLOW_ARCHIVE_URL`.
Each run is kept twice: decoded for people, and as the raw protobuf JSON that `temporal
workflow show --output json` prints, so `slaflow replay` can replay it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from sla.actions import ID_PATTERN

_SAFE_ID = re.compile(ID_PATTERN)


def check_ticket_id(ticket_id: str) -> str:
    """Ids become file names and object keys: never a path (no `/`, no newline)."""
    if not _SAFE_ID.fullmatch(ticket_id):
        raise ValueError(f"not a ticket id: {ticket_id!r}")
    return ticket_id


class ArchiveStore(Protocol):
    def write(self, ticket_id: str, document: dict[str, Any]) -> Path | str:
        """Stores the ticket's document, replacing any earlier one; returns where it went."""
        ...

    def read(self, ticket_id: str) -> dict[str, Any] | None:
        """The ticket's document, or None if it has none."""
        ...


class Archive:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, ticket_id: str) -> Path:
        return self.directory / f"{check_ticket_id(ticket_id)}.json"

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


class S3Archive:
    """`s3://bucket/prefix?endpoint_url=...&region=...`; credentials as boto3 finds them
    (AWS_* environment variables, ~/.aws), never in the URL."""

    OPTIONS = frozenset({"endpoint_url", "region"})

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ValueError(f"not an s3://bucket/prefix archive URL: {url!r}")
        if parts.username or parts.password:
            raise ValueError("archive URL: credentials belong in the AWS environment, not the URL")
        options = parse_qs(parts.query, strict_parsing=bool(parts.query))
        unknown = set(options) - self.OPTIONS
        if unknown:
            raise ValueError(f"archive URL: unknown options {sorted(unknown)}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        try:
            import boto3
        except ImportError:
            raise RuntimeError("an s3:// archive needs boto3: pip install 'slaflow[s3]'") from None
        self._client = boto3.client(
            "s3",
            endpoint_url=options.get("endpoint_url", [None])[-1],
            region_name=options.get("region", [None])[-1],
        )

    def key(self, ticket_id: str) -> str:
        name = f"{check_ticket_id(ticket_id)}.json"
        return f"{self.prefix}/{name}" if self.prefix else name

    def write(self, ticket_id: str, document: dict[str, Any]) -> str:
        key = self.key(ticket_id)
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        self._client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
        )
        return f"s3://{self.bucket}/{key}"

    def read(self, ticket_id: str) -> dict[str, Any] | None:
        key = self.key(ticket_id)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except self._client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        with response["Body"] as body:
            document: dict[str, Any] = json.loads(body.read())
        return document


def open_archive(archive_url: str | None, data_dir: Path) -> ArchiveStore:
    """The S3-compatible archive at `archive_url`, else a directory in the data dir."""
    return S3Archive(archive_url) if archive_url else Archive(data_dir / "archive")
