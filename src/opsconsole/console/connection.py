"""The console's one client of the control plane: REST, the live stream, trust and offline.

`Connection` owns an ``httpx.AsyncClient`` and the ``WS /v1/stream`` client, both verifying
the server against the certificate pinned for the profile (trust.py). It turns stream
messages into Qt signals, keeps what it sees in the local cache, reconnects with capped
exponential backoff and full jitter, resumes the stream from its last sequence number, and
when the server cannot be reached serves reads from the cache and refuses writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

import opsconsole
from opsconsole.console import roles, trust
from opsconsole.console.cache import Cache
from opsconsole.console.profiles import Profile
from opsconsole.console.qt import QObject, Signal
from opsconsole.console.tokens import TokenStore
from opsconsole.wire.alerts import Alert, AlertState, Silence, SilenceRequest
from opsconsole.wire.audit import AuditEntry
from opsconsole.wire.auth import LoginResponse, MeResponse, OperatorPublic, StepUpRequest
from opsconsole.wire.common import MAX_PAGE_SIZE, Page
from opsconsole.wire.gate import (
    BreakerAction,
    ProviderPublic,
    SwitchName,
    SwitchPublic,
    SwitchUpdate,
)
from opsconsole.wire.metrics import ProviderHealth, Series, SeriesStep, Summary
from opsconsole.wire.stream import (
    AlertMessage,
    AuditMessage,
    ByeMessage,
    DroppedMessage,
    HealthMessage,
    Hello,
    ReloadMessage,
    SnapshotMessage,
    StreamMessage,
    SwitchMessage,
    TicketMessage,
    UserMessage,
    parse_message,
)
from opsconsole.wire.tickets import TicketDetail, TicketPublic
from opsconsole.wire.users import UserPublic

log = logging.getLogger("opsconsole.console.connection")

T = TypeVar("T")
# A request gets this many times the request timeout in all before it is abandoned.
HARD_DEADLINE_FACTOR = 1.5

# Transport failures that mean "the server cannot be reached right now".
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    OSError,
    TimeoutError,
    WebSocketException,
)


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    SESSION_EXPIRED = "session_expired"


@dataclass(frozen=True)
class ConnectionStatus:
    state: ConnectionState
    retry_in_s: float | None = None  # RECONNECTING: next attempt in N s
    offline_since: datetime | None = None
    data_as_of: datetime | None = None  # newest cached data, for the "data as of" marker
    detail: str = ""

    def describe(self) -> str:
        """One line for a status bar: connected / reconnecting in N s / offline since HH:MM."""
        parts: list[str] = []
        if self.state is ConnectionState.CONNECTED:
            parts.append("connected")
        elif self.state is ConnectionState.CONNECTING:
            parts.append("connecting")
        elif self.state is ConnectionState.SESSION_EXPIRED:
            parts.append("session expired: log in again")
        elif self.state is ConnectionState.RECONNECTING and self.offline_since is None:
            parts.append(f"reconnecting in {self.retry_in_s or 0:.0f} s")
        else:
            since = f" since {_hhmm(self.offline_since)}" if self.offline_since else ""
            parts.append(f"offline{since}")
            if self.retry_in_s is not None:
                parts.append(f"reconnecting in {self.retry_in_s:.0f} s")
            if self.data_as_of is not None:
                parts.append(f"data as of {_hhmm(self.data_as_of)}")
        if self.detail:
            parts.append(self.detail)
        return " · ".join(parts)


def _hhmm(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


class ApiError(Exception):
    """A request the server refused, from its RFC 9457 problem details."""

    def __init__(self, status: int, title: str, detail: str, *, kind: str = "") -> None:
        super().__init__(f"{title}: {detail}" if detail else title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        kind = str(body.get("type", "")).rsplit("/", 1)[-1]
        title = str(body.get("title") or response.reason_phrase or "Error")
        detail = str(body.get("detail") or response.text[:200])
        error_type = SessionExpiredError if response.status_code == 401 else ApiError
        return error_type(response.status_code, title, detail, kind=kind)


class OfflineError(ApiError):
    """A write while the server cannot be reached: refused, never queued."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, "Offline", detail, kind="offline")


