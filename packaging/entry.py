"""The bundle's entry point: the same as the ``opsconsole`` command (``opsconsole.cli:main``).

Two things only a frozen program needs: ``multiprocessing`` children (``serve --workers``)
re-enter through this executable, and code that starts ``sys.executable -m opsconsole.cli
...`` (the demo's back end, the benchmarks) reaches the CLI too, since in a bundle
``sys.executable`` is this program, not a Python interpreter.
"""

from __future__ import annotations

import multiprocessing
import sys

from opsconsole.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if getattr(sys, "frozen", False) and sys.argv[1:3] == ["-m", "opsconsole.cli"]:
        del sys.argv[1:3]
    raise SystemExit(main())
