"""Deprecated name of :mod:`campaigns.api` (the scripting API), kept so existing scripts run."""

import warnings

from .api import BulkResult, InvalidRecipients, send_media_messages_bulk, send_text_messages_bulk

warnings.warn("campaigns.services is now campaigns.api; import from there.", DeprecationWarning, stacklevel=2)

__all__ = ["BulkResult", "InvalidRecipients", "send_media_messages_bulk", "send_text_messages_bulk"]
