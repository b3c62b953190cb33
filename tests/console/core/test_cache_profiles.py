"""The cache's folding, retention and clearing; profiles; the role mirror; the dialogs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pytestqt.qtbot import QtBot

from opsconsole.console import roles
from opsconsole.console.cache import Cache
from opsconsole.console.dialogs.fingerprint import FingerprintDialog
from opsconsole.console.dialogs.login import LoginDialog, log_in
from opsconsole.console.dialogs.stepup import StepUpDialog
from opsconsole.console.profiles import Profile, ProfileError, ProfileStore
from opsconsole.console.qt import QApplication, QTimer
from opsconsole.console.settings import CACHE_RETENTION_DAYS, ConsoleSettings
from opsconsole.console.trust import describe_der
from opsconsole.server.permissions import ROLE_PERMISSIONS
from opsconsole.wire.alerts import Alert
from opsconsole.wire.metrics import Counts, Latency, MetricsSnapshot, SeriesStep
from tests.console.conftest import TlsServer, until
from tests.console.core.helpers import drive, make_connection
from tests.live import DEFAULT_PASSWORD

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _snapshot(at: datetime, requests: int, cost: float, p95: float) -> MetricsSnapshot:
    counts = Counts(
        requests=requests,
        admits=requests,
        reports=requests,
        errors=1,
        cost=cost,
        latency_ms=Latency(p50=p95 / 2, p95=p95, p99=p95),
    )
    return MetricsSnapshot(at=at, total=counts, providers={"gpt-4o": counts})


def test_snapshots_fold_into_minutes_and_make_series(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = Cache(tmp_path / "c.sqlite")
    for second in range(120):  # two minutes of per-second snapshots
        cache.put_snapshot(_snapshot(T0 + timedelta(seconds=second), 2, 0.01, 100.0 + second))
    requests = cache.series("requests", SeriesStep.MINUTE, T0, T0 + timedelta(hours=1))
    assert [(p.at, p.value) for p in requests.points] == [
        (T0, 120.0),
        (T0 + timedelta(minutes=1), 120.0),
    ]
    p95 = cache.series("latency_p95", SeriesStep.MINUTE, T0, T0 + timedelta(hours=1))
    assert [p.value for p in p95.points] == [159.0, 219.0]  # highest of each minute
    hourly = cache.series("cost", SeriesStep.HOUR, T0, T0 + timedelta(hours=1), provider="gpt-4o")
    assert len(hourly.points) == 1 and hourly.points[0].value == pytest.approx(1.2)
    rate = cache.series("error_rate", SeriesStep.MINUTE, T0, T0 + timedelta(minutes=1))
    assert rate.points[0].value == pytest.approx(0.5)
    assert cache.data_as_of() is not None
    cache.close()


def test_retention_drops_old_rows_and_clear_empties(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = Cache(tmp_path / "c.sqlite", retention_days=30)
    cache.put_snapshot(_snapshot(T0 - timedelta(days=40), 1, 0.1, 10))
    cache.put_snapshot(_snapshot(T0 - timedelta(days=2), 1, 0.1, 10))
    old_alert = Alert.model_validate(
        {
            "id": 1,
            "rule": "r",
            "kind": "error_rate",
            "severity": "warning",
            "subject": "total",
            "state": "resolved",
            "summary": "old",
            "pending_since": T0 - timedelta(days=45),
            "resolved_at": T0 - timedelta(days=44),
        }
    )
    cache.put_alerts([old_alert])
    assert cache.prune(now=T0) >= 3  # the old minute (total + provider) and the alert
    window = cache.series("requests", SeriesStep.DAY, T0 - timedelta(days=60), T0)
    assert len(window.points) == 1
    assert cache.alerts() == []
    cache.clear()
    assert cache.series("requests", SeriesStep.DAY, T0 - timedelta(days=60), T0).points == []
    assert cache.data_as_of() is None
    cache.close()


def test_settings_are_declared_with_defaults() -> None:
    settings = ConsoleSettings()
    assert settings.get(CACHE_RETENTION_DAYS) == 30
    settings.set(CACHE_RETENTION_DAYS, 7)
    assert ConsoleSettings().get(CACHE_RETENTION_DAYS) == 7


def test_profiles_are_kept_with_colours_and_chosen_by_name() -> None:
    store = ProfileStore(ConsoleSettings())
    with pytest.raises(ProfileError, match="no connection profile"):
        store.choose(None)
    store.save(Profile("prod", "https://ops.example.com:8443", colour="#c62828"))
    store.save(Profile("staging", "https://staging.example.com:8443", colour="#1565c0"))
    assert store.choose("staging").colour == "#1565c0"
    with pytest.raises(ProfileError, match="several profiles"):
        store.choose(None)
    store.remember(store.choose("prod"))
    assert ProfileStore(ConsoleSettings()).choose(None).name == "prod"
    with pytest.raises(ProfileError, match="known: prod, staging"):
        store.choose("qa")
    with pytest.raises(ProfileError):
        store.save(Profile("Bad Name", "https://x"))


def test_the_role_mirror_matches_the_server() -> None:
    assert {role: set(p) for role, p in roles.ROLE_PERMISSIONS.items()} == {
        role: {str(p) for p in perms} for role, perms in ROLE_PERMISSIONS.items()
    }
    assert roles.needs("controls:write") == "Needs the oncall or admin role."


def test_the_login_dialog_asks_for_the_code_when_totp_is_required(
    tls_server: TlsServer, loop: asyncio.AbstractEventLoop, qtbot: QtBot, memory_keyring: object
) -> None:
    tls_server.create_operator("alice")
    connection, _, _ = make_connection(tls_server)
    attempts = ["wrong password!", DEFAULT_PASSWORD]
    messages: list[str] = []

    def answer() -> None:
        shown = [
            w
            for w in QApplication.topLevelWidgets()
            if w.objectName() == "loginDialog" and w.isVisible()
        ]
        if not shown or not attempts:
            return
        dialog = shown[0]
        assert isinstance(dialog, LoginDialog)
        if dialog.message.isVisible():
            messages.append(dialog.message.text())
        dialog.username.setText("alice")
        dialog.password.setText(attempts.pop(0))
        dialog.accept()

    result: list[bool] = []

    async def scenario() -> None:
        timer = QTimer()
        timer.timeout.connect(answer)
        timer.start(100)
        result.append(await log_in(connection))
        timer.stop()
        await until(lambda: connection.operator is not None)

    drive(loop, scenario, connection)
    assert result == [True]
    assert messages == ["Wrong username or password."]


def test_the_step_up_dialog_builds_the_request(qtbot: QtBot) -> None:
    dialog = StepUpDialog("needs step-up", totp_enrolled=True)
    qtbot.addWidget(dialog)
    dialog.totp.setText("123456")
    request = dialog.request()
    assert request is not None and request.totp == "123456" and request.password is None
    dialog.totp.setText("")
    dialog.password.setText("secret")
    assert dialog.request() == type(request)(password="secret")


def test_the_fingerprint_dialog_shows_the_fingerprint(qtbot: QtBot, tls_server: TlsServer) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(tls_server.cert.cert_path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    presented = describe_der(der)
    dialog = FingerprintDialog(Profile("prod", tls_server.url, "#c62828"), presented)
    qtbot.addWidget(dialog)
    shown = dialog.fingerprint.text().replace("\u200b", "")
    assert shown == tls_server.cert.fingerprint
    assert not dialog.trust_button.isDefault()  # Enter does not trust by accident
