"""Live metrics: per-second aggregation of gate decisions and usage, minute and hour rollups,
provider health, series and summary routes, and Prometheus figures."""
