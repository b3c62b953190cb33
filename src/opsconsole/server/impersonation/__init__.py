"""Impersonation: time-limited, audited tokens that let an operator see the app as one user."""
