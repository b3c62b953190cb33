"""Imports every domain's tables so that Base.metadata knows them all (Alembic, tests)."""

from opsconsole.server.alerts import models as alert_models
from opsconsole.server.audit import models as audit_models
from opsconsole.server.auth import models as auth_models
from opsconsole.server.gate import models as gate_models
from opsconsole.server.impersonation import models as impersonation_models
from opsconsole.server.metrics import models as metric_models
from opsconsole.server.tickets import models as ticket_models
from opsconsole.server.users import models as user_models

__all__ = [
    "alert_models",
    "audit_models",
    "auth_models",
    "gate_models",
    "impersonation_models",
    "metric_models",
    "ticket_models",
    "user_models",
]
