"""The sorted table a queue-like pane shows its model in (alerts, the ticket queue): whole
rows picked one at a time, no row numbers, one line per row, and columns the operator can
resize from the widths the pane starts with."""

from __future__ import annotations

from collections.abc import Sequence

from opsconsole.console.qt import (
    QAbstractItemView,
    QHeaderView,
    QSortFilterProxyModel,
    Qt,
    QTableView,
)


def sorted_rows_table(
    proxy: QSortFilterProxyModel,
    name: str,
    *,
    sort_by: int,
    order: Qt.SortOrder,
    widths: Sequence[int],
) -> QTableView:
    """A table over ``proxy`` (which does the sorting), with ``name`` as its object name,
    sorted by column ``sort_by`` until the operator clicks another header.

    ``widths`` are the columns' first widths, left to right; the last column also stretches
    to fill the view.
    """
    table = QTableView()
    table.setObjectName(name)
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(sort_by, order)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    for column, width in enumerate(widths):
        table.setColumnWidth(column, width)
    return table
