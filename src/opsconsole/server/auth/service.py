"""The auth package's service functions, in one place for the rest of the server to import.

Its parts: operators.py (operators and their passwords), sessions.py (login, bearer tokens,
listing and ending sessions), lockout.py (failed-login throttling and lockout), step_up.py
(step-up and TOTP enrolment) and app_key_service.py (the AI app's keys). Each is plain
functions over a SQLAlchemy session; the routes in `routes.py` and `app_keys.py` only
translate HTTP.
"""

from __future__ import annotations

from opsconsole.server.auth.app_key_service import (
    authenticate_app_key,
    create_app_key,
    list_app_keys,
    revoke_app_key,
)
from opsconsole.server.auth.operators import (
    change_password,
    create_operator,
    get_operator,
    list_operators,
    operator_public,
    update_operator,
)
from opsconsole.server.auth.sessions import (
    TOUCH_INTERVAL,
    LoginResult,
    authenticate,
    end_all_sessions,
    end_session,
    list_sessions,
    login,
    logout,
    session_public,
    touch,
    unauthenticated,
)
from opsconsole.server.auth.step_up import enrol_totp, step_up

__all__ = [
    "TOUCH_INTERVAL",
    "LoginResult",
    "authenticate",
    "authenticate_app_key",
    "change_password",
    "create_app_key",
    "create_operator",
    "end_all_sessions",
    "end_session",
    "enrol_totp",
    "get_operator",
    "list_app_keys",
    "list_operators",
    "list_sessions",
    "login",
    "logout",
    "operator_public",
    "revoke_app_key",
    "session_public",
    "step_up",
    "touch",
    "unauthenticated",
    "update_operator",
]
