"""Screenshots of the main window on the demo, live and then offline, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.console.views.take_screenshots [SECONDS]

Starts the demo back end (`opsconsole demo --no-gui --ready-json`: control plane and simulator,
a simulated day in about five minutes), opens the console's main window on it, waits SECONDS
(default 300: about a simulated day), saves `main-window.png`, stops the back end, waits for
the console to notice, and saves `offline.png`. Not a test: run it by hand and look at them.
"""

from __future__ import annotations

import asyncio
import sys

from tests.console.screenshots import demo_session, seconds_argument, until

from opsconsole.console.app import MainWindow
from opsconsole.console.panes.charts import ChartsPane


def main(seconds: float) -> int:
    with demo_session() as session:
        connection = session.connection(backoff_cap_s=2.0)
        window = MainWindow(connection, settings=session.settings)
        window.resize(1600, 1000)
        window.show()

        async def scenario() -> None:
            await session.log_in(connection)
            charts = window.pane("charts")
            assert isinstance(charts, ChartsPane)
            charts.range_combo.setCurrentText("1 h")
            await window.reload()
            await asyncio.sleep(seconds)
            await window.reload()
            await asyncio.sleep(3)
            session.save(window, "main-window.png")
            await asyncio.to_thread(session.stop_back_end)
            await until(lambda: not connection.online, 60)
            await asyncio.sleep(2)
            session.save(window, "offline.png")
            window.close()

        session.run(scenario())
    return 0


if __name__ == "__main__":
    sys.exit(main(seconds_argument(300.0)))
