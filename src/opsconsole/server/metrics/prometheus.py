"""The live figures on `/metrics` for Prometheus, updated from each snapshot (not per event,
so the hot path pays nothing for them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from opsconsole.wire.metrics import Counts, Health, Latency, MetricsSnapshot

HEALTH_VALUE = {Health.HEALTHY: 0, Health.DEGRADED: 1, Health.DOWN: 2}


class MetricsExporter:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "opsconsole_gate_decisions",
            "Gate decisions by reason (ok = admitted).",
            ["reason"],
            registry=registry,
        )
        self.reports = Counter(
            "opsconsole_gate_reports",
            "Usage reports by provider and status.",
            ["provider", "status"],
            registry=registry,
        )
        self.tokens = Counter(
            "opsconsole_gate_tokens",
            "Tokens reported, by provider and direction (input or output).",
            ["provider", "direction"],
            registry=registry,
        )
        self.cost = Counter(
            "opsconsole_gate_cost_dollars",
            "Reported cost in dollars, by provider.",
            ["provider"],
            registry=registry,
        )
        self.latency = Gauge(
            "opsconsole_provider_latency_ms",
            "Provider latency percentiles over the last 5 minutes, in milliseconds.",
            ["provider", "quantile"],
            registry=registry,
        )
        self.gate_us = Gauge(
            "opsconsole_gate_decision_microseconds",
            "The gate's own decision time over the last 5 minutes, percentiles in microseconds.",
            ["quantile"],
            registry=registry,
        )
        self.active = Gauge(
            "opsconsole_active_users",
            "Distinct users with a request in the window (5m or today).",
            ["window"],
            registry=registry,
        )
        self.health = Gauge(
            "opsconsole_provider_health",
            "Provider health: 0 healthy, 1 degraded, 2 down.",
            ["provider"],
            registry=registry,
        )
        self.success = Gauge(
            "opsconsole_provider_success_ratio",
            "Share of a provider's reports over the last 5 minutes that succeeded.",
            ["provider"],
            registry=registry,
        )

    def observe(
        self, snapshot: MetricsSnapshot, recent: dict[str, Counts], gate_us: Latency
    ) -> None:
        """Count the snapshot's facts; set the gauges from the last five minutes."""
        if snapshot.total.admits:
            self.decisions.labels("ok").inc(snapshot.total.admits)
        for reason, count in snapshot.total.denials.items():
            self.decisions.labels(reason).inc(count)
        for name, counts in snapshot.providers.items():
            if counts.reports:
                ok = counts.reports - counts.errors - counts.timeouts
                for status, count in (("ok", ok), ("error", counts.errors)):
                    self.reports.labels(name, status).inc(count)
                self.reports.labels(name, "timeout").inc(counts.timeouts)
                self.tokens.labels(name, "input").inc(counts.input_tokens)
                self.tokens.labels(name, "output").inc(counts.output_tokens)
                self.cost.labels(name).inc(counts.cost)
        for name, counts in recent.items():
            _set_latency(self.latency, counts.latency_ms, name)
        for quantile, value in _quantiles(gate_us):
            self.gate_us.labels(quantile).set(value)
        self.active.labels("5m").set(snapshot.active_users_5m)
        self.active.labels("today").set(snapshot.active_users_today)
        for health in snapshot.health:
            self.health.labels(health.name).set(HEALTH_VALUE[health.status])
            if health.success_rate is not None:
                self.success.labels(health.name).set(health.success_rate)


def _quantiles(latency: Latency) -> list[tuple[str, float]]:
    pairs = (("0.5", latency.p50), ("0.95", latency.p95), ("0.99", latency.p99))
    return [(quantile, value) for quantile, value in pairs if value is not None]


def _set_latency(gauge: Gauge, latency: Latency, provider: str) -> None:
    for quantile, value in _quantiles(latency):
        gauge.labels(provider, quantile).set(value)
