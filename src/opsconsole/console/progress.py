"""Progress and cancel for long calls: a busy bar with a Cancel button, shown only when needed.

A pane hands its asyncio task to :func:`track` with a label ("Loading 7 d of charts"). If the
task is still running after :data:`SHOW_AFTER_MS`, the window's status bar shows the label, a
busy bar (or a fraction, when the call reports one) and Cancel; calls that the operator waits
on (an export) can ask for a modal dialog instead. Cancel cancels the task; the caller hears
of it through :attr:`LongCall.cancelled` and can say what is shown instead. Quick calls never
flash anything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from opsconsole.console.qt import (
    QHBoxLayout,
    QLabel,
    QObject,
    QProgressBar,
    QProgressDialog,
    QStatusBar,
    Qt,
    QTimer,
    QToolButton,
    QWidget,
    Signal,
)

log = logging.getLogger("opsconsole.console.progress")

SHOW_AFTER_MS = 300  # below this a call feels instant: showing a bar would only flicker


class LongCall(QObject):
    """One tracked call.

    Signals:
        progressed(int, int): done and total, when the call can count its steps.
        cancelled(): the operator cancelled it (not emitted when the code cancels it).
        finished(): it ended, however (done, failed or cancelled).
    """

    progressed = Signal(int, int)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, label: str, task: asyncio.Future[Any], *, dialog: bool = False) -> None:
        super().__init__()
        self.label = label
        self.task = task
        self.dialog = dialog
        self.started = time.monotonic()
        self.done_steps = 0
        self.total_steps = 0
        self.cancelled_by_operator = False
        task.add_done_callback(self._on_task_done)

    @property
    def done(self) -> bool:
        return self.task.done()

    def set_progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` steps (the bar turns from busy to a fraction)."""
        self.done_steps, self.total_steps = done, total
        self.progressed.emit(done, total)

    def cancel(self) -> None:
        """Cancel the task on the operator's behalf."""
        if self.task.done():
            return
        self.cancelled_by_operator = True
        log.info("cancelled by the operator: %s", self.label)
        self.task.cancel()
        self.cancelled.emit()

    def _on_task_done(self, _task: asyncio.Future[Any]) -> None:
        self.finished.emit()


class ProgressHost(QObject):
    """Shows the long calls of one window in its status bar (or in a dialog when asked).

    Signals:
        shown(LongCall): a call passed the delay and is on screen.
        hidden(LongCall): it is no longer on screen.
    """

    shown = Signal(object)
    hidden = Signal(object)

    def __init__(self, window: QWidget, status_bar: QStatusBar | None = None) -> None:
        super().__init__(window)
        self.setObjectName("progressHost")
        self.window = window
        self.calls: list[LongCall] = []
        self._visible: LongCall | None = None
        self._dialogs: dict[int, QProgressDialog] = {}
        self.indicator = QWidget()
        self.indicator.setObjectName("progressIndicator")
        row = QHBoxLayout(self.indicator)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("progressLabel")
        self.bar = QProgressBar()
        self.bar.setObjectName("progressBar")
        self.bar.setFixedWidth(120)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("progressCancel")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this call; what was shown before stays")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.indicator.hide()
        if status_bar is not None:
            status_bar.addWidget(self.indicator)

    def track(
        self,
        label: str,
        work: asyncio.Future[Any] | Coroutine[Any, Any, Any],
        *,
        dialog: bool = False,
    ) -> LongCall:
        """Watch ``work`` (a task, or a coroutine to start); show it if it takes a while."""
        task = work if isinstance(work, asyncio.Future) else asyncio.ensure_future(work)
        call = LongCall(label, task, dialog=dialog)
        call.setParent(self)
        self.calls.append(call)
        call.finished.connect(lambda: self._on_call_finished(call))
        call.progressed.connect(lambda *_: self._show_fraction(call))
        QTimer.singleShot(SHOW_AFTER_MS, self, lambda: self._on_delay_passed(call))
        return call

    @property
    def visible_call(self) -> LongCall | None:
        return self._visible

    # --- private ----------------------------------------------------------------------------

    def _on_delay_passed(self, call: LongCall) -> None:
        if call.done or call not in self.calls:
            return
        if call.dialog:
            self._open_dialog(call)
        else:
            self._visible = call
            self._refresh_indicator()
        self.shown.emit(call)

    def _open_dialog(self, call: LongCall) -> None:
        dialog = QProgressDialog(call.label, "Cancel", 0, call.total_steps, self.window)
        dialog.setObjectName("progressDialog")
        dialog.setWindowTitle("Working…")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(call.cancel)
        dialog.setValue(call.done_steps)
        dialog.show()
        self._dialogs[id(call)] = dialog

    def _show_fraction(self, call: LongCall) -> None:
        dialog = self._dialogs.get(id(call))
        if dialog is not None:
            dialog.setMaximum(call.total_steps)
            dialog.setValue(call.done_steps)
        if call is self._visible:
            self._refresh_indicator()

    def _refresh_indicator(self) -> None:
        call = self._visible
        if call is None:
            self.indicator.hide()
            return
        others = sum(1 for c in self.calls if c is not call and not c.dialog)
        more = f" (+{others} more)" if others else ""
        self.label.setText(f"{call.label}…{more}")
        if call.total_steps:
            self.bar.setRange(0, call.total_steps)
            self.bar.setValue(call.done_steps)
        else:
            self.bar.setRange(0, 0)  # busy: the call cannot say how far it is
        self.indicator.show()

    def _on_call_finished(self, call: LongCall) -> None:
        if call in self.calls:
            self.calls.remove(call)
        dialog = self._dialogs.pop(id(call), None)
        if dialog is not None:
            dialog.canceled.disconnect(call.cancel)
            dialog.close()
            dialog.deleteLater()
        if call is self._visible:
            waiting = [
                c
                for c in self.calls
                if not c.dialog and (time.monotonic() - c.started) * 1000 >= SHOW_AFTER_MS
            ]
            self._visible = waiting[-1] if waiting else None
            self._refresh_indicator()
            self.hidden.emit(call)
        call.deleteLater()

    def _on_cancel_button_clicked(self) -> None:
        if self._visible is not None:
            self._visible.cancel()


def track(
    widget: QWidget,
    label: str,
    work: asyncio.Future[Any] | Coroutine[Any, Any, Any],
    *,
    dialog: bool = False,
) -> LongCall:
    """Track ``work`` in the progress host of ``widget``'s window (any widget of it will do).

    Outside a window with a host (a pane tested on its own) the call is still tracked and can
    be cancelled; nothing is shown.
    """
    host = widget.window().findChild(ProgressHost, "progressHost")
    if host is None:
        host = widget.findChild(ProgressHost, "progressHost")
    if isinstance(host, ProgressHost):
        return host.track(label, work, dialog=dialog)
    task = work if isinstance(work, asyncio.Future) else asyncio.ensure_future(work)
    return LongCall(label, task, dialog=dialog)
