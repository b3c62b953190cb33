"""Reusable widgets of the console: headline tiles, live charts, confirmation dialogs, the
sorted table of a queue-like pane."""
