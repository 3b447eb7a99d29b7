"""The archive's two stores: a directory, and a real S3-compatible server (moto's) on loopback;
a document per run, written in any order or at once, read back as one document per ticket."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from settings import Settings
from store.archive import Archive, ArchiveStore, S3Archive, open_archive, run_name

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

UNSAFE_IDS = ["../x", "a/b", "", "x\n", "a" * 65]


def run(run_id: str, started_at: str, events: int = 1) -> dict[str, Any]:
    """One archived run, as archive_ticket writes it."""
    return {
        "ticket_id": "T-1",
        "workflow_id": "ticket-T-1",
        "run_id": run_id,
        "started_at": started_at,
        "archived_at": "2026-12-02T10:00:00+00:00",
        "events": [{"eventId": str(n + 1)} for n in range(events)],
        "raw": {"events": [{"eventId": str(n + 1)} for n in range(events)]},
    }


FIRST = run("01a238cb-68ae-738d-a11b-c58053298609", "2026-12-02T09:00:00Z")
# Run ids of continued runs are random: only the start orders runs.
SECOND = run("86327630-527f-44f3-a2ad-9d894dfd87a1", "2026-12-02T09:00:00.5Z", events=2)
THIRD = run("0dccd82c-0c7c-4dab-a023-0bab95f201bf", "2026-12-02T09:00:00.500000001Z")
FINAL = {
    "ticket_id": "T-1",
    "workflow_id": "ticket-T-1",
    "run_id": THIRD["run_id"],
    "archived_at": "2026-12-02T10:00:01+00:00",
    "final_state": {"status": "closed"},
    "opened_with": {"customer_id": "acme", "title": "Printer on fire", "priority": "P1"},
}


def shown(*runs: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs as the assembled document shows them."""
    return [{"run_id": r["run_id"], "events": r["events"], "raw": r["raw"]} for r in runs]


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
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A bucket of the test's own, so no test reads another's archive."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"slaflow-archive-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def archive_url(s3_endpoint: str, bucket: str) -> str:
    return f"s3://{bucket}/tickets/v1?endpoint_url={s3_endpoint}&region=us-east-1"


