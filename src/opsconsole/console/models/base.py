"""What every table model of the console shares: a list of rows under a fixed header, and
``data`` answered role by role.

A model names its columns in ``headers``, keeps its rows in ``self._rows`` and, when it is
made, says how a cell reads: its ``text`` always; its sort key, colour and tooltip where it
has them; any other role in ``roles``. A role it does not give reads as None, except
``ROW_ROLE``, which every model answers with the row itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from opsconsole.console.qt import (
    QAbstractTableModel,
    QColor,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

Index = QModelIndex | QPersistentModelIndex
R = TypeVar("R")
# How one role of a cell reads: (the row, the column) -> the value Qt gets for that role.
CellReader = Callable[[R, int], Any]

# The raw value behind a cell, for sorting by value rather than by the text shown.
SORT_ROLE = Qt.ItemDataRole.UserRole
# The row behind the cell (a wire model), for a proxy's filter or a pane's selection.
ROW_ROLE = Qt.ItemDataRole.UserRole + 1


def _whole_row(row: R, column: int) -> R:
    return row


class RowsTable(QAbstractTableModel, Generic[R]):
    """Rows of one type, one per line, under ``headers``.

    Args:
        text: what the cell at (row, column) shows.
        sort_key: its value under ``SORT_ROLE``.
        colour: its text colour (None: the palette's).
        tip: its tooltip (None: none).
        roles: how each further role the model answers reads.
    """

    headers: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        text: Callable[[R, int], str],
        *,
        sort_key: CellReader[R] | None = None,
        colour: Callable[[R, int], QColor | None] | None = None,
        tip: Callable[[R, int], str | None] | None = None,
        roles: Mapping[int, CellReader[R]] | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._rows: list[R] = []
        given: dict[int, CellReader[R] | None] = {
            Qt.ItemDataRole.DisplayRole: text,
            ROW_ROLE: _whole_row,
            SORT_ROLE: sort_key,
            Qt.ItemDataRole.ForegroundRole: colour,
            Qt.ItemDataRole.ToolTipRole: tip,
            **(roles or {}),
        }
        self._readers = {role: read for role, read in given.items() if read is not None}

    # --- Qt overrides -----------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        read = self._readers.get(role)
        if read is None or not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return read(self._rows[index.row()], index.column())

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.headers)
        ):
            return self.headers[section]
        return None
