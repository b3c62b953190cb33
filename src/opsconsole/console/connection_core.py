"""The connection's session and live side: login and the token, the status the operator sees,
and the loop that keeps the connection up (reconnecting with capped exponential backoff and
full jitter) and turns stream messages into Qt signals and cache writes.

`Connection` (connection.py) adds the typed reads and writes on top of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import httpx

from opsconsole.console import roles, trust
from opsconsole.console.cache import Cache
from opsconsole.console.connection_errors import (
    NETWORK_ERRORS,
    ApiError,
    OfflineError,
    SessionExpiredError,
    StreamUnavailableError,
    TrustRefusedError,
    why,
)
from opsconsole.console.connection_http import PinSaver, RestClient, StepUpPrompt, TrustPrompt
from opsconsole.console.connection_status import ConnectionState, ConnectionStatus
from opsconsole.console.connection_stream import LiveStream
from opsconsole.console.profiles import Profile
from opsconsole.console.qt import QObject, Signal
from opsconsole.console.tokens import TokenStore
from opsconsole.wire.auth import MeResponse, OperatorPublic
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
)

log = logging.getLogger("opsconsole.console.connection")

T = TypeVar("T")


class ConnectionCore(QObject):
    """Session, status and the live stream of one profile's control plane.

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
        self.cache = cache
        self.tokens = tokens or TokenStore()
        self.operator: OperatorPublic | None = None
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._timeout = request_timeout_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._offline_only = offline
        token = None if offline else self.tokens.get(profile.name)
        self._rest = RestClient(profile, timeout_s=request_timeout_s, token=token)
        self._stream = LiveStream()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._online = False
        self._reload_pending = False
        self._cache_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-cache")
        self._data_as_of = cache.data_as_of()
        self._server_clock_offset = timedelta(0)
        self.status = ConnectionStatus(
            ConnectionState.OFFLINE if offline else ConnectionState.CONNECTING,
            offline_since=None,
            data_as_of=self._data_as_of,
            detail="opened offline (--offline): nothing is sent to the server" if offline else "",
        )

    # --- set-up ---------------------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        return self._rest.profile

    @profile.setter
    def profile(self, profile: Profile) -> None:
        self._rest.profile = profile

    def set_step_up_prompt(self, prompt: StepUpPrompt | None) -> None:
        """What asks the operator for a TOTP code or password when the server wants a step-up."""
        self._rest.step_up_prompt = prompt

    def set_trust_prompt(self, prompt: TrustPrompt | None, saver: PinSaver | None = None) -> None:
        """What shows a new certificate's fingerprint for confirmation, and keeps the pin."""
        self._rest.trust_prompt = prompt
        self._rest.pin_saver = saver

    @property
    def online(self) -> bool:
        return self._online

    @property
    def token(self) -> str | None:
        """The session token (kept in the keyring or memory: never in the settings or cache)."""
        return self._rest.token

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

    # --- the session ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting (and keep reconnecting) in the background; returns at once."""
        if self._offline_only or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name=f"connection-{self.profile.name}")
        self._task.add_done_callback(self._on_task_done)

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
        result = await self._rest.login(body)
        self._set_token(result.token)
        self.operator = result.operator
        if self.status.state is ConnectionState.SESSION_EXPIRED:
            self._set_status(ConnectionState.CONNECTING)
        self._wake.set()  # the loop waits for a new session
        return result.operator

    def use_token(self, token: str) -> None:
        """Adopt a token obtained elsewhere (the demo logs in for the operator)."""
        self._set_token(token)
        self._wake.set()

    async def logout(self) -> None:
        if self.token and self._online:
            with contextlib.suppress(ApiError, *NETWORK_ERRORS):
                await self._call("POST", "/v1/auth/logout")
        self.tokens.delete(self.profile.name)
        self._rest.set_token(None)

    async def close(self) -> None:
        """Stop the stream and the reconnect loop, close the clients and the cache."""
        self._closing = True
        self._wake.set()
        await self._stream.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._rest.aclose()
        await asyncio.get_running_loop().run_in_executor(self._cache_pool, self.cache.close)
        self._cache_pool.shutdown(wait=True)

    # --- the reconnect loop ---------------------------------------------------------------

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
                await self._rest.ensure_trust()
                if self.token is None:
                    raise SessionExpiredError(401, "Log in", "No session yet.")
                me = MeResponse.model_validate((await self._call("GET", "/v1/auth/me")).json())
                self.operator = me.operator
                self._back_online()
                greeted = await self._stream.session(
                    self.profile.url,
                    token=self.token,
                    ssl_context=self._rest.ssl,
                    open_timeout_s=self._timeout,
                    on_message=self._dispatch,
                )
                attempt = 0 if greeted else attempt
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
                log.info("server unreachable: %s", why(error))
                self._went_offline(why(error))
            except ApiError as error:
                log.warning("server refused the connection: %s", error)
                self._went_offline(str(error))
            if self._expired():
                continue  # a REST call found the session dead meanwhile
            if delay is None:
                delay = self.backoff(attempt)
                attempt += 1
            await self._wait_retry(delay)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        # Only close() and a refused certificate end the loop; anything else is a bug that
        # would leave the console without live updates, so it is said, not swallowed.
        error = None if task.cancelled() else task.exception()
        if error is None:
            return
        log.error("the connection's loop stopped: %r", error, exc_info=error)
        self._went_offline(f"connection loop failed: {why(error)}", retry=False)

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

    # --- the stream's messages ------------------------------------------------------------

    def _dispatch(self, message: StreamMessage) -> None:
        resuming = self._stream.last_seq is not None
        self._stream.note(message)
        if isinstance(message, Hello):
            resumed = bool(message.data.get("resumed"))
            log.info("stream open (resumed=%s, seq=%s)", resumed, message.seq)
            self._set_status(ConnectionState.CONNECTED)
            if (resuming and not resumed) or self._reload_pending:
                self._reload_pending = False
                self.reload_required.emit()
        elif isinstance(message, SnapshotMessage):
            snapshot = message.data
            server_now = snapshot.at + timedelta(seconds=snapshot.interval_s)
            self._server_clock_offset = server_now - datetime.now(UTC)
            self._remember(self.cache.put_snapshot, snapshot)
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
            self.reload_required.emit()
        elif isinstance(message, DroppedMessage | ByeMessage):
            # The server closes after this; the loop reconnects (and a dead session shows
            # up as a 401 on the next attempt).
            log.info("stream closing (%s): %s", message.type, message.data.reason)

    # --- state ----------------------------------------------------------------------------

    def _expire(self, detail: str) -> None:
        if self.status.state is ConnectionState.SESSION_EXPIRED:
            return
        log.info("session expired: %s", detail)
        self._rest.set_token(None)
        self.tokens.delete(self.profile.name)
        self._set_status(ConnectionState.SESSION_EXPIRED, detail=detail)
        # The stream may stay open a while on a dead session; the loop must wait for a new
        # login instead.
        self._stream.close_soon()

    def _back_online(self) -> None:
        if self._online:
            return
        was_offline = self.status.offline_since is not None
        self._online = True
        self._reload_pending = self._reload_pending or was_offline
        self._set_status(ConnectionState.CONNECTED, offline_since=None, retry_in_s=None)
        if self._reload_pending and self._stream.last_seq is None:
            # No stream to resume: catch up over REST at once.
            self._reload_pending = False
            self.reload_required.emit()
        if self._stream.last_seq is None:
            # The panes load over REST now, before the stream's first hello; a first
            # subscription replays nothing, so what changes in between would never show.
            # Reload once more when the stream is open.
            self._reload_pending = True

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
            server_clock_offset=self._server_clock_offset,
        )
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)

    def _set_token(self, token: str) -> None:
        self._rest.set_token(token)
        self.tokens.set(self.profile.name, token)

    # --- requests and the cache -----------------------------------------------------------

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
        try:
            return await self._rest.call(
                method,
                path,
                json=json,
                params=params,
                step_up=step_up,
                totp_enrolled=bool(self.operator and self.operator.totp_enrolled),
            )
        except SessionExpiredError as error:
            self._expire(error.detail)
            self._wake.set()
            raise

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


def _log_failure(future: Future[Any]) -> None:
    error = future.exception()
    if error is not None:
        log.warning("cache write failed: %s", error)
