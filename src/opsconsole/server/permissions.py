"""Who may call what: the one permission table of the control plane.

Every route of the app has exactly one entry in :data:`ROUTE_ACCESS`; a route without one is
refused to everyone (deny by default) and fails the test that walks the app's routes. Roles
map to permissions in :data:`ROLE_PERMISSIONS`; nothing else grants anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opsconsole.wire.common import Role


class Permission(StrEnum):
    OPERATORS_READ = "operators:read"
    OPERATORS_MANAGE = "operators:manage"
    APP_KEYS_MANAGE = "app-keys:manage"
    SESSIONS_MANAGE = "sessions:manage"  # see and end other operators' sessions
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"  # suspend, activate, quota overrides
    USERS_TIER = "users:tier"
    USERS_BULK = "users:bulk"
    USERS_EXPORT = "users:export"
    USERS_ERASE = "users:erase"
    TICKETS_READ = "tickets:read"
    TICKETS_WRITE = "tickets:write"
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    GATE_READ = "gate:read"  # tiers, providers and switch states: no personal data
    GATE_DRY_RUN = "gate:dry-run"  # "why is this user refused?"
    TIERS_WRITE = "tiers:write"
    PROVIDERS_WRITE = "providers:write"  # prices, enabling, breaker settings, trip and reset
    CONTROLS_WRITE = "controls:write"  # the emergency switches
    ALERTS_READ = "alerts:read"  # rules, alerts and silences
    ALERTS_WRITE = "alerts:write"  # edit rules, acknowledge alerts, silence
    METRICS_READ = "metrics:read"  # live figures, series, summary, provider health: every role
    # Revenue, AI cost, margin, forecasts, savings: the seeds' executive summary. Heavy users
    # are named only to roles that also have users:read.
    BUSINESS_READ = "business:read"
    # See the app as one end user (read-only), through a time-limited, audited token.
    IMPERSONATE = "impersonate"
    # Act as the user in the app (mode full); needs a step-up on top.
    IMPERSONATE_FULL = "impersonate:full"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ONCALL: frozenset(
        {
            P.USERS_READ,
            P.USERS_WRITE,
            P.USERS_BULK,
            P.TICKETS_READ,
            P.TICKETS_WRITE,
            P.AUDIT_READ,
            P.GATE_READ,
            P.GATE_DRY_RUN,
            P.PROVIDERS_WRITE,
            P.CONTROLS_WRITE,
            P.ALERTS_READ,
            P.ALERTS_WRITE,
            P.METRICS_READ,
            P.BUSINESS_READ,  # cost forecasts against the caps, cheaper routing
            P.IMPERSONATE,  # to see what a user sees during an incident; never act as them
        }
    ),
    Role.SUPPORT: frozenset(
        {
            P.ALERTS_READ,
            P.METRICS_READ,
            P.USERS_READ,
            P.USERS_WRITE,
            P.USERS_TIER,
            P.USERS_BULK,
            P.USERS_EXPORT,
            P.TICKETS_READ,
            P.TICKETS_WRITE,
            P.GATE_READ,
            P.GATE_DRY_RUN,
            P.IMPERSONATE,  # troubleshooting a user's case is support's work
            P.IMPERSONATE_FULL,
        }
    ),
    Role.BILLING: frozenset(
        {
            P.USERS_READ,
            P.USERS_TIER,
            P.TICKETS_READ,
            P.AUDIT_READ,
            P.GATE_READ,
            P.TIERS_WRITE,
            P.ALERTS_READ,
            P.METRICS_READ,
            P.BUSINESS_READ,
        }
    ),
    # Viewers watch (the wall display); they change nothing and see no personal data
    # (a heavy-user alert names no user to them).
    # The business figures are the seeds' executive summary on that wall (revenue, AI cost,
    # margin), without naming heavy users.
    Role.VIEWER: frozenset({P.GATE_READ, P.ALERTS_READ, P.METRICS_READ, P.BUSINESS_READ}),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


@dataclass(frozen=True)
class Access:
    """How one route may be reached.

    Attributes:
        public: anyone, no credentials.
        operator: a signed-in operator may call it (subject to ``permission``).
        permission: the permission an operator needs; None means any signed-in operator.
        or_permission: another permission that also lets an operator in; the route then
            checks which of the two the request needs (a tier change needs users:tier).
        app_key: the AI app's backend may call it with its app key.
        step_up: an operator needs a recent step-up (password or TOTP re-entered).
    """

    public: bool = False
    operator: bool = False
    permission: Permission | None = None
    or_permission: Permission | None = None
    app_key: bool = False
    step_up: bool = False

    def allows(self, role: Role) -> bool:
        """Whether an operator with ``role`` gets past this entry (operators only)."""
        if not self.operator:
            return False
        if self.permission is None:
            return True
        return role_allows(role, self.permission) or (
            self.or_permission is not None and role_allows(role, self.or_permission)
        )

    @property
    def operator_only(self) -> bool:
        return self.operator and not self.app_key


PUBLIC = Access(public=True)
APP = Access(app_key=True)
SIGNED_IN = Access(operator=True)


def op(
    permission: Permission,
    *,
    step_up: bool = False,
    app_key: bool = False,
    or_permission: Permission | None = None,
) -> Access:
    return Access(
        operator=True,
        permission=permission,
        or_permission=or_permission,
        step_up=step_up,
        app_key=app_key,
    )


ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    # Probes and metrics: for load balancers and Prometheus on the private network.
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    # Sessions.
    ("POST", "/v1/auth/login"): PUBLIC,
    ("POST", "/v1/auth/logout"): SIGNED_IN,
    ("GET", "/v1/auth/me"): SIGNED_IN,
    ("POST", "/v1/auth/step-up"): SIGNED_IN,
    ("POST", "/v1/auth/totp"): SIGNED_IN,
    ("POST", "/v1/auth/password"): SIGNED_IN,
    ("GET", "/v1/auth/sessions"): SIGNED_IN,  # others' sessions need sessions:manage
    ("DELETE", "/v1/auth/sessions/{session_id}"): SIGNED_IN,  # likewise
    # Operators.
    ("GET", "/v1/operators"): op(P.OPERATORS_READ),
    ("POST", "/v1/operators"): op(P.OPERATORS_MANAGE, step_up=True),
    ("PATCH", "/v1/operators/{username}"): op(P.OPERATORS_MANAGE, step_up=True),
    # The AI app's keys.
    ("GET", "/v1/app-keys"): op(P.APP_KEYS_MANAGE),
    ("POST", "/v1/app-keys"): op(P.APP_KEYS_MANAGE, step_up=True),
    ("DELETE", "/v1/app-keys/{name}"): op(P.APP_KEYS_MANAGE, step_up=True),
    # End users.
    ("PUT", "/v1/users/{user_id}"): APP,
    ("PUT", "/v1/users"): APP,  # batch registration, up to 1000 users
    ("GET", "/v1/users"): op(P.USERS_READ),
    ("GET", "/v1/users/{user_id}"): op(P.USERS_READ),
    ("POST", "/v1/users/{user_id}/suspend"): op(P.USERS_WRITE),
    ("POST", "/v1/users/{user_id}/activate"): op(P.USERS_WRITE),
    # Overrides need users:write, a tier change users:tier: the route checks which applies.
    ("PATCH", "/v1/users/{user_id}"): op(P.USERS_WRITE, or_permission=P.USERS_TIER),
    ("POST", "/v1/users/bulk"): op(P.USERS_BULK, step_up=True),
    ("GET", "/v1/users/{user_id}/export"): op(P.USERS_EXPORT),  # audited: personal data
    ("DELETE", "/v1/users/{user_id}"): op(P.USERS_ERASE, step_up=True),
    # What the user details show: use against the limits, the last requests.
    ("GET", "/v1/users/{user_id}/usage"): op(P.USERS_READ),
    ("GET", "/v1/users/{user_id}/requests"): op(P.USERS_READ),
    # Tickets: the app opens them and adds the customer's messages.
    ("POST", "/v1/tickets"): op(P.TICKETS_WRITE, app_key=True),
    ("GET", "/v1/tickets"): op(P.TICKETS_READ),
    ("GET", "/v1/tickets/{ticket_id}"): op(P.TICKETS_READ),
    ("PATCH", "/v1/tickets/{ticket_id}"): op(P.TICKETS_WRITE),
    ("POST", "/v1/tickets/{ticket_id}/messages"): op(P.TICKETS_WRITE, app_key=True),
    # The gate: the app's hot path, and the operators' levers.
    ("POST", "/v1/gate/admit"): APP,
    ("POST", "/v1/gate/report"): APP,
    ("POST", "/v1/gate/dry-run"): op(P.GATE_DRY_RUN),
    ("GET", "/v1/tiers"): op(P.GATE_READ),
    ("PUT", "/v1/tiers/{name}"): op(P.TIERS_WRITE),
    ("GET", "/v1/providers"): op(P.GATE_READ),
    ("PATCH", "/v1/providers/{name}"): op(P.PROVIDERS_WRITE),
    ("POST", "/v1/providers/{name}/breaker"): op(P.PROVIDERS_WRITE),
    ("GET", "/v1/controls"): op(P.GATE_READ),
    ("PUT", "/v1/controls/{switch}"): op(P.CONTROLS_WRITE, step_up=True),
    # Audit.
    ("GET", "/v1/audit"): op(P.AUDIT_READ),
    ("GET", "/v1/audit/export"): op(P.AUDIT_EXPORT),
    ("GET", "/v1/audit/verify"): op(P.AUDIT_READ),
    # Alerts: everyone sees them; on-call (and admins) tune rules, acknowledge and silence.
    ("GET", "/v1/alert-rules"): op(P.ALERTS_READ),
    ("PUT", "/v1/alert-rules/{name}"): op(P.ALERTS_WRITE, step_up=True),  # may automate
    ("GET", "/v1/alerts"): op(P.ALERTS_READ),
    ("GET", "/v1/alerts/{alert_id}"): op(P.ALERTS_READ),
    ("POST", "/v1/alerts/{alert_id}/ack"): op(P.ALERTS_WRITE),
    ("GET", "/v1/silences"): op(P.ALERTS_READ),
    ("POST", "/v1/silences"): op(P.ALERTS_WRITE),
    ("DELETE", "/v1/silences/{silence_id}"): op(P.ALERTS_WRITE),
    # Live metrics: figures without personal data, for every role.
    ("GET", "/v1/metrics/series"): op(P.METRICS_READ),
    ("GET", "/v1/metrics/summary"): op(P.METRICS_READ),
    ("GET", "/v1/metrics/health"): op(P.METRICS_READ),
    # Business figures: aggregates; heavy users are named only with users:read.
    ("GET", "/v1/business"): op(P.BUSINESS_READ),
    ("GET", "/v1/business/forecast"): op(P.BUSINESS_READ),
    ("GET", "/v1/business/recommendations"): op(P.BUSINESS_READ),
    # Impersonation: full mode needs impersonate:full and a step-up (checked by the route);
    # others' impersonations are seen and ended with sessions:manage. The app introspects.
    ("POST", "/v1/impersonations"): op(P.IMPERSONATE),
    ("GET", "/v1/impersonations"): op(P.IMPERSONATE),
    ("DELETE", "/v1/impersonations/{impersonation_id}"): op(P.IMPERSONATE),
    ("POST", "/v1/impersonations/introspect"): APP,
}

# WebSocket routes are not in the OpenAPI document (nor in ROUTE_ACCESS, which the route walk
# checks against it); their handshakes are authorized against these entries.
# `WS /v1/stream`: every operator role (messages are filtered per role); never an app key.
STREAM_ACCESS = SIGNED_IN
