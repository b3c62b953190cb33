"""Alerts: rules as data, evaluated against live figures, with lifecycle, acks and silences."""
