"""Every option of the control plane: defaults, OPSCONSOLE_* variables and CLI flags."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "opsconsole"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class SlaPolicy(BaseSettings):
    """First-response and resolution deadlines per ticket priority, in minutes."""

    urgent: tuple[int, int] = (60, 4 * 60)
    high: tuple[int, int] = (4 * 60, 24 * 60)
    normal: tuple[int, int] = (24 * 60, 72 * 60)
    low: tuple[int, int] = (72 * 60, 7 * 24 * 60)


class Settings(BaseSettings):
    """Control-plane settings. Each field is also `OPSCONSOLE_<FIELD>` and a `serve` flag."""

    model_config = SettingsConfigDict(env_prefix="OPSCONSOLE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    db: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir")
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    tls: Literal["", "self-signed"] = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False

    # Operator sessions.
    session_idle_minutes: int = Field(default=30, ge=1)
    session_lifetime_hours: int = Field(default=12, ge=1)
    step_up_minutes: int = Field(default=10, ge=1)
    # Login throttling: an account locks after this many failures within the window.
    lockout_failures: int = Field(default=10, ge=1)
    lockout_window_minutes: int = Field(default=15, ge=1)
    # After this many failures for one username, attempts are spaced (429 with Retry-After).
    throttle_after_failures: int = Field(default=5, ge=1)
    throttle_seconds: int = Field(default=30, ge=0)
    # Failures from one address within the window before it gets 429s.
    address_failures: int = Field(default=50, ge=1)

    # Requests.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    sla: SlaPolicy = Field(default_factory=SlaPolicy)

    # The gate.
    redis: str = Field(default="", description="redis:// URL; empty keeps counters in memory")
    redis_prefix: str = Field(default="opsconsole:", description="namespace of our Redis keys")
    gate_global_rpm: int = Field(default=6000, ge=1, description="requests/min, all users")
    gate_day_cap: float = Field(default=200.0, gt=0, description="global spend cap, $/day")
    gate_week_cap: float = Field(default=1000.0, gt=0, description="global spend cap, $/week")
    gate_peak_hours: list[int] = Field(
        default=[18, 19, 20, 21], description="UTC hours that prefer the cheapest provider"
    )
    gate_high_load_rpm: int = Field(default=0, ge=0, description="above it, cheapest; 0: off")
    gate_auto_register: bool = Field(
        default=False, description="admit unknown users as the free tier instead of refusing"
    )

    # Demo only: the server's clock runs this many times faster than real time, from
    # clock_start (default: now), so that a simulated day passes in minutes. Environment
    # only (OPSCONSOLE_CLOCK_SPEEDUP, OPSCONSOLE_CLOCK_START): no `serve` flag on purpose.
    clock_speedup: float = Field(default=1.0, gt=0, le=100_000, description="demo only")
    clock_start: datetime | None = Field(default=None, description="demo only, ISO 8601")

    # Live metrics.
    metrics_tick_s: float = Field(
        default=1.0, ge=0, description="real seconds between snapshots; 0: only when asked"
    )
    metrics_replica_id: str = Field(
        default="", max_length=64, description="this replica in the rollup table; empty: random"
    )
    health_down_success: float = Field(
        default=0.5, ge=0, le=1, description="success rate (5 min) below which a provider is down"
    )
    health_degraded_success: float = Field(
        default=0.95, ge=0, le=1, description="success rate (5 min) below which it is degraded"
    )
    health_p95_ms: float = Field(
        default=5000.0, gt=0, description="p95 latency (5 min) above which it is degraded"
    )
    health_min_reports: int = Field(
        default=5, ge=1, description="reports (5 min) needed before rates and p95 count"
    )

    # The live stream (WS /v1/stream).
    stream_queue_messages: int = Field(
        default=2000, ge=1, description="messages a console may fall behind before it is dropped"
    )
    stream_heartbeat_s: float = Field(default=15.0, gt=0, description="heartbeat message period")
    stream_session_check_s: float = Field(
        default=10.0, gt=0, description="how often open streams re-check expiry and idle time"
    )

    # Alerts.
    alerts_interval_s: float = Field(default=5.0, gt=0, description="seconds between evaluations")
    alerts_history_refresh_s: float = Field(
        default=60.0, ge=0, description="how long figures read from the database are reused"
    )
    alerts_webhooks: list[str] = Field(
        default=[], description='webhook URLs (Slack-compatible), JSON list: ["https://..."]'
    )
    alerts_webhook_attempts: int = Field(default=6, ge=1, le=20)
    alerts_webhook_backoff_s: float = Field(
        default=1.0, gt=0, description="first retry delay; doubles with each attempt"
    )
    alerts_webhook_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def database_url(self) -> str:
        if self.db:
            return self.db
        return f"sqlite:///{self.data_dir / 'opsconsole.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
