"""The console's own dialogs: login, certificate fingerprint, step-up.

Each is shown with ``open()`` and awaited through :func:`ask`, never ``exec()``: a nested
event loop under qasync would stall the asyncio tasks (the stream, reconnects) meanwhile.
"""

from __future__ import annotations

import asyncio

from opsconsole.console.qt import QDialog


async def ask(dialog: QDialog) -> bool:
    """Show a dialog window-modally and wait, without blocking the loop; True if accepted."""
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not done.done():
            done.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await done == QDialog.DialogCode.Accepted.value
    finally:
        dialog.finished.disconnect(finished)
