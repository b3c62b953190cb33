"""The connection's REST side: one ``httpx.AsyncClient`` per profile that trusts only the pinned
certificate (asking the operator about a new one), carries the session token, sends a sensitive
action once more after a step-up, and streams long answers to a file."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

import opsconsole
from opsconsole.console import trust
from opsconsole.console.connection_errors import (
    NETWORK_ERRORS,
    ApiError,
    OfflineError,
    TrustRefusedError,
    refused,
    why,
)
from opsconsole.console.profiles import Profile
from opsconsole.wire.auth import LoginResponse, StepUpRequest

# The app installs these: the connection asks, the dialogs answer.
StepUpPrompt = Callable[[str, bool], Awaitable[StepUpRequest | None]]  # (detail, totp_enrolled)
TrustPrompt = Callable[[trust.PeerCertificate], Awaitable[bool]]
PinSaver = Callable[[Profile], None]

USER_AGENT = f"opsconsole-console/{opsconsole.__version__}"


class RestClient:
    """HTTP to one profile's control plane.

    The profile changes when the operator confirms a certificate or logs in under another
    name; the pin saver keeps it. The client is made on first use, and made again when the
    pinned certificate changes.
    """

    def __init__(self, profile: Profile, *, timeout_s: float, token: str | None) -> None:
        self.profile = profile
        self.timeout_s = timeout_s
        self.token = token
        self.ssl: ssl.SSLContext | None = None  # the pinned context, once trust is checked
        self.step_up_prompt: StepUpPrompt | None = None
        self.trust_prompt: TrustPrompt | None = None
        self.pin_saver: PinSaver | None = None
        self._http: httpx.AsyncClient | None = None

    def set_token(self, token: str | None) -> None:
        self.token = token
        if self._http is None:
            return
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        else:
            self._http.headers.pop("Authorization", None)

    def keep_profile(self, profile: Profile) -> None:
        self.profile = profile
        if self.pin_saver is not None:
            self.pin_saver(profile)

    async def login(self, body: dict[str, Any]) -> LoginResponse:
        """``POST /v1/auth/login``; a server that cannot be reached or trusted is OfflineError."""
        try:
            await self.ensure_trust()
            response = await self.client().post("/v1/auth/login", json=body)
        except NETWORK_ERRORS as error:
            raise OfflineError(f"The server cannot be reached: {why(error)}") from error
        except (trust.TrustError, TrustRefusedError) as error:
            raise OfflineError(str(error)) from error
        if response.status_code != 200:
            raise refused(response)
        result = LoginResponse.model_validate(response.json())
        username = str(body["username"])
        if self.profile.username != username:
            self.keep_profile(replace(self.profile, username=username))
        return result

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        step_up: bool = False,
        totp_enrolled: bool = False,
    ) -> httpx.Response:
        """One request; 4xx/5xx raise ApiError (SessionExpiredError for a 401).

        With ``step_up``, a 403 that asks for one prompts the operator, and the request is
        sent once more after the server accepted the answer. httpx's timeouts (connect, read,
        write, pool: each ``timeout_s``) bound every wait.
        """
        if self.profile.tls and self.ssl is None:
            await self.ensure_trust()
        response = await self.client().request(method, path, json=json, params=params)
        if response.is_success:
            return response
        error = ApiError.from_response(response)
        if step_up and error.status == 403 and error.kind == "step-up-required":
            await self._step_up(error.detail, totp_enrolled)
            response = await self.client().request(method, path, json=json, params=params)
            if response.is_success:
                return response
            error = ApiError.from_response(response)
        raise error

    async def download(
        self,
        path: str,
        dest: Path,
        *,
        params: dict[str, Any] | None,
        on_line: Callable[[str], None] | None,
    ) -> int:
        """Stream a long answer into ``dest`` (through ``<dest>.part``); bytes written."""
        if self.profile.tls and self.ssl is None:
            await self.ensure_trust()
        loop = asyncio.get_running_loop()
        part = dest.with_name(dest.name + ".part")
        written = 0
        try:
            with part.open("wb") as out:
                async with self.client().stream(
                    "GET", path, params=params, timeout=httpx.Timeout(self.timeout_s, read=None)
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
            raise OfflineError(f"The download failed: {why(error)}") from error
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return written

    async def ensure_trust(self) -> None:
        """Check the server's certificate against the pin; ask about a new one."""
        if not self.profile.tls:
            self.ssl = None
            return
        pinned = self.profile.pinned_pem
        try:
            await trust.check(self.profile.host, self.profile.port, pinned)
        except trust.UntrustedCertificate as first:
            confirmed = self.trust_prompt is not None and await self.trust_prompt(first.presented)
            if not confirmed:
                raise TrustRefusedError(
                    f"certificate {first.presented.fingerprint} not confirmed: not connecting"
                ) from first
            self.keep_profile(self.profile.with_pin(first.presented.pem))
            pinned = first.presented.pem
        assert pinned is not None
        if self.ssl is None or pinned != getattr(self.ssl, "_opsconsole_pem", None):
            context = trust.pinned_context(pinned)
            context._opsconsole_pem = pinned  # type: ignore[attr-defined]
            self.ssl = context
            await self.aclose()  # a client made with the old context

    def client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"User-Agent": USER_AGENT}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            self._http = httpx.AsyncClient(
                base_url=self.profile.url,
                headers=headers,
                timeout=self.timeout_s,
                verify=self.ssl if self.profile.tls and self.ssl is not None else True,
                trust_env=False,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def _step_up(self, detail: str, totp_enrolled: bool) -> None:
        if self.step_up_prompt is None:
            raise ApiError(403, "Step-up required", detail, kind="step-up-required")
        answer = await self.step_up_prompt(detail, totp_enrolled)
        if answer is None:
            raise ApiError(
                403,
                "Step-up cancelled",
                "The action needs a step-up and was not sent.",
                kind="step-up-cancelled",
            )
        response = await self.client().post(
            "/v1/auth/step-up", json=answer.model_dump(exclude_none=True)
        )
        if not response.is_success:
            raise refused(response)
