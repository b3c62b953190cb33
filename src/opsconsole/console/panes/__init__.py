"""The dock panes of the main window, one module (and one class) per pane."""
