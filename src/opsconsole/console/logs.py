"""The console's log file: rotating files in the user log directory, and their last lines.

An operator who reports a problem can send the log (the About dialog says where it is and
copies its tail with the diagnostics). Files rotate by size so the directory never grows
without bound.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections import deque
from pathlib import Path

import platformdirs

from opsconsole.console.settings import APP_NAME, DATA_DIR_ENV

# Tests and the demo point the log directory elsewhere, like the config and data directories.
LOG_DIR_ENV = "OPSCONSOLE_CONSOLE_LOG_DIR"
LOG_FILE = "console.log"
MAX_BYTES = 2_000_000  # a few days of a busy console at INFO
BACKUPS = 5  # console.log.1 .. console.log.5: at most ~12 MB in all
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_handler: logging.handlers.RotatingFileHandler | None = None


def default_log_dir() -> Path:
    """``$OPSCONSOLE_CONSOLE_LOG_DIR``, else ``logs`` beside a redirected data directory (the
    tests' and the demo's), else the platform's user log directory."""
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    data = os.environ.get(DATA_DIR_ENV)
    if data:
        return Path(data).expanduser() / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def setup(
    log_dir: Path | None = None, *, level: int = logging.INFO, max_bytes: int = MAX_BYTES
) -> Path:
    """Send the process's log records (root logger) to a rotating file; returns its path.

    Calling it again with the same directory changes nothing; with another directory the
    previous file handler is replaced, so a process never writes two console logs.
    """
    global _handler  # noqa: PLW0603 - one file handler per process, by design
    path = (log_dir or default_log_dir()) / LOG_FILE
    if _handler is not None and Path(_handler.baseFilename) == path.absolute():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    _handler = handler
    return path


def current_log_file() -> Path | None:
    """The file the console writes to, or None before :func:`setup`."""
    return Path(_handler.baseFilename) if _handler is not None else None


def shutdown() -> None:
    """Close and detach the file handler (tests; the process's exit does it otherwise)."""
    global _handler  # noqa: PLW0603
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None


def last_lines(count: int = 200, path: Path | None = None) -> list[str]:
    """The last ``count`` lines of the log, reaching into the rotated files when needed."""
    path = path or current_log_file()
    if path is None:
        return []
    lines: deque[str] = deque()
    # Newest first: console.log, console.log.1, ... until there are enough lines.
    for n in range(BACKUPS + 1):
        candidate = path.with_name(f"{path.name}.{n}") if n else path
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            break
        lines.extendleft(reversed(text.splitlines()))
        if len(lines) >= count:
            break
    return list(lines)[-count:] if count else []
