"""The console's local SQLite cache (per profile) and the queries offline review needs."""

from opsconsole.console.cache.store import DEFAULT_RETENTION_DAYS, Cache

__all__ = ["DEFAULT_RETENTION_DAYS", "Cache"]
