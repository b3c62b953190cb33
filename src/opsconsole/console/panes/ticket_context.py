"""The tickets pane's right-hand column: the ticket's user and their AI context (tier, status,
use against limits, and the recent requests that went wrong), with "Open user…".

Separate from the pane, which fetches the user when a ticket opens: this column only draws
what it is handed (``context_html`` is plain text building, checked on its own).
"""

from __future__ import annotations

import html

from opsconsole.console.qt import QFormLayout, QGroupBox, QLabel, QPushButton, Qt, QVBoxLayout
from opsconsole.wire.activity import UserRequest, UserUsage
from opsconsole.wire.users import UserPublic


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def context_html(
    user: UserPublic | None,
    usage: UserUsage | None,
    requests: list[UserRequest] | None,
    *,
    missing: str = "",
) -> str:
    """The user's AI context in a few lines: tier and status, use against limits, and the
    recent requests that went wrong (refusals with their reasons, errors and timeouts)."""
    if user is None:
        return f"<i>{html.escape(missing or 'No ticket open.')}</i>"
    lines = [
        f"<b>{html.escape(user.id)}</b> {html.escape(user.name or '')}",
        f"{html.escape(user.email or '')}",
        f"Tier <b>{html.escape(user.tier)}</b> · status <b>{user.status}</b>"
        + (f" ({html.escape(user.status_reason)})" if user.status_reason else ""),
    ]
    if usage is not None:
        limits = usage.limits
        cap = limits.daily_requests if limits else None
        quota = f"{usage.requests_today} of {cap}" if cap is not None else f"{usage.requests_today}"
        state = ""
        if cap is not None and usage.requests_today >= cap:
            state = " <span style='color:#c62828'><b>quota used up</b></span>"
        lines.append(f"Requests today: {quota}{state}")
        if limits is not None:
            lines.append(
                f"Spent this week {_money(usage.spent_week)} of {_money(limits.weekly_budget)}, "
                f"this month {_money(usage.spent_month)} of {_money(limits.monthly_budget)}"
            )
            if limits.overridden:
                lines.append("Overrides: " + ", ".join(html.escape(o) for o in limits.overridden))
        lines.append(f"Today: {usage.errors_today} errors, {usage.denied_today} refused")
    elif missing:
        lines.append(f"<i>{html.escape(missing)}</i>")
    if requests is not None:
        trouble = [
            r
            for r in requests
            if not r.allow or (r.report is not None and r.report.status.value != "ok")
        ]
        lines.append(
            f"<br><b>Recent errors and refusals</b> ({len(trouble)} of the last {len(requests)})"
        )
        for request in trouble[:10]:
            when = f"{request.at.astimezone():%d %b %H:%M}"
            if not request.allow:
                what = f"refused: {html.escape(request.reason_text)}"
            else:
                assert request.report is not None
                what = (
                    f"{request.report.status.value} from {html.escape(request.provider or '?')}"
                    f" after {request.report.latency_ms:,.0f} ms"
                )
            lines.append(f"{when} · {html.escape(request.feature)} · {what}")
    return "<br>".join(lines)


class UserContextBox(QGroupBox):
    """The open ticket's user: their AI context, and the button that opens them for action."""

    def __init__(self) -> None:
        super().__init__("User's AI context")
        self.setObjectName("ticketUserContext")
        self.label = QLabel("")
        self.label.setObjectName("ticketContext")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_user_button = QPushButton("Open user…")
        self.open_user_button.setObjectName("ticketOpenUser")
        self.note = QLabel("")
        self.note.setObjectName("ticketContextNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("QLabel { color: #6e7781; }")
        form = QFormLayout()
        form.addRow(self.label)
        column = QVBoxLayout(self)
        column.addLayout(form)
        column.addStretch(1)
        column.addWidget(self.note)
        column.addWidget(self.open_user_button)

    def show_context(
        self,
        user: UserPublic | None,
        usage: UserUsage | None,
        requests: list[UserRequest] | None,
        *,
        missing: str = "",
    ) -> None:
        self.label.setText(context_html(user, usage, requests, missing=missing))

    def show_loading(self, user_id: str) -> None:
        self.label.setText(f"<i>Loading {user_id}…</i>")

    def set_can_open_user(self, can: bool) -> None:
        """Show "Open user…" where the users pane can take the user; else say why not."""
        self.open_user_button.setVisible(can)
        self.note.setText(
            ""
            if can
            else "Read-only here: actions on the user are in the users pane, not available."
        )
