"""The store on both of its databases: a SQLite file, and a real PostgreSQL server
(tests/conftest.py's `postgres_url`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store.at(tmp_path / "store.sqlite3")
    else:
        opened = Store(request.getfixturevalue("postgres_url"))
        _empty(opened)
    yield opened
    opened.close()


def _empty(store: Store) -> None:
    from store.models import Base

    with store.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