@pytest.fixture(params=["directory", "s3"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveStore:
    if request.param == "directory":
        return Archive(tmp_path / "archive")
    return S3Archive(request.getfixturevalue("archive_url"))


def test_runs_and_the_final_state_read_as_one_document_oldest_run_first(
    archive: ArchiveStore,
) -> None:
    for one in (THIRD, FIRST, SECOND):  # archived in any order
        archive.write_run("T-1", one)
    archive.write_final("T-1", FINAL)
    assert archive.read("T-1") == {
        "ticket_id": "T-1",
        "workflow_id": "ticket-T-1",
        "archived_at": FINAL["archived_at"],
        "final_state": {"status": "closed"},
        "runs": shown(FIRST, SECOND, THIRD),
    }
    assert archive.final("T-1") == FINAL
    assert archive.runs("T-1") == [FIRST, SECOND, THIRD]


def test_a_live_ticket_has_its_ended_runs_and_no_final_state(archive: ArchiveStore) -> None:
    archive.write_run("T-1", FIRST)
    assert archive.final("T-1") is None
    document = archive.read("T-1")
    assert document is not None
    assert document["final_state"] is None
    assert document["runs"] == shown(FIRST)
    assert document["workflow_id"] == "ticket-T-1"


def test_a_run_archived_again_replaces_only_itself(archive: ArchiveStore) -> None:
    archive.write_run("T-1", FIRST)
    archive.write_run("T-1", SECOND)
    again = {**FIRST, "archived_at": "2026-12-03T00:00:00+00:00"}
    archive.write_run("T-1", again)
    assert archive.runs("T-1") == [again, SECOND]


def test_reading_a_missing_ticket_gives_none(archive: ArchiveStore) -> None:
    assert archive.read("never-archived") is None
    assert archive.final("never-archived") is None
    assert archive.runs("never-archived") == []


def test_ids_that_prefix_each_other_stay_apart(archive: ArchiveStore) -> None:
    archive.write_run("T-1", FIRST)
    archive.write_run("T-10", SECOND)
    assert archive.runs("T-1") == [FIRST]
    assert archive.runs("T-10") == [SECOND]


def test_runs_of_one_ticket_archived_at_once_all_land(archive: ArchiveStore) -> None:
    """Runs are archived each by its own workflow: after an archive outage they all retry
    together. No read-modify-write, so none is lost."""
    runs = [run(f"run-{n:02d}", f"2026-12-02T09:00:{n:02d}Z") for n in range(16)]
    barrier = threading.Barrier(len(runs))

    def write(one: dict[str, Any]) -> None:
        barrier.wait()
        archive.write_run("T-1", one)

    threads = [threading.Thread(target=write, args=(one,)) for one in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert archive.runs("T-1") == runs


def test_run_names_sort_by_start_to_the_nanosecond() -> None:
    names = [run_name(r) for r in (FIRST, SECOND, THIRD)]
    assert names == sorted(names)
    assert names[0] == "20261202T090000.000000000Z-01a238cb-68ae-738d-a11b-c58053298609.json"
    assert names[1].startswith("20261202T090000.500000000Z-")


@pytest.mark.parametrize(
    "bad",
    [
        {"run_id": "../x", "started_at": "2026-12-02T09:00:00Z"},
        {"run_id": "r1", "started_at": "2026-12-02T09:00:00+01:00"},
        {"run_id": "r1", "started_at": "yesterday"},
        {"run_id": "r1"},
    ],
)
def test_a_run_without_a_safe_id_and_a_utc_start_is_refused(
    bad: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(ValueError):
        Archive(tmp_path / "archive").write_run("T-1", bad)
    assert not (tmp_path / "archive").exists()


def test_s3_objects_are_under_the_prefix(archive_url: str, s3_endpoint: str, bucket: str) -> None:
    archive = S3Archive(archive_url)
    location = archive.write_run("T-2", FIRST)
    assert location == f"s3://{bucket}/tickets/v1/T-2/runs/{run_name(FIRST)}"
    assert archive.write_final("T-2", FINAL) == f"s3://{bucket}/tickets/v1/T-2/final.json"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    body = s3.get_object(Bucket=bucket, Key="tickets/v1/T-2/final.json")["Body"].read()
    assert body.startswith(b'{"ticket_id":"T-1"')


def test_s3_without_a_prefix(s3_endpoint: str, bucket: str) -> None:
    archive = S3Archive(f"s3://{bucket}?endpoint_url={s3_endpoint}")
    assert archive.key("T-3", "final.json") == "T-3/final.json"
    archive.write_run("T-3", FIRST)
    archive.write_final("T-3", FINAL)
    assert archive.read("T-3") == {
        "ticket_id": "T-3",
        "workflow_id": "ticket-T-1",
        "archived_at": FINAL["archived_at"],
        "final_state": FINAL["final_state"],
        "runs": shown(FIRST),
    }


@pytest.mark.parametrize("ticket_id", UNSAFE_IDS)
def test_unsafe_ids_are_refused_before_any_io(
    ticket_id: str, archive_url: str, tmp_path: Path
) -> None:
    directory = Archive(tmp_path / "archive")
    s3 = S3Archive(archive_url)
    with mock.patch.object(s3, "_client") as client:
        for archive in (directory, s3):
            calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
                (archive.write_run, (ticket_id, FIRST)),
                (archive.write_final, (ticket_id, FINAL)),
                (archive.runs, (ticket_id,)),
                (archive.final, (ticket_id,)),
                (archive.read, (ticket_id,)),
            ]
            for method, args in calls:
                with pytest.raises(ValueError, match="not a ticket id"):
                    method(*args)
    assert client.mock_calls == []
    assert not (tmp_path / "archive").exists()


def test_a_directory_write_leaves_no_temp_files(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    for _ in range(3):
        archive.write_run("T-1", FIRST)
        archive.write_final("T-1", FINAL)
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["T-1/final.json", f"T-1/runs/{run_name(FIRST)}"]


def test_a_failed_directory_write_leaves_no_temp_files(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    with pytest.raises(TypeError):
        archive.write_run("T-1", {**FIRST, "unserializable": object()})
    with pytest.raises(TypeError):
        archive.write_final("T-1", {"unserializable": object()})
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_reader_never_sees_a_half_written_directory_file(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    big = {**FIRST, "events": ["x" * 512] * 4000}  # about 2 MB of JSON
    seen: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                seen.append(archive.runs("T-big"))
        except BaseException as exc:  # a JSONDecodeError would mean a torn read
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(10):
            archive.write_run("T-big", big)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert seen and all(runs in ([], [big]) for runs in seen)
    assert any(runs == [big] for runs in seen)
    assert [p.name for p in (tmp_path / "T-big" / "runs").iterdir()] == [run_name(big)]


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
