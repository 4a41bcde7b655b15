"""The audit trail, an app of its own that ``campaigns`` and ``sessions_app`` both write to:
who did what, when, to which objects.

    from tgcampaigns import audit
    audit.record(request, audit.AuditAction.CAMPAIGN_PAUSE, f"Paused “{campaign}”.", campaign)

The model is :class:`tgcampaigns.audit.models.AuditEvent` (its table is still
``campaigns_auditevent``, where it lived before this app). This package imports no model at import
time (Django imports it while loading apps): :func:`record` reaches the models when called.
"""

from .actions import AuditAction
from .recording import COMMAND_LINE, SYSTEM, record

__all__ = ["COMMAND_LINE", "SYSTEM", "AuditAction", "record"]
