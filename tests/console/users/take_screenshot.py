"""A screenshot of the users pane with a user's details open, on the demo, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.console.users.take_screenshot [SECONDS]

Starts the demo back end (control plane and simulated traffic), lets it run SECONDS (default
40) so users have requests, opens the users pane as the demo's admin, picks the user with the
most recent requests, asks "Why refused?" and saves `users.png`. Not a test: look at it.
"""

from __future__ import annotations

import asyncio
import sys

from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.users import UsersPane
from opsconsole.wire.activity import UserRequest
from opsconsole.wire.common import Page
from tests.console.screenshots import demo_session, seconds_argument, until


def main(seconds: float) -> int:
    with demo_session() as session:
        connection = session.connection(
            impersonation_url="https://app.example.com/?impersonate={token}"
        )
        pane = UsersPane(connection, ServerClock(connection))
        pane.resize(1700, 900)
        pane.show()

        async def scenario() -> None:
            await session.log_in(connection)
            await asyncio.sleep(seconds)
            await pane.load()
            best, most = None, -1
            for row in range(min(40, pane.model.rowCount())):
                user = pane.model.row(row)
                page = await connection.get(
                    f"/v1/users/{user.id}/requests", Page[UserRequest], params={"limit": 100}
                )
                if len(page.items) > most:
                    best, most = row, len(page.items)
            assert best is not None
            pane.table.selectRow(best)
            await until(lambda: pane.details.user is not None, 30)
            await until(lambda: pane.details.tabs.requests_model.rowCount() > 0, 30)
            await pane.details.why_refused()
            pane.details.tabs.setCurrentIndex(0)
            await asyncio.sleep(1)
            session.save(pane, "users.png")
            pane.details.tabs.setCurrentIndex(2)
            await asyncio.sleep(0.5)
            session.save(pane, "users-why.png")
            pane.close()

        session.run(scenario())
    return 0


if __name__ == "__main__":
    sys.exit(main(seconds_argument(40.0)))
