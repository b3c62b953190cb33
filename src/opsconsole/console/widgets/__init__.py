"""Reusable widgets of the console: headline tiles, live charts, confirmation dialogs."""
