"""The console's one client of the control plane: REST, the live stream, trust and offline.

`Connection` owns an ``httpx.AsyncClient`` and the ``WS /v1/stream`` client, both verifying
the server against the certificate pinned for the profile (trust.py). It turns stream
messages into Qt signals, keeps what it sees in the local cache, reconnects with capped
exponential backoff and full jitter, resumes the stream from its last sequence number, and
when the server cannot be reached serves reads from the cache and refuses writes.

Its parts: connection_http.py (REST: trust, token, step-up, downloads), connection_stream.py
(the WebSocket session and where to resume it), connection_core.py (session, status, the
reconnect loop, stream messages to signals), connection_status.py and connection_errors.py.
This module adds the typed reads (through the cache) and writes, and is where the rest of the
console imports all of it from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, TypeAdapter

from opsconsole.console.cache import Cache
from opsconsole.console.connection_core import ConnectionCore
from opsconsole.console.connection_errors import (
    NETWORK_ERRORS,
    ApiError,
    OfflineError,
    SessionExpiredError,
    StreamUnavailableError,
    TrustRefusedError,
    why,
)
from opsconsole.console.connection_http import PinSaver, StepUpPrompt, TrustPrompt
from opsconsole.console.connection_status import ConnectionState, ConnectionStatus
from opsconsole.wire.alerts import Alert, AlertState, Silence, SilenceRequest
from opsconsole.wire.audit import AuditEntry
from opsconsole.wire.common import MAX_PAGE_SIZE, Page
from opsconsole.wire.gate import (
    BreakerAction,
    ProviderPublic,
    SwitchName,
    SwitchPublic,
    SwitchUpdate,
)
from opsconsole.wire.metrics import ProviderHealth, Series, SeriesStep, Summary
from opsconsole.wire.tickets import TicketDetail, TicketPublic
from opsconsole.wire.users import UserPublic

__all__ = [
    "NETWORK_ERRORS",
    "ApiError",
    "Connection",
    "ConnectionState",
    "ConnectionStatus",
    "OfflineError",
    "PinSaver",
    "SessionExpiredError",
    "StepUpPrompt",
    "StreamUnavailableError",
    "TrustPrompt",
    "TrustRefusedError",
]


class Connection(ConnectionCore):
    """REST and stream client of one profile's control plane: the session, status, stream
    and signals of ConnectionCore, and the reads and writes the panes ask for.

    Reads go to the server when online and are kept in the cache; offline they come from
    the cache. Writes need the server and are never queued.

    Signals:
        those of ConnectionCore: status_changed, snapshot_received, health_changed,
        alert_received, switch_changed, audit_received, ticket_changed, user_changed,
        reload_required, certificate_refused
    """

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
            self._went_offline(why(error))
            raise OfflineError(
                f"The server cannot be reached ({why(error)}); the action was not sent."
            ) from error
        except NETWORK_ERRORS as error:
            self._went_offline(why(error))
            raise OfflineError(
                f"The connection failed during the action ({why(error)}): it may or may not "
                "have been applied. Check its state once the console is back online."
            ) from error
        if model is None or response.status_code == 204 or not response.content:
            return None
        return TypeAdapter(model).validate_python(response.json())

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
                self._went_offline(why(error))
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
        return await self._rest.download(path, dest, params=params, on_line=on_line)

    # --- about (C4) -----------------------------------------------------------------------

    async def server_version(self) -> str:
        """The control plane's version, from ``GET /healthz``. Online only."""
        if not self._online:
            raise OfflineError("The server cannot be reached: its version is not known.")
        try:
            response = await self._call("GET", "/healthz")
        except NETWORK_ERRORS as error:
            raise OfflineError(f"The server did not answer: {why(error)}") from error
        return str(response.json().get("version") or "unknown")

    # --- private: a read through the cache ------------------------------------------------

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
                self._went_offline(why(error))
            else:
                value = TypeAdapter(model).validate_python(response.json())
                await self._in_cache(store, value)
                return value
        value = await self._in_cache(cached)
        if value is None:
            raise OfflineError(f"Offline, and {path} was never fetched into the cache.")
        return value


def _body(model: BaseModel) -> Any:
    return model.model_dump(mode="json", exclude_unset=False)


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
