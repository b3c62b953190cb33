"""The certificate fingerprint flow: first contact asks, a confirmed pin is kept and is the
only certificate trusted, a changed certificate is refused with a warning."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest

from opsconsole.console.connection import ConnectionState, OfflineError
from opsconsole.console.profiles import ProfileStore
from opsconsole.console.settings import ConsoleSettings
from opsconsole.console.trust import fingerprint_pem, pinned_context
from tests.console.conftest import TlsServer, until
from tests.console.core.helpers import drive, make_connection
from tests.live import DEFAULT_PASSWORD

pytestmark = pytest.mark.usefixtures("memory_keyring")


def test_first_contact_asks_and_the_confirmed_certificate_is_pinned(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    tls_server.create_operator("alice")
    connection, _, recorder = make_connection(tls_server)

    async def scenario() -> None:
        await connection.login("alice", DEFAULT_PASSWORD)

    drive(loop, scenario, connection)
    # The operator saw the very fingerprint `opsconsole serve` prints for this certificate.
    assert [c.fingerprint for c in recorder.shown] == [tls_server.cert.fingerprint]
    stored = ProfileStore(ConsoleSettings()).get("test")
    assert stored is not None and stored.pinned_pem is not None
    assert fingerprint_pem(stored.pinned_pem) == tls_server.cert.fingerprint


def test_declining_the_certificate_sends_nothing(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    tls_server.create_operator("alice")
    connection, _, recorder = make_connection(tls_server, trust_answer=False)

    async def scenario() -> None:
        await connection.start()
        await until(lambda: connection.status.state is ConnectionState.OFFLINE)
        assert "not confirmed" in connection.status.detail

    drive(loop, scenario, connection)
    assert len(recorder.shown) == 1
    stored = ProfileStore(ConsoleSettings()).get("test")
    assert stored is not None and stored.pinned_pem is None


def test_a_changed_certificate_is_refused_with_a_warning(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop
) -> None:
    tls_server.create_operator("alice")
    old_pin = tls_server.cert.cert_path.read_text()
    tls_server.stop()
    tls_server.replace_certificate()
    tls_server.start()
    connection, _, recorder = make_connection(tls_server, pin=old_pin)
    warnings: list[str] = []
    connection.certificate_refused.connect(warnings.append)

    async def scenario() -> None:
        await connection.start()
        await until(lambda: bool(warnings), what="the refusal")
        assert not connection.online
        with pytest.raises(OfflineError):
            await connection.login("alice", DEFAULT_PASSWORD)

    drive(loop, scenario, connection)
    assert recorder.shown == []  # never offered to trust the new one
    assert "CHANGED" in warnings[0]
    assert fingerprint_pem(old_pin) in warnings[0]
    assert tls_server.cert.fingerprint in warnings[0]
    stored = ProfileStore(ConsoleSettings()).get("test")
    assert stored is not None and stored.pinned_pem == old_pin  # the pin is kept


def test_the_pinned_context_trusts_that_certificate_only(tls_server: TlsServer) -> None:
    pem = tls_server.cert.cert_path.read_text()
    with httpx.Client(verify=pinned_context(pem)) as client:
        assert client.get(f"{tls_server.url}/healthz").status_code == 200
    tls_server.stop()
    tls_server.replace_certificate()
    tls_server.start()
    with httpx.Client(verify=pinned_context(pem)) as client, pytest.raises(httpx.ConnectError) as e:
        client.get(f"{tls_server.url}/healthz")
    assert isinstance(e.value.__context__, ssl.SSLCertVerificationError) or "CERTIFICATE" in str(
        e.value
    )
