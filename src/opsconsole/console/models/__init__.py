"""Table models (QAbstractTableModel subclasses) the panes show in their views."""
