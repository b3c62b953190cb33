"""Business figures: revenue, AI cost and margin by tier, cost forecasts, recommendations."""
