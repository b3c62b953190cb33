"""Bring the impersonation banner back when the console comes online and the server still
holds an impersonation the operator started earlier.

If the console was closed or crashed, or the operator signed in on another machine, while an
impersonation was active, nothing on screen would say they still act as someone else. So on
every move to "connected" (the first login, a login after the session expired, a reconnect
after being offline) the console asks the server for the operator's own active ones and shows
the one that expires last, saying how many more there are. "End now" then ends all of them.

The token is shown by the server once and never kept by the console, so a restored banner
cannot open the app as the user; the test request works without it (the gate's dry run by
user id).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from opsconsole.console.connection import NETWORK_ERRORS, ApiError, ConnectionState, OfflineError
from opsconsole.console.dialogs.user_actions import who
from opsconsole.console.panes.base import spawn
from opsconsole.console.qt import QObject, Signal
from opsconsole.console.widgets.impersonation_banner import BannerState, ImpersonationBanner
from opsconsole.wire.common import MAX_PAGE_SIZE, Page
from opsconsole.wire.impersonation import ImpersonationPublic
from opsconsole.wire.users import UserPublic

if TYPE_CHECKING:
    from opsconsole.console.connection import Connection, ConnectionStatus

log = logging.getLogger("opsconsole.console.impersonation")

IMPERSONATE = "impersonate"
USERS_READ = "users:read"
MAX_PAGES = 20  # an admin's list holds everyone's; 10,000 active at once is far past real
FAILURES: tuple[type[BaseException], ...] = (ApiError, OfflineError, *NETWORK_ERRORS)


class ImpersonationRestore(QObject):
    """Shows the operator's impersonations from earlier sessions in the banner, and ends them.

    A banner showing an impersonation started in this session (with its token) is left alone.

    Signals:
        notified(str): something the operator should read (an end that failed).
    """

    notified = Signal(str)

    def __init__(
        self, connection: Connection, banner: ImpersonationBanner, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.connection = connection
        self.banner = banner
        self.shown: list[ImpersonationPublic] = []  # what the restored banner stands for
        self._check_task: asyncio.Future[None] | None = None
        self._end_task: asyncio.Future[None] | None = None
        self._connected = False
        connection.status_changed.connect(self._on_connection_status_changed)
        banner.end_requested.connect(self._on_banner_end_requested)
        banner.dismissed.connect(self._on_banner_dismissed)
        self._on_connection_status_changed(connection.status)

    # --- public -----------------------------------------------------------------------------

    def check(self) -> asyncio.Future[None]:
        """Ask the server for the operator's active impersonations and show them."""
        if self._check_task is None or self._check_task.done():
            self._check_task = spawn(self._check())
        return self._check_task

    def end_all(self) -> asyncio.Future[None]:
        """End every impersonation the restored banner stands for, then look again."""
        if self._end_task is None or self._end_task.done():
            self._end_task = spawn(self._end_all())
        return self._end_task

    # --- private ----------------------------------------------------------------------------

    async def _check(self) -> None:
        connection = self.connection
        operator = connection.operator
        if not connection.online or operator is None or not connection.can(IMPERSONATE):
            return
        try:
            mine = await self._active_of(operator.username)
            # The countdown runs on the server's clock: the summary says what time it is there.
            server_now = (await connection.summary()).at
        except FAILURES as exc:
            log.warning("could not look for active impersonations: %s", exc)
            return
        if not connection.online:
            return  # the answers came from the cache: they may be long out of date
        mine = sorted(
            (item for item in mine if item.expires_at > server_now),
            key=lambda item: item.expires_at,
            reverse=True,
        )
        label = await self._label(mine[0].user_id) if mine else ""
        if connection.operator is None or connection.operator.username != operator.username:
            return  # someone else signed in meanwhile
        self._show(mine, label, server_now)

    async def _active_of(self, username: str) -> list[ImpersonationPublic]:
        """The operator's own active impersonations: an admin's list holds everyone's."""
        found: list[ImpersonationPublic] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"active": "true", "limit": MAX_PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            page = await self.connection.get(
                "/v1/impersonations", Page[ImpersonationPublic], params=params
            )
            assert isinstance(page, Page)
            found += [
                item
                for item in page.items
                if isinstance(item, ImpersonationPublic)
                and item.active
                and item.operator == username
            ]
            cursor = page.next_cursor
            if not cursor:
                break
        return found

    async def _label(self, user_id: str) -> str:
        """The user as the banner names them (name, email, id), or the id alone."""
        if not self.connection.can(USERS_READ):
            return user_id
        try:
            user = await self.connection.get(f"/v1/users/{quote(user_id, safe='')}", UserPublic)
        except FAILURES as exc:
            log.info("user %s not looked up for the banner: %s", user_id, exc)
            return user_id
        return who(user) if isinstance(user, UserPublic) else user_id

    def _show(self, mine: list[ImpersonationPublic], label: str, server_now: datetime) -> None:
        banner = self.banner
        if banner.state is BannerState.ACTIVE and not banner.restored:
            return  # started in this session: the banner has its token and its own "End now"
        self.shown = mine
        if not mine:
            if banner.state is BannerState.ACTIVE:
                banner.gone()
            return
        latest = mine[0]
        log.info(
            "restoring the banner: %s active impersonation(s), the latest %s of %s",
            len(mine),
            latest.id,
            latest.user_id,
        )
        banner.restore(
            impersonation_id=latest.id,
            user_id=latest.user_id,
            user_label=label or latest.user_id,
            mode=latest.mode,
            expires_at=latest.expires_at,
            server_now=server_now,
            others_expire_at=[item.expires_at for item in mine[1:]],
            can_open_app=bool(self.connection.profile.impersonation_url),
        )

    async def _end_all(self) -> None:
        failed: list[str] = []
        for item in list(self.shown):
            try:
                await self.connection.send(
                    "DELETE",
                    f"/v1/impersonations/{quote(item.id, safe='')}",
                    model=ImpersonationPublic,
                )
            except FAILURES as exc:
                failed.append(f"{item.user_id}: {exc}")
        if failed:
            self.notified.emit("Ending the impersonation failed: " + "; ".join(failed))
            await self._check()  # show what is still active
            return
        self.shown = []
        if self.banner.restored:  # not replaced meanwhile by one started in this session
            self.banner.ended()
        # Started elsewhere meanwhile? Then the banner comes back with it.
        await self._check()

    def _on_connection_status_changed(self, status: ConnectionStatus) -> None:
        connected = status.state is ConnectionState.CONNECTED
        if connected and not self._connected:
            self.check()
        self._connected = connected

    def _on_banner_end_requested(self) -> None:
        if self.banner.restored:
            self.end_all()

    def _on_banner_dismissed(self) -> None:
        # The impersonation shown is over; others may still be active (one restored earlier
        # and hidden by one started in this session).
        if self.connection.online:
            self.check()
