"""`opsconsole bench ...`: one handler serves every bench, passing the flags its `run` names."""

from __future__ import annotations

import importlib
import inspect

import pytest

from opsconsole.cli import build_parser

# What the top-level parser puts in every namespace, besides the bench's own flags.
NOT_BENCH_FLAGS = {"verbose", "command", "bench_command", "handler"}


@pytest.mark.parametrize("bench", ["users", "gate", "foundation", "console", "wall", "stream"])
def test_each_bench_flag_is_a_keyword_of_its_run(bench: str) -> None:
    args = build_parser().parse_args(["bench", bench])
    flags = set(vars(args)) - NOT_BENCH_FLAGS
    run = importlib.import_module(f"opsconsole.bench.{bench}").run

    # A flag run() does not take would be dropped without a word; one it takes but no flag
    # supplies would fail only when the bench is run.
    assert flags | {"out"} == set(inspect.signature(run).parameters)
