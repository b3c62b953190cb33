"""The installable console: the PyInstaller bundle builds and runs the console offscreen.

Builds `dist/opsconsole/` from `packaging/opsconsole.spec` (as `make package` does) unless a
bundle newer than every source file is there already, then runs it: `--version`, the console
to its first frame, and `demo` (the bundled control plane, simulator and console on loopback)
for a few seconds, closed by SIGTERM. Run alone with `pytest -m package tests/packaging`.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import opsconsole

pytestmark = [
    pytest.mark.package,
    pytest.mark.skipif(
        importlib.util.find_spec("PyInstaller") is None,
        reason="PyInstaller is not installed: pip install -e '.[package]' (or `make package`)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "opsconsole.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
EXE = DIST / "opsconsole" / ("opsconsole.exe" if sys.platform == "win32" else "opsconsole")
BUILD_TIMEOUT_S = 1500
SOURCES = ("src/opsconsole", "packaging", "resources", "pyproject.toml")


def _newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else path.rglob("*")
        for item in files:
            if item.is_file() and "__pycache__" not in item.parts:
                newest = max(newest, item.stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The bundle's executable, built now unless a fresh one exists."""
    if EXE.exists() and EXE.stat().st_mtime > _newest_source():
        print(f"\nreusing {EXE} (newer than every source file)")
        return EXE
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(DIST),
            "--workpath",
            str(WORK),
            str(SPEC),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"PyInstaller failed:\n{done.stderr[-4000:]}"
    assert EXE.exists()
    print(f"\nbuilt {EXE} in {time.monotonic() - started:.0f} s")
    return EXE


@pytest.fixture
def offscreen(tmp_path: Path) -> dict[str, str]:
    """The environment of a headless run, with settings, cache and logs in tmp_path."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        OPSCONSOLE_CONSOLE_CONFIG_DIR=str(tmp_path / "config"),
        OPSCONSOLE_CONSOLE_DATA_DIR=str(tmp_path / "data"),
        OPSCONSOLE_CONSOLE_LOG_DIR=str(tmp_path / "logs"),
    )
    # The bundle must not lean on this checkout's interpreter or sources.
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def _log(tmp_path: Path) -> str:
    path = tmp_path / "logs" / "console.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, process: subprocess.Popen[str]
) -> None:
    """Poll ``condition`` (a callable) until true; fail early when the process has ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the bundle exited ({process.returncode}) before {what}:\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces: the fields follow it.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_version_is_the_installed_version(bundle: Path, offscreen: dict[str, str]) -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [str(bundle), "--version"],
        env=offscreen,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"opsconsole {opsconsole.__version__}"
    assert "unknown" not in done.stdout  # the package's metadata is in the bundle
    print(f"\nbundled --version: {elapsed * 1000:.0f} ms")


def test_console_reaches_its_first_frame(
    bundle: Path, offscreen: dict[str, str], tmp_path: Path
) -> None:
    """The bundled console opens a profile (offline: no server) and draws its window."""
    env = {**offscreen, "OPSCONSOLE_FIRST_FRAME_EXIT": "1"}
    command = [str(bundle), "console", "--profile", "bundle", "--url", "https://127.0.0.1:9"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--offline"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "first frame:" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "first frame" in _log(tmp_path)  # the rotating log file is written
    print(f"\nbundled console, process start to first frame and exit: {elapsed * 1000:.0f} ms")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is not a polite request on Windows")
def test_demo_runs_on_loopback_and_exits_cleanly(
    bundle: Path, offscreen: dict[str, str], tmp_path: Path
) -> None:
    """Control plane (migrations included), simulator and console, all from the bundle."""
    process = subprocess.Popen(
        [str(bundle), "demo", "--users", "50", "--rate", "5"],
        env=offscreen,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The console logged in over TLS and streams live data from the bundled server.
        _wait_for(
            lambda: "stream open" in _log(tmp_path),
            timeout=120,
            what="the console's stream to the bundled server",
            process=process,
        )
        opened = time.monotonic()
        # A few seconds of live traffic with the window up; the process must stay up.
        _wait_for(
            lambda: time.monotonic() - opened > 4,
            timeout=10,
            what="a few seconds of running",
            process=process,
        )
        children = _children_of(process.pid) if sys.platform.startswith("linux") else []
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err[-4000:]
    assert "Traceback" not in err, err[-4000:]
    log = _log(tmp_path)
    assert "console closed" in log  # the normal close path: layout saved, connection closed
    assert "demo control plane: https://127.0.0.1:" in out
    # The back end (a child process) went with the console.
    assert children, "the demo's back-end process was not found"
    for child in children:
        assert not Path(f"/proc/{child}").exists() or _zombie(child), f"{child} still runs"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
