"""SMTP servers for the e-mail tests, plain or TLS with a trustme CA that the process's trust
store (SSL_CERT_FILE, which `ssl.create_default_context()` reads) holds for the test."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.support.mail import Inbox


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server side TLS context with a certificate for 127.0.0.1 issued by `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def trusted_tls(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """Makes `ca` the only CA slaflow trusts for this test; a server context it vouches for."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    return server_context(ca)


@pytest.fixture
def untrusted_tls() -> ssl.SSLContext:
    """A server side context whose certificate no trust store here vouches for."""
    return server_context(trustme.CA())


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Inbox]]:
    """Starts SMTP servers: `smtp_server(tls=context)` (the arguments of `Inbox`); each is
    stopped after the test."""
    started: list[Inbox] = []

    def start(**options: Any) -> Inbox:
        started.append(Inbox(**options))
        return started[-1]

    yield start
    for inbox in started:
        inbox.close()
