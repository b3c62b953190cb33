"""Which role may do what, as the console needs to know it to disable buttons with a reason.

A mirror of ``server/permissions.py:ROLE_PERMISSIONS`` (the console never imports the server);
a test checks the two tables agree. Once logged in, the server's own list of the operator's
permissions (``OperatorPublic.permissions``) is what the connection trusts.
"""

from __future__ import annotations

from opsconsole.wire.common import Role

_ALL = frozenset(
    {
        "alerts:read",
        "alerts:write",
        "app-keys:manage",
        "audit:export",
        "audit:read",
        "business:read",
        "controls:write",
        "gate:dry-run",
        "gate:read",
        "impersonate",
        "impersonate:full",
        "metrics:read",
        "operators:manage",
        "operators:read",
        "providers:write",
        "sessions:manage",
        "tickets:read",
        "tickets:write",
        "tiers:write",
        "users:bulk",
        "users:erase",
        "users:export",
        "users:read",
        "users:tier",
        "users:write",
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: _ALL,
    Role.ONCALL: frozenset(
        {
            "alerts:read",
            "alerts:write",
            "audit:read",
            "business:read",
            "controls:write",
            "gate:dry-run",
            "gate:read",
            "impersonate",
            "metrics:read",
            "providers:write",
            "tickets:read",
            "tickets:write",
            "users:bulk",
            "users:read",
            "users:write",
        }
    ),
    Role.SUPPORT: frozenset(
        {
            "alerts:read",
            "gate:dry-run",
            "gate:read",
            "impersonate",
            "impersonate:full",
            "metrics:read",
            "tickets:read",
            "tickets:write",
            "users:bulk",
            "users:export",
            "users:read",
            "users:tier",
            "users:write",
        }
    ),
    Role.BILLING: frozenset(
        {
            "alerts:read",
            "audit:read",
            "business:read",
            "gate:read",
            "metrics:read",
            "tickets:read",
            "tiers:write",
            "users:read",
            "users:tier",
        }
    ),
    Role.VIEWER: frozenset(
        {
            "alerts:read",
            "business:read",
            "gate:read",
            "metrics:read",
        }
    ),
}

# The order roles are named in when saying who may do something.
_ORDER = (Role.ONCALL, Role.SUPPORT, Role.BILLING, Role.VIEWER, Role.ADMIN)


def roles_with(permission: str) -> list[Role]:
    return [role for role in _ORDER if permission in ROLE_PERMISSIONS[role]]


def needs(permission: str) -> str:
    """``Needs the oncall or admin role`` for a permission, in words."""
    roles = [role.value for role in roles_with(permission)]
    if not roles:
        return f"No role has {permission}."
    if len(roles) == 1:
        return f"Needs the {roles[0]} role."
    return f"Needs the {', '.join(roles[:-1])} or {roles[-1]} role."
