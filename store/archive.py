"""The archive: every run of every ticket, kept after Temporal's retention deletes it.

Each run of a ticket is archived on its own as it ends (continue-as-new included), so the
runs of one ticket may be written concurrently: nothing is ever read, changed and written
back. A ticket's archive is one document per run, and the final document of the run that
completed the ticket:

    <ticket_id>/runs/<started at, UTC, to the nanosecond>-<run_id>.json
        {"ticket_id", "workflow_id", "run_id", "started_at", "archived_at", "events", "raw"}
    <ticket_id>/final.json
        {"ticket_id", "workflow_id", "run_id", "archived_at", "final_state", "opened_with"}

Run names sort by the run's start, so a listing is the ticket's runs oldest first. `read`
assembles the one document readers know (`slaflow replay`, `/history`, the ticket after
retention): `{"ticket_id", "workflow_id", "archived_at", "final_state", "runs": [{"run_id",
"events", "raw"}, ...]}`, oldest run first.

Two stores with one interface (`ArchiveStore`): `Archive`, a directory (each file written
atomically: a temp file, fsync, then a rename), and `S3Archive`, a bucket of an
S3-compatible object store (a put is atomic per object), the scale path, chosen by
`SLAFLOW_ARCHIVE_URL`. Each run is kept twice: decoded for people, and as the raw protobuf
JSON that `temporal workflow show --output json` prints, so `slaflow replay` can replay it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sla.actions import ID_PATTERN

_SAFE_ID = re.compile(ID_PATTERN)
# A run's start as Temporal's JSON writes it: RFC 3339 in UTC, 0 to 9 fractional digits.
_STARTED = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")
FINAL = "final.json"
RUNS = "runs"


def check_ticket_id(ticket_id: str) -> str:
    """Ids become file names and object keys: never a path (no `/`, no newline)."""
    if not _SAFE_ID.fullmatch(ticket_id):
        raise ValueError(f"not a ticket id: {ticket_id!r}")
    return ticket_id


def run_name(run: dict[str, Any]) -> str:
    """`<started at>-<run id>.json`, the start as `20261202T215904.123456789Z`: fixed width,
    so names sort by start (run ids do not: a continued run's id is random)."""
    run_id = run.get("run_id", "")
    if not isinstance(run_id, str) or not _SAFE_ID.fullmatch(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    started = _STARTED.fullmatch(str(run.get("started_at", "")))
    if started is None:
        raise ValueError(f"not a run start (RFC 3339, UTC): {run.get('started_at')!r}")
    *day_and_time, fraction = started.groups()
    year, month, day, hour, minute, second = day_and_time
    nanos = (fraction or "").ljust(9, "0")
    return f"{year}{month}{day}T{hour}{minute}{second}.{nanos}Z-{run_id}.json"


def assemble(
    ticket_id: str, final: dict[str, Any] | None, runs: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The ticket's archive as one document; None when nothing of it is archived."""
    if final is None and not runs:
        return None
    latest = final or runs[-1]
    return {
        "ticket_id": ticket_id,
        "workflow_id": latest.get("workflow_id"),
        "archived_at": latest.get("archived_at"),
        "final_state": (final or {}).get("final_state"),
        "runs": [
            {"run_id": run["run_id"], "events": run["events"], "raw": run["raw"]} for run in runs
        ],
    }


class ArchiveStore(ABC):
    """Where archives go; every method checks the ticket id before any I/O."""

    @abstractmethod
    def write_run(self, ticket_id: str, run: dict[str, Any]) -> str:
        """Stores one run (`run_id`, `started_at`, `events`, `raw`, ...), replacing an earlier
        copy of the same run only; returns where it went."""

    @abstractmethod
    def write_final(self, ticket_id: str, final: dict[str, Any]) -> str:
        """Stores the final document of the run that completed the ticket."""

    @abstractmethod
    def runs(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every archived run of the ticket, oldest first."""

    @abstractmethod
    def final(self, ticket_id: str) -> dict[str, Any] | None:
        """The final document (with `final_state`), or None until the ticket completed."""

    def read(self, ticket_id: str) -> dict[str, Any] | None:
        """The ticket's archive as one document (see the module's docstring), or None."""
        final = self.final(ticket_id)
        return assemble(ticket_id, final, self.runs(ticket_id))


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class Archive(ArchiveStore):
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, ticket_id: str) -> Path:
        """The ticket's directory."""
        return self.directory / check_ticket_id(ticket_id)

    def _write(self, target: Path, document: dict[str, Any]) -> str:
        body = _dump(document)  # before any file exists: a document that is not JSON fails here
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return str(target)

    def write_run(self, ticket_id: str, run: dict[str, Any]) -> str:
        return self._write(self.path(ticket_id) / RUNS / run_name(run), run)

    def write_final(self, ticket_id: str, final: dict[str, Any]) -> str:
        return self._write(self.path(ticket_id) / FINAL, final)

    def runs(self, ticket_id: str) -> list[dict[str, Any]]:
        # Temp files end in .tmp; a finished file appears whole, by its rename.
        names = sorted((self.path(ticket_id) / RUNS).glob("*.json"))
        return [json.loads(name.read_bytes()) for name in names]

    def final(self, ticket_id: str) -> dict[str, Any] | None:
        try:
            document: dict[str, Any] = json.loads((self.path(ticket_id) / FINAL).read_bytes())
        except FileNotFoundError:
            return None
        return document


class S3Archive(ArchiveStore):
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

    def key(self, ticket_id: str, name: str = "") -> str:
        """The key of `name` in the ticket's archive (its folder, with a `/`, for no name)."""
        folder = f"{check_ticket_id(ticket_id)}/{name}"
        return f"{self.prefix}/{folder}" if self.prefix else folder

    def _put(self, key: str, document: dict[str, Any]) -> str:
        body = _dump(document)
        self._client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
        )
        return f"s3://{self.bucket}/{key}"

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except self._client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        with response["Body"] as body:
            document: dict[str, Any] = json.loads(body.read())
        return document

    def write_run(self, ticket_id: str, run: dict[str, Any]) -> str:
        return self._put(self.key(ticket_id, f"{RUNS}/{run_name(run)}"), run)

    def write_final(self, ticket_id: str, final: dict[str, Any]) -> str:
        return self._put(self.key(ticket_id, FINAL), final)

    def runs(self, ticket_id: str) -> list[dict[str, Any]]:
        folder = self.key(ticket_id, f"{RUNS}/")
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder
        )
        keys = sorted(
            item["Key"]
            for page in pages
            for item in page.get("Contents", [])
            if item["Key"].endswith(".json")
        )
        # A run is never deleted, so every listed key is there to get.
        return [run for key in keys if (run := self._get(key)) is not None]

    def final(self, ticket_id: str) -> dict[str, Any] | None:
        return self._get(self.key(ticket_id, FINAL))


def open_archive(archive_url: str | None, data_dir: Path) -> ArchiveStore:
    """The S3-compatible archive at `archive_url`, else a directory in the data dir."""
    return S3Archive(archive_url) if archive_url else Archive(data_dir / "archive")
