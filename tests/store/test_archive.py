"""The archive's two stores: a directory, and a real S3-compatible server (moto's) on loopback."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from settings import Settings
from store.archive import Archive, ArchiveStore, S3Archive, open_archive

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "slaflow-archive"
DOCUMENT: dict[str, Any] = {
    "ticket_id": "T-1",
    "final_state": {"status": "resolved"},
    "runs": [{"run_id": "r1", "events": [{"eventId": "1"}], "raw": {}}],
}
UNSAFE_IDS = ["../x", "a/b", "", "x\n", "a" * 65]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def archive_url(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    return f"s3://{BUCKET}/tickets/v1?endpoint_url={s3_endpoint}&region=us-east-1"


@pytest.fixture(params=["directory", "s3"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveStore:
    if request.param == "directory":
        return Archive(tmp_path / "archive")
    return S3Archive(request.getfixturevalue("archive_url"))


def test_write_then_read_round_trips(archive: ArchiveStore) -> None:
    archive.write("T-1", {"old": True})
    location = archive.write("T-1", DOCUMENT)  # a second write replaces the first
    assert archive.read("T-1") == DOCUMENT
    assert str(location).endswith("T-1.json")


def test_reading_a_missing_ticket_gives_none(archive: ArchiveStore) -> None:
    assert archive.read("never-archived") is None


def test_s3_objects_are_under_the_prefix(archive_url: str, s3_endpoint: str) -> None:
    location = S3Archive(archive_url).write("T-2", DOCUMENT)
    assert location == f"s3://{BUCKET}/tickets/v1/T-2.json"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    body = s3.get_object(Bucket=BUCKET, Key="tickets/v1/T-2.json")["Body"].read()
    assert body.startswith(b'{"ticket_id":"T-1"')


def test_s3_without_a_prefix(s3_endpoint: str, archive_url: str) -> None:
    archive = S3Archive(f"s3://{BUCKET}?endpoint_url={s3_endpoint}")
    assert archive.key("T-3") == "T-3.json"
    archive.write("T-3", DOCUMENT)
    assert archive.read("T-3") == DOCUMENT


@pytest.mark.parametrize("ticket_id", UNSAFE_IDS)
def test_unsafe_ids_are_refused_before_any_io(
    ticket_id: str, archive_url: str, tmp_path: Path
) -> None:
    directory = Archive(tmp_path / "archive")
    with pytest.raises(ValueError, match="not a ticket id"):
        directory.write(ticket_id, DOCUMENT)
    with pytest.raises(ValueError, match="not a ticket id"):
        directory.read(ticket_id)
    assert not (tmp_path / "archive").exists()

    s3 = S3Archive(archive_url)
    with mock.patch.object(s3, "_client") as client:
        with pytest.raises(ValueError, match="not a ticket id"):
            s3.write(ticket_id, DOCUMENT)
        with pytest.raises(ValueError, match="not a ticket id"):
            s3.read(ticket_id)
    assert client.mock_calls == []


def test_a_directory_write_leaves_no_temp_files(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    for _ in range(3):
        archive.write("T-1", DOCUMENT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["T-1.json"]


def test_a_failed_directory_write_leaves_no_temp_files(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    with pytest.raises(TypeError):
        archive.write("T-1", {"unserializable": object()})
    assert list(tmp_path.iterdir()) == []


def test_a_reader_never_sees_a_half_written_directory_file(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    runs = [{"run_id": str(i), "events": ["x" * 512] * 8} for i in range(500)]
    big = {"ticket_id": "T-big", "runs": runs}  # about 2 MB of JSON
    seen: list[dict[str, Any] | None] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                seen.append(archive.read("T-big"))
        except BaseException as exc:  # a JSONDecodeError would mean a torn read
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(10):
            archive.write("T-big", big)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert seen and all(document is None or document == big for document in seen)
    assert any(document == big for document in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["T-big.json"]


def test_settings_choose_the_archive(
    archive_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLAFLOW_ARCHIVE_URL", raising=False)
    assert isinstance(archive_of(Settings(archive_url=archive_url)), S3Archive)
    directory = archive_of(Settings(data_dir=tmp_path))
    assert isinstance(directory, Archive)
    assert directory.directory == tmp_path / "archive"


def test_settings_read_the_archive_url_from_the_environment(
    archive_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLAFLOW_ARCHIVE_URL", archive_url)
    assert isinstance(archive_of(Settings()), S3Archive)
    monkeypatch.delenv("SLAFLOW_ARCHIVE_URL")
    assert isinstance(archive_of(Settings()), Archive)


def archive_of(settings: Settings) -> ArchiveStore:
    """As the worker and the API open it."""
    return open_archive(settings.archive_url, settings.data_dir)


@pytest.mark.parametrize(
    "url",
    [
        "http://bucket/prefix",
        "s3:///prefix",
        "s3://key:secret@bucket/prefix",
        "s3://bucket/prefix?endpoint=http://x",
    ],
)
def test_bad_archive_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        S3Archive(url)


def test_a_missing_boto3_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(RuntimeError, match=r"slaflow\[s3\]"):
        S3Archive("s3://bucket/prefix")
