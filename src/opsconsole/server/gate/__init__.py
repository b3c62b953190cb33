"""The gate: per-request admission, routing, usage reports, budgets, breakers and switches."""
