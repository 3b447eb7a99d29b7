"""A throwaway PostgreSQL server on a free loopback port (Debian's postgresql package)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port


def _postgres_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def installed() -> bool:
    return _postgres_binary("initdb") is not None and _postgres_binary("pg_ctl") is not None


class PostgresServer:
    """A cluster of the test's own: `stop()` and `start()` it to play a database outage."""

    def __init__(self, root: Path) -> None:
        initdb, self._pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
        assert initdb and self._pg_ctl, "PostgreSQL server binaries not installed"
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            account = pwd.getpwnam("postgres")
            os.chmod(root, 0o755)
            os.chown(root, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.root, self.data, self.port = root, root / "data", free_port()
        subprocess.run(
            [*self._as_user, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        # SQLAlchemy's URL, user postgres without a password.
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, check: bool = True) -> None:
        assert self._pg_ctl is not None
        command = [*self._as_user, self._pg_ctl, "-D", str(self.data), *args]
        subprocess.run(command, check=check, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends open connections, as a database shut down under a running stack."""
        self._ctl("-m", mode, "-w", "stop", check=False)


@contextmanager
def stoppable_postgres() -> Iterator[PostgresServer]:
    """A new cluster, started, while the block runs. Needs `installed()`."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="slaflow-pg-")))
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(server.root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A new cluster while the block runs; yields its SQLAlchemy URL (user postgres, no
    password). Needs `installed()`."""
    with stoppable_postgres() as server:
        yield server.url
