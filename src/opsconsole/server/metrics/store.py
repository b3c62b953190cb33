"""Reading and writing the rollup table (`models.MetricRollup`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    cast,
    delete,
    func,
    insert,
    literal_column,
    not_,
    select,
)
from sqlalchemy.orm import Session

from opsconsole.server.gate.models import DecisionRow
from opsconsole.server.metrics.aggregator import Rollup, at_epoch
from opsconsole.server.metrics.cells import Cell, Sketch, merge_cells
from opsconsole.server.metrics.models import MetricRollup


def rows_of(rollup: Rollup, replica: str) -> list[dict[str, Any]]:
    """The total row (always, zeros included), one per provider and one per tier."""
    sources = [rollup.cells]
    dimensions: list[tuple[str, str, Cell]] = [("", "", merge_cells(sources))]
    for provider in sorted({key[0] for key in rollup.cells if key[0]}):
        dimensions.append((provider, "", merge_cells(sources, provider=provider)))
    for tier in sorted({key[1] for key in rollup.cells if key[1]}):
        dimensions.append(("", tier, merge_cells(sources, tier=tier)))
    start = at_epoch(rollup.start)
    return [
        {
            "step": rollup.step,
            "start": start,
            "replica": replica,
            "provider": provider,
            "tier": tier,
            "requests": cell.requests,
            "admits": cell.admits,
            "denials": json.dumps(cell.denials, sort_keys=True),
            "reports": cell.reports,
            "errors": cell.errors,
            "timeouts": cell.timeouts,
            "input_tokens": cell.input_tokens,
            "output_tokens": cell.output_tokens,
            "cost": cell.cost,
            "latency": cell.latency.encode() if cell.latency is not None else None,
            "gate_us": cell.gate_us.encode() if cell.gate_us is not None else None,
        }
        for provider, tier, cell in dimensions
    ]


def write(session: Session, rollups: Sequence[Rollup], replica: str) -> None:
    """Replace this replica's rows of each rollup's interval (an open hour is rewritten)."""
    for rollup in rollups:
        session.execute(
            delete(MetricRollup).where(
                MetricRollup.step == rollup.step,
                MetricRollup.start == at_epoch(rollup.start),
                MetricRollup.replica == replica,
            )
        )
        session.execute(insert(MetricRollup), rows_of(rollup, replica))


def cell_of(row: MetricRollup) -> Cell:
    return Cell(
        requests=row.requests,
        admits=row.admits,
        denials=json.loads(row.denials),
        reports=row.reports,
        errors=row.errors,
        timeouts=row.timeouts,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost=row.cost,
        latency=Sketch.decode(row.latency) if row.latency else None,
        gate_us=Sketch.decode(row.gate_us) if row.gate_us else None,
    )


def _not_in_memory(replica: str, memory_from: datetime) -> ColumnElement[bool]:
    # This process's own recent rows are read from memory, which is newer.
    return not_(and_(MetricRollup.replica == replica, MetricRollup.start >= memory_from))


def read(
    session: Session,
    *,
    step: str,
    start: datetime,
    end: datetime,
    provider: str | None,
    tier: str | None,
    replica: str,
    memory_from: datetime,
) -> list[tuple[datetime, Cell]]:
    """Rows of one dimension in [start, end), every replica's, except what memory holds."""
    rows = session.scalars(
        select(MetricRollup).where(
            MetricRollup.step == step,
            MetricRollup.start >= start,
            MetricRollup.start < end,
            MetricRollup.provider == (provider or ""),
            MetricRollup.tier == (tier or ""),
            _not_in_memory(replica, memory_from),
        )
    )
    return [(row.start, cell_of(row)) for row in rows]


def running(session: Session, *, step: str, start: datetime, end: datetime) -> set[datetime]:
    """Starts of the intervals some replica recorded (a total row exists): there a missing
    provider or tier row means zero, elsewhere nothing was measured."""
    rows = session.scalars(
        select(MetricRollup.start)
        .where(
            MetricRollup.step == step,
            MetricRollup.start >= start,
            MetricRollup.start < end,
            MetricRollup.provider == "",
            MetricRollup.tier == "",
        )
        .distinct()
    )
    return set(rows)


def spend_by_provider(
    session: Session, *, start: datetime, end: datetime, replica: str, memory_from: datetime
) -> dict[str, float]:
    rows = session.execute(
        select(MetricRollup.provider, func.sum(MetricRollup.cost))
        .where(
            MetricRollup.step == "1m",
            MetricRollup.start >= start,
            MetricRollup.start < end,
            MetricRollup.provider != "",
            MetricRollup.tier == "",
            _not_in_memory(replica, memory_from),
        )
        .group_by(MetricRollup.provider)
    )
    return {provider: float(total or 0.0) for provider, total in rows}


def active_users(
    session: Session,
    *,
    dialect: str,
    bucket_s: int,
    start: datetime,
    end: datetime,
    provider: str | None,
    tier: str | None,
) -> dict[int, int]:
    """Distinct users per bucket (epoch seconds of its start) from the decisions themselves:
    exact across replicas, where summing each replica's distinct counts would not be."""
    if dialect == "sqlite":
        epoch: ColumnElement[int] = cast(func.strftime("%s", DecisionRow.at), Integer)
    else:
        epoch = cast(func.floor(func.extract("epoch", DecisionRow.at)), BigInteger)
    # A literal, not a parameter: GROUP BY must repeat the selected expression exactly.
    bucket = (epoch - epoch % literal_column(str(int(bucket_s)))).label("bucket")
    conditions = [
        DecisionRow.at >= start,
        DecisionRow.at < end,
        DecisionRow.user_pk.is_not(None),
    ]
    if provider is not None:
        conditions.append(DecisionRow.provider == provider)
    if tier is not None:
        conditions.append(DecisionRow.tier == tier)
    rows = session.execute(
        select(bucket, func.count(func.distinct(DecisionRow.user_pk)))
        .where(*conditions)
        .group_by(bucket)
    )
    return {int(key): int(count) for key, count in rows}
