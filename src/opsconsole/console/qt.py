"""The one module that imports PySide6 and qasync; the rest of the console imports Qt from here.

Keeping the binding in one place lets a test or a later port change it once, and makes sure
qasync binds to PySide6 (it picks whichever Qt binding was imported first). `QEventLoop` is
qasync's loop with one correction (see its docstring).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import (
    Property,
    QAbstractTableModel,
    QByteArray,
    QCoreApplication,
    QDate,
    QDateTime,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSettings,
    QSize,
    QSortFilterProxyModel,
    QStandardPaths,
    Qt,
    QThread,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QCloseEvent,
    QColor,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QIcon,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QShortcut,
    QStandardItem,
    QStandardItemModel,
    QStyleHints,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QStyle,
    QStyleFactory,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QTextEdit,
    QToolBar,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

# qasync binds to the Qt module already imported, which the imports above guarantee is PySide6;
# imported by name so that import sorting cannot move it above them.
qasync = importlib.import_module("qasync")

if TYPE_CHECKING:
    from collections.abc import Callable

_QasyncEventLoop: Any = qasync.QEventLoop


class QEventLoop(_QasyncEventLoop):  # type: ignore[misc]  # qasync has no type information
    """qasync's asyncio loop on the Qt event loop, which runs asyncio callbacks only while it
    runs, as asyncio's own loops do.

    qasync hands every asyncio callback (a task step, a socket that became readable) to Qt as
    a timer, and Qt fires it whenever anyone processes events: qasync's own last
    ``processEvents()`` after ``run_forever`` has returned, pytest-qt or a dialog's ``exec()``
    between two ``run_until_complete`` calls. No asyncio loop is running then, so a task
    stepped there dies at its first ``get_running_loop()`` with "no running event loop": the
    connection's stream task in the websockets handshake (no live updates again), an httpx
    request halfway through taking a lock in its connection pool (a lock a dead task holds
    can hang a later request past every httpx timeout). Here a callback that comes due
    while the loop is not running waits for the loop's next run instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._deferred: list[asyncio.Handle] = []
        super().__init__(*args, **kwargs)

    def _add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        super()._add_callback(_WhenRunning(handle, self), delay)
        return handle

    def _defer(self, handle: asyncio.Handle) -> None:
        self._deferred.append(handle)

    def run_forever(self) -> Any:
        deferred, self._deferred = self._deferred, []
        for handle in deferred:
            if not handle.cancelled():
                super()._add_callback(_WhenRunning(handle, self), 0)
        return super().run_forever()

    def close(self) -> None:
        self._deferred.clear()
        super().close()


class _WhenRunning:
    """A callback as qasync's timer sees it: run now if its loop is running, else deferred to
    the loop's next run. (qasync's timer reads ``_cancelled`` and calls ``_run()``.)"""

    __slots__ = ("handle", "loop")

    def __init__(self, handle: asyncio.Handle, loop: QEventLoop) -> None:
        self.handle = handle
        self.loop = loop

    @property
    def _cancelled(self) -> bool:
        return self.handle.cancelled()

    def _run(self) -> None:
        if asyncio._get_running_loop() is self.loop:
            self.handle._run()
        else:
            self.loop._defer(self.handle)

    def __repr__(self) -> str:
        return repr(self.handle)


QThreadExecutor: Any = qasync.QThreadExecutor
asyncSlot: Callable[..., Any] = qasync.asyncSlot  # noqa: N816  (qasync's spelling)
asyncClose: Callable[..., Any] = qasync.asyncClose  # noqa: N816

__all__ = [
    "Property",
    "QAbstractItemView",
    "QAbstractTableModel",
    "QAction",
    "QApplication",
    "QBrush",
    "QByteArray",
    "QCheckBox",
    "QCloseEvent",
    "QColor",
    "QComboBox",
    "QCoreApplication",
    "QDate",
    "QDateEdit",
    "QDateTime",
    "QDateTimeEdit",
    "QDesktopServices",
    "QDialog",
    "QDialogButtonBox",
    "QDockWidget",
    "QDoubleSpinBox",
    "QEvent",
    "QEventLoop",
    "QFileDialog",
    "QFont",
    "QFontMetrics",
    "QFormLayout",
    "QFrame",
    "QGridLayout",
    "QGroupBox",
    "QGuiApplication",
    "QHBoxLayout",
    "QHeaderView",
    "QIcon",
    "QInputDialog",
    "QItemSelectionModel",
    "QKeyEvent",
    "QKeySequence",
    "QLabel",
    "QLineEdit",
    "QListWidget",
    "QListWidgetItem",
    "QMainWindow",
    "QMenu",
    "QMenuBar",
    "QMessageBox",
    "QModelIndex",
    "QObject",
    "QPainter",
    "QPalette",
    "QPen",
    "QPersistentModelIndex",
    "QPixmap",
    "QPlainTextEdit",
    "QPoint",
    "QProgressBar",
    "QProgressDialog",
    "QPushButton",
    "QRadioButton",
    "QRect",
    "QScrollArea",
    "QSettings",
    "QShortcut",
    "QSize",
    "QSizePolicy",
    "QSortFilterProxyModel",
    "QSpinBox",
    "QSplitter",
    "QStackedWidget",
    "QStandardItem",
    "QStandardItemModel",
    "QStandardPaths",
    "QStatusBar",
    "QStyle",
    "QStyleFactory",
    "QStyleHints",
    "QTabWidget",
    "QTableView",
    "QTextBrowser",
    "QTextEdit",
    "QThread",
    "QThreadExecutor",
    "QTimer",
    "QToolBar",
    "QToolButton",
    "QTreeView",
    "QUrl",
    "QVBoxLayout",
    "QWidget",
    "Qt",
    "QtCore",
    "QtGui",
    "QtWidgets",
    "Signal",
    "Slot",
    "asyncClose",
    "asyncSlot",
]