class SessionExpiredError(ApiError):
    """The server no longer accepts the session token (401)."""


class StreamUnavailableError(Exception):
    """The server has no live stream to offer (yet): REST works, live updates do not."""


class TrustRefusedError(Exception):
    """The operator did not confirm the server's certificate: nothing is sent to it."""


# The app installs these: the connection asks, the dialogs answer.
StepUpPrompt = Callable[[str, bool], Awaitable[StepUpRequest | None]]  # (detail, totp_enrolled)
TrustPrompt = Callable[[trust.PeerCertificate], Awaitable[bool]]
PinSaver = Callable[[Profile], None]


class Connection(QObject):
    """REST and stream client of one profile's control plane.

    Signals:
        status_changed(ConnectionStatus)
        snapshot_received(wire.metrics.MetricsSnapshot)
        health_changed(wire.stream.HealthChange)
        alert_received(wire.alerts.Alert)
        switch_changed(wire.stream.SwitchChange): any operator's change, incl. automation
        audit_received(wire.audit.AuditEntry)
        ticket_changed(wire.tickets.TicketPublic)
        user_changed(wire.stream.UserChange)
        reload_required(): what was missed cannot be replayed; refetch state over REST
        certificate_refused(str): the server presented another certificate; the warning
    """

    status_changed = Signal(object)
    snapshot_received = Signal(object)
    health_changed = Signal(object)
    alert_received = Signal(object)
    switch_changed = Signal(object)
    audit_received = Signal(object)
    ticket_changed = Signal(object)
    user_changed = Signal(object)
    reload_required = Signal()
    certificate_refused = Signal(str)

    def __init__(
        self,
        profile: Profile,
        *,
        cache: Cache,
        tokens: TokenStore | None = None,
        offline: bool = False,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        request_timeout_s: float = 10.0,
        rng: random.Random | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.profile = profile
        self.cache = cache
        self.tokens = tokens or TokenStore()
        self.operator: OperatorPublic | None = None
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._timeout = request_timeout_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._offline_only = offline
        self._token: str | None = None if offline else self.tokens.get(profile.name)
        self._step_up_prompt: StepUpPrompt | None = None
        self._trust_prompt: TrustPrompt | None = None
        self._pin_saver: PinSaver | None = None
        self._ssl: ssl.SSLContext | None = None
        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._online = False
        self._reload_pending = False
        self._last_seq: int | None = None
        self._epoch: str | None = None
        self._cache_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-cache")
        self._data_as_of = cache.data_as_of()
        self.status = ConnectionStatus(
            ConnectionState.OFFLINE if offline else ConnectionState.CONNECTING,
            offline_since=None,
            data_as_of=self._data_as_of,
            detail="opened offline (--offline): nothing is sent to the server" if offline else "",
        )

    # --- set-up ---------------------------------------------------------------------------

    def set_step_up_prompt(self, prompt: StepUpPrompt | None) -> None:
        """What asks the operator for a TOTP code or password when the server wants a step-up."""
        self._step_up_prompt = prompt

    def set_trust_prompt(self, prompt: TrustPrompt | None, saver: PinSaver | None = None) -> None:
        """What shows a new certificate's fingerprint for confirmation, and keeps the pin."""
        self._trust_prompt = prompt
        self._pin_saver = saver

    @property
    def online(self) -> bool:
        return self._online

    @property
    def token(self) -> str | None:
        """The session token (kept in the keyring or memory: never in the settings or cache)."""
        return self._token

    def can(self, permission: str) -> bool:
        if self.operator is None:
            return False
        if self.operator.permissions:
            return permission in self.operator.permissions
        return permission in roles.ROLE_PERMISSIONS[self.operator.role]

    def why_not(self, permission: str) -> str:
        if not self.online:
            return "Offline: actions need the server, and are never queued."
        if self.operator is None:
            return "Log in first."
        if self.can(permission):
            return ""
        return f"{roles.needs(permission)} (you are {self.operator.role.value})"

    async def start(self) -> None:
        """Start connecting (and keep reconnecting) in the background; returns at once."""
        if self._offline_only or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name=f"connection-{self.profile.name}")

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Until the REST side answers (or timeout): True when online."""
        async with asyncio.timeout(timeout):
            while not self._online:
                await asyncio.sleep(0.02)
        return True

    async def login(self, username: str, password: str, totp: str | None = None) -> OperatorPublic:
        """Log in (first time or after expiry); the token goes to the keyring or memory."""
        if self._offline_only:
            raise OfflineError("Opened with --offline: there is no server to log in to.")
        body: dict[str, Any] = {"username": username, "password": password}
        if totp:
            body["totp"] = totp
        try:
            await self._ensure_trust()
            response = await self._client().post("/v1/auth/login", json=body)
        except NETWORK_ERRORS as error:
            raise OfflineError(f"The server cannot be reached: {_why(error)}") from error
        except (trust.TrustError, TrustRefusedError) as error:
            raise OfflineError(str(error)) from error
        if response.status_code != 200:
            error_ = ApiError.from_response(response)
            raise ApiError(error_.status, error_.title, error_.detail, kind=error_.kind)
        result = LoginResponse.model_validate(response.json())
        self._set_token(result.token)
        self.operator = result.operator
        if self.profile.username != username:
            self.profile = replace(self.profile, username=username)
            if self._pin_saver is not None:
                self._pin_saver(self.profile)
        if self.status.state is ConnectionState.SESSION_EXPIRED:
            self._set_status(ConnectionState.CONNECTING)
        self._wake.set()  # the loop waits for a new session
        return result.operator

    def use_token(self, token: str) -> None:
        """Adopt a token obtained elsewhere (the demo logs in for the operator)."""
        self._set_token(token)
        self._wake.set()

    async def logout(self) -> None:
        if self._token and self._online:
            with contextlib.suppress(ApiError, *NETWORK_ERRORS):
                await self._call("POST", "/v1/auth/logout")
        self.tokens.delete(self.profile.name)
        self._token = None

    async def close(self) -> None:
        """Stop the stream and the reconnect loop, close the clients and the cache."""
        self._closing = True
        self._wake.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await asyncio.get_running_loop().run_in_executor(self._cache_pool, self.cache.close)
        self._cache_pool.shutdown(wait=True)

    # --- reads (online: the server, kept in the cache; offline: the cache) ----------------

    async def summary(self) -> Summary:
        result = await self._read(
            "/v1/metrics/summary", Summary, store=self.cache.put_summary, cached=self.cache.summary
        )
        assert isinstance(result, Summary)
        return result

    async def series(
        self,
        metric: str,
        step: SeriesStep,
        start: datetime,
        end: datetime,
        *,
        provider: str | None = None,
        tier: str | None = None,
    ) -> Series:
        params: dict[str, Any] = {
            "metric": metric,
            "step": step.value,
            "from": start.isoformat(),
            "to": end.isoformat(),
        }
        if provider:
            params["provider"] = provider
        if tier:
            params["tier"] = tier
        result = await self._read(
            "/v1/metrics/series",
            Series,
            params=params,
            store=self.cache.put_series,
            cached=partial(
                self.cache.series, metric, step, start, end, provider=provider, tier=tier
            ),
        )
        assert isinstance(result, Series)
        return result

    async def providers(self) -> list[ProviderPublic]:
        result: list[ProviderPublic] = await self._read(
            "/v1/providers",
            list[ProviderPublic],
            store=self.cache.put_providers,
            cached=self.cache.providers,
        )
        return result

    async def health(self) -> list[ProviderHealth]:
        result: list[ProviderHealth] = await self._read(
            "/v1/metrics/health",
            list[ProviderHealth],
            store=self.cache.put_health,
            cached=self.cache.health,
        )
        return result

    async def controls(self) -> list[SwitchPublic]:
        result: list[SwitchPublic] = await self._read(
            "/v1/controls",
            list[SwitchPublic],
            store=self.cache.put_controls,
            cached=self.cache.controls,
        )
        return result

    async def alerts(self, *, state: AlertState | None = None) -> list[Alert]:
        """The newest alerts (one page of up to 500), optionally of one state."""
        params: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
        if state:
            params["state"] = state.value
        page: Page[Alert] = await self._read(
            "/v1/alerts",
            Page[Alert],
            params=params,
            store=lambda page: self.cache.put_alerts(page.items),
            cached=lambda: Page[Alert](items=self.cache.alerts(state=state)),
        )
        return page.items

    async def get(self, path: str, model: Any, *, params: dict[str, Any] | None = None) -> Any:
        """Any other read, typed by ``model`` (a pydantic model or e.g. ``Page[UserPublic]``).

        What it returns is kept by URL, so a user or ticket the operator viewed, or a page of
        audit rows, can be shown again offline.
        """
        key = path + ("?" + urlencode(sorted(params.items()), doseq=True) if params else "")
        adapter: TypeAdapter[Any] = TypeAdapter(model)

        def store(value: Any) -> None:
            self.cache.put_response(key, adapter.dump_python(value, mode="json"))
            _index(self.cache, value)

        def cached() -> Any:
            raw = self.cache.response(key)
            return None if raw is None else adapter.validate_python(raw)

        return await self._read(path, model, params=params, store=store, cached=cached)

    # --- writes (online only; step-up handled here) --------------------------------------

    async def set_switch(self, name: SwitchName, update: SwitchUpdate) -> SwitchPublic:
        result = await self.send(
            "PUT", f"/v1/controls/{name.value}", json=_body(update), model=SwitchPublic
        )
        assert isinstance(result, SwitchPublic)
        await self._in_cache(self.cache.put_controls, [result])
        return result

    async def breaker_action(self, provider: str, action: BreakerAction) -> ProviderPublic:
        result = await self.send(
            "POST", f"/v1/providers/{provider}/breaker", json=_body(action), model=ProviderPublic
        )
        assert isinstance(result, ProviderPublic)
        await self._in_cache(self.cache.put_providers, [result])
        return result

    async def ack_alert(self, alert_id: int, comment: str) -> Alert:
        result = await self.send(
            "POST", f"/v1/alerts/{alert_id}/ack", json={"comment": comment}, model=Alert
        )
        assert isinstance(result, Alert)
        await self._in_cache(self.cache.put_alerts, [result])
        return result

    async def silence(self, request: SilenceRequest) -> Silence:
        result = await self.send("POST", "/v1/silences", json=_body(request), model=Silence)
        assert isinstance(result, Silence)
        return result

    async def send(
        self, method: str, path: str, *, json: Any = None, model: Any | None = None
    ) -> Any:
        """A change on the server. Offline it raises OfflineError: nothing is queued."""
        if not self._online:
            raise OfflineError(
                "The server cannot be reached, so this action was not sent. "
                "Actions are never queued: try again when the console is back online."
            )
        try:
            response = await self._call(method, path, json=json, step_up=True)
        except httpx.ConnectError as error:
            self._went_offline(_why(error))
            raise OfflineError(
                f"The server cannot be reached ({_why(error)}); the action was not sent."
            ) from error
        except NETWORK_ERRORS as error:
            self._went_offline(_why(error))
            raise OfflineError(
                f"The connection failed during the action ({_why(error)}): it may or may not "
                "have been applied. Check its state once the console is back online."
            ) from error
        if model is None or response.status_code == 204 or not response.content:
            return None
        return TypeAdapter(model).validate_python(response.json())

    # --- the reconnect loop and the stream ------------------------------------------------

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        bound = min(self.backoff_cap_s, self.backoff_base_s * (2 ** min(attempt, 30)))
        return self._rng.uniform(0, bound)

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            if self._expired():
                await self._wait_for_session()
                continue
            delay: float | None = None
            try:
                await self._ensure_trust()
                if self._token is None:
                    raise SessionExpiredError(401, "Log in", "No session yet.")
                me = MeResponse.model_validate((await self._call("GET", "/v1/auth/me")).json())
                self.operator = me.operator
                self._back_online()
                attempt = 0 if await self._stream_session() else attempt
            except SessionExpiredError as error:
                self._expire(error.detail)
                continue
            except trust.CertificateChanged as error:
                self._went_offline("certificate changed: refused")
                self.certificate_refused.emit(str(error))
                delay = self.backoff_cap_s
            except TrustRefusedError as error:
                self._went_offline(str(error), retry=False)
                return
            except StreamUnavailableError as error:
                log.warning("no live stream: %s", error)
                self._set_status(ConnectionState.CONNECTED, detail=f"no live updates: {error}")
                delay = self.backoff_cap_s
            except NETWORK_ERRORS as error:
                log.info("server unreachable: %s", _why(error))
                self._went_offline(_why(error))
            except ApiError as error:
                log.warning("server refused the connection: %s", error)
                self._went_offline(str(error))
            if self._expired():
                continue  # a REST call found the session dead meanwhile
            if delay is None:
                delay = self.backoff(attempt)
                attempt += 1
            await self._wait_retry(delay)

    async def _stream_session(self) -> bool:
        """One stream connection, until it ends. True when it got as far as the hello."""
        url = self._stream_url()
        headers = {"Authorization": f"Bearer {self._token}"}
        greeted = False
        try:
            async with connect(
                url,
                additional_headers=headers,
                ssl=self._ssl if url.startswith("wss:") else None,
                proxy=None,
                open_timeout=self._timeout,
                max_size=8 * 1024 * 1024,
                user_agent_header=f"opsconsole-console/{opsconsole.__version__}",
            ) as ws:
                self._ws = ws
                async for raw in ws:
                    try:
                        message = parse_message(raw)
                    except ValidationError as error:
                        log.warning("stream message not understood, skipped: %s", error)
                        continue
                    greeted = greeted or isinstance(message, Hello)
                    self._dispatch(message)
        except InvalidStatus as error:
            status = error.response.status_code
            if status == 401:
                raise SessionExpiredError(
                    401, "Session expired", "The stream refused the token."
                ) from error
            if status in {403, 404}:
                raise StreamUnavailableError(
                    f"the server answered {status} to /v1/stream"
                ) from error
            raise
        finally:
            self._ws = None
        return greeted

    def _stream_url(self) -> str:
        parts = urlsplit(self.profile.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query: dict[str, str] = {}
        if self._last_seq is not None:
            query["since"] = str(self._last_seq)
            if self._epoch:
                query["epoch"] = self._epoch
        return urlunsplit((scheme, parts.netloc, "/v1/stream", urlencode(query), ""))

    def _dispatch(self, message: StreamMessage) -> None:
        if isinstance(message, Hello):
            resuming = self._last_seq is not None
            epoch = message.data.get("epoch")
            resumed = bool(message.data.get("resumed"))
            self._epoch = str(epoch) if epoch else None
            if not resumed:
                self._last_seq = message.seq
            log.info("stream open (resumed=%s, seq=%s)", resumed, message.seq)
            self._set_status(ConnectionState.CONNECTED)
            if (resuming and not resumed) or self._reload_pending:
                self._reload_pending = False
                self.reload_required.emit()
            return
        self._last_seq = max(self._last_seq or 0, message.seq)
        if isinstance(message, SnapshotMessage):
            self._remember(self.cache.put_snapshot, message.data)
            self.snapshot_received.emit(message.data)
        elif isinstance(message, HealthMessage):
            self.health_changed.emit(message.data)
        elif isinstance(message, AlertMessage):
            self._remember(self.cache.put_alerts, [message.data])
            self.alert_received.emit(message.data)
        elif isinstance(message, SwitchMessage):
            self._remember(self.cache.record_switch, message.data)
            self.switch_changed.emit(message.data)
        elif isinstance(message, AuditMessage):
            self._remember(self.cache.put_audit, [message.data])
            self.audit_received.emit(message.data)
        elif isinstance(message, TicketMessage):
            self._remember(self.cache.update_ticket_if_viewed, message.data)
            self.ticket_changed.emit(message.data)
        elif isinstance(message, UserMessage):
            self.user_changed.emit(message.data)
        elif isinstance(message, ReloadMessage):
            self._last_seq = message.seq
            self.reload_required.emit()
        elif isinstance(message, DroppedMessage | ByeMessage):
            # The server closes after this; the loop reconnects (and a dead session shows
            # up as a 401 on the next attempt).
            log.info("stream closing (%s): %s", message.type, message.data.reason)

    async def _ensure_trust(self) -> None:
        """Check the server's certificate against the pin; ask about a new one."""
        if not self.profile.tls:
            self._ssl = None
            return
        pinned = self.profile.pinned_pem
        try:
            await trust.check(self.profile.host, self.profile.port, pinned)
        except trust.UntrustedCertificate as first:
            confirmed = self._trust_prompt is not None and await self._trust_prompt(first.presented)
            if not confirmed:
                raise TrustRefusedError(
                    f"certificate {first.presented.fingerprint} not confirmed: not connecting"
                ) from first
            self.profile = self.profile.with_pin(first.presented.pem)
            if self._pin_saver is not None:
                self._pin_saver(self.profile)
            pinned = first.presented.pem
        assert pinned is not None
        if self._ssl is None or pinned != getattr(self._ssl, "_opsconsole_pem", None):
            context = trust.pinned_context(pinned)
            context._opsconsole_pem = pinned  # type: ignore[attr-defined]
            self._ssl = context
            if self._http is not None:
                await self._http.aclose()
                self._http = None

    async def _wait_retry(self, delay: float) -> None:
        """Sleep until the next attempt, showing the countdown; a login or close wakes it."""
        self._wake.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while not self._closing and not self._wake.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            state = ConnectionState.RECONNECTING
            self._set_status(state, retry_in_s=float(int(left + 0.999)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(left, 1.0))

    def _expired(self) -> bool:
        return self.status.state is ConnectionState.SESSION_EXPIRED

    async def _wait_for_session(self) -> None:
        self._wake.clear()
        while not self._closing and self.status.state is ConnectionState.SESSION_EXPIRED:
            await self._wake.wait()
            self._wake.clear()

    def _expire(self, detail: str) -> None:
        if self.status.state is ConnectionState.SESSION_EXPIRED:
            return
        log.info("session expired: %s", detail)
        self._token = None
        self.tokens.delete(self.profile.name)
        self._set_status(ConnectionState.SESSION_EXPIRED, detail=detail)
        if self._ws is not None:
            # The stream may stay open a while on a dead session; the loop must wait for a
            # new login instead.
            asyncio.get_running_loop().create_task(self._ws.close())

    def _back_online(self) -> None:
        if self._online:
            return
        was_offline = self.status.offline_since is not None
        self._online = True
        self._reload_pending = self._reload_pending or was_offline
        self._set_status(ConnectionState.CONNECTED, offline_since=None, retry_in_s=None)
        if self._reload_pending and self._last_seq is None:
            # No stream to resume: catch up over REST at once.
            self._reload_pending = False
            self.reload_required.emit()

    def _went_offline(self, why: str, *, retry: bool = True) -> None:
        was_online = self._online
        self._online = False
        if was_online:
            self._reload_pending = True
        since = self.status.offline_since or datetime.now(UTC)
        state = ConnectionState.RECONNECTING if retry else ConnectionState.OFFLINE
        self._set_status(state, offline_since=since, detail=why, retry_in_s=None)

    def _set_status(self, state: ConnectionState, **changes: Any) -> None:
        offline_since = changes.pop("offline_since", self.status.offline_since)
        if state is ConnectionState.CONNECTED:
            offline_since = None
        detail = changes.pop("detail", "" if state != self.status.state else self.status.detail)
        status = ConnectionStatus(
            state=state,
            retry_in_s=changes.pop("retry_in_s", None),
            offline_since=offline_since,
            data_as_of=self._data_as_of,
            detail=detail,
        )
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)

    # --- HTTP -----------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"User-Agent": f"opsconsole-console/{opsconsole.__version__}"}
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            self._http = httpx.AsyncClient(
                base_url=self.profile.url,
                headers=headers,
                timeout=self._timeout,
                verify=self._ssl if self.profile.tls and self._ssl is not None else True,
                trust_env=False,
            )
        return self._http

    def _set_token(self, token: str) -> None:
        self._token = token
        self.tokens.set(self.profile.name, token)
        if self._http is not None:
            self._http.headers["Authorization"] = f"Bearer {token}"

    async def _request(
        self, method: str, path: str, *, json: Any, params: dict[str, Any] | None
    ) -> httpx.Response:
        """One HTTP exchange with a hard deadline on top of httpx's own timeouts: a request
        stuck where those do not reach (seen under heavy load with several requests in
        flight) fails with a clear error instead of leaving the pane waiting for ever."""
        try:
            async with asyncio.timeout(self._timeout * HARD_DEADLINE_FACTOR):
                return await self._client().request(method, path, json=json, params=params)
        except TimeoutError:
            raise httpx.ReadTimeout(
                f"{method} {path}: no answer within {self._timeout * HARD_DEADLINE_FACTOR:g} s"
            ) from None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        step_up: bool = False,
    ) -> httpx.Response:
        """One request; 4xx/5xx become ApiError, a 401 also ends the session."""
        if self.profile.tls and self._ssl is None:
            await self._ensure_trust()
        response = await self._request(method, path, json=json, params=params)
        if response.is_success:
            return response
        error = ApiError.from_response(response)
        if step_up and error.status == 403 and error.kind == "step-up-required":
            await self._step_up(error.detail)
            response = await self._request(method, path, json=json, params=params)
            if response.is_success:
                return response
            error = ApiError.from_response(response)
        if isinstance(error, SessionExpiredError):
            self._expire(error.detail)
            self._wake.set()
        raise error

    async def _step_up(self, detail: str) -> None:
        enrolled = bool(self.operator and self.operator.totp_enrolled)
        if self._step_up_prompt is None:
            raise ApiError(403, "Step-up required", detail, kind="step-up-required")
        answer = await self._step_up_prompt(detail, enrolled)
        if answer is None:
            raise ApiError(
                403,
                "Step-up cancelled",
                "The action needs a step-up and was not sent.",
                kind="step-up-cancelled",
            )
        response = await self._client().post(
            "/v1/auth/step-up", json=answer.model_dump(exclude_none=True)
        )
        if not response.is_success:
            error = ApiError.from_response(response)
            raise ApiError(error.status, error.title, error.detail, kind=error.kind)

    async def _read(
        self,
        path: str,
        model: Any,
        *,
        params: dict[str, Any] | None = None,
        store: Callable[[Any], None],
        cached: Callable[[], Any],
    ) -> Any:
        if self._online:
            try:
                response = await self._call("GET", path, params=params)
            except NETWORK_ERRORS as error:
                self._went_offline(_why(error))
            else:
                value = TypeAdapter(model).validate_python(response.json())
                await self._in_cache(store, value)
                return value
        value = await self._in_cache(cached)
        if value is None:
            raise OfflineError(f"Offline, and {path} was never fetched into the cache.")
        return value

    async def _in_cache(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._cache_pool, partial(function, *args))
        self._data_as_of = datetime.now(UTC) if self._online else self._data_as_of
        return result

    def _remember(self, function: Callable[..., Any], *args: Any) -> None:
        """Write to the cache in the background (stream messages must not wait on disk)."""
        if self._closing:
            return
        future = self._cache_pool.submit(function, *args)
        future.add_done_callback(_log_failure)
        self._data_as_of = datetime.now(UTC)

    # --- users (C1) -----------------------------------------------------------------------

    async def search_users(self, params: dict[str, Any]) -> Page[UserPublic]:
        """One page of ``GET /v1/users`` for search-as-you-type.

        Unlike :meth:`get`, a page is not written to the cache before it is shown (every
        keystroke would wait on disk); only the users the operator opens are kept. Offline,
        the users viewed before are searched locally.
        """
        if self._online:
            try:
                response = await self._call("GET", "/v1/users", params=params)
            except NETWORK_ERRORS as error:
                self._went_offline(_why(error))
            else:
                return Page[UserPublic].model_validate(response.json())
        if params.get("cursor"):
            return Page[UserPublic](items=[])
        users = await self._in_cache(self.cache.users)
        fragment = str(params.get("q") or "").lower()
        found = [
            user
            for user in users
            if fragment in f"{user.id} {user.email or ''} {user.name or ''}".lower()
            and params.get("tier") in (None, user.tier)
            and params.get("status") in (None, user.status)
        ]
        return Page[UserPublic](items=found)

    # --- work queues (C2) -----------------------------------------------------------------

    async def download(
        self,
        path: str,
        dest: Path,
        *,
        params: dict[str, Any] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> int:
        """Stream a long answer (an audit export) into ``dest`` line by line; bytes written.

        The lines go to ``<dest>.part`` and the file takes its name only when complete, so a
        cancelled (task cancelled) or failed download leaves no half file under that name.
        ``on_line`` sees each line as it arrives (for progress). Online only.
        """
        if not self._online:
            raise OfflineError("The server cannot be reached: nothing was downloaded.")
        if self.profile.tls and self._ssl is None:
            await self._ensure_trust()
        loop = asyncio.get_running_loop()
        part = dest.with_name(dest.name + ".part")
        written = 0
        try:
            with part.open("wb") as out:
                async with self._client().stream(
                    "GET", path, params=params, timeout=httpx.Timeout(self._timeout, read=None)
                ) as response:
                    if not response.is_success:
                        await response.aread()
                        raise ApiError.from_response(response)
                    buffer: list[bytes] = []
                    size = 0
                    pending = b""  # a line not complete yet (for on_line only)
                    async for chunk in response.aiter_bytes():
                        # Written as sent (CSV keeps its CRLF), in chunks, off the loop.
                        buffer.append(chunk)
                        size += len(chunk)
                        if on_line is not None:
                            *lines, pending = (pending + chunk).split(b"\n")
                            for line in lines:
                                on_line(line.decode("utf-8", "replace").rstrip("\r"))
                        if size >= 256 * 1024:
                            await loop.run_in_executor(None, out.write, b"".join(buffer))
                            written, buffer, size = written + size, [], 0
                    await loop.run_in_executor(None, out.write, b"".join(buffer))
                    written += size
                    if on_line is not None and pending:
                        on_line(pending.decode("utf-8", "replace").rstrip("\r"))
            part.replace(dest)
        except NETWORK_ERRORS as error:
            part.unlink(missing_ok=True)
            raise OfflineError(f"The download failed: {_why(error)}") from error
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return written

    # --- about (C4) -----------------------------------------------------------------------

    async def server_version(self) -> str:
        """The control plane's version, from ``GET /healthz``. Online only."""
        if not self._online:
            raise OfflineError("The server cannot be reached: its version is not known.")
        try:
            response = await self._call("GET", "/healthz")
        except NETWORK_ERRORS as error:
            raise OfflineError(f"The server did not answer: {_why(error)}") from error
        return str(response.json().get("version") or "unknown")


def _log_failure(future: Future[Any]) -> None:
    error = future.exception()
    if error is not None:
        log.warning("cache write failed: %s", error)


def _body(model: BaseModel) -> Any:
    return model.model_dump(mode="json", exclude_unset=False)


def _why(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]


def _index(cache: Cache, value: Any) -> None:
    """Keep users, tickets and audit rows the operator viewed in their own cache tables."""
    items = (
        value.items if isinstance(value, Page) else value if isinstance(value, list) else [value]
    )
    for item in items:
        if isinstance(item, UserPublic):
            cache.put_user(item)
        elif isinstance(item, TicketPublic | TicketDetail):
            cache.put_ticket(TicketPublic.model_validate(item.model_dump()))
        elif isinstance(item, AuditEntry):
            cache.put_audit([item])
