"""The campaigns app's models: recipient lists (``lists``), campaigns (``campaign``), and one
result per recipient with its delivery attempts (``results``)."""

from .campaign import (
    LIVE_STATUSES,
    OPERATION_STATUSES,
    Campaign,
    CampaignStatus,
    MediaType,
    ParseMode,
    Strategy,
)
from .lists import ConsentBasis, Recipient, RecipientKind, RecipientList, Suppression
from .results import (
    CODE_CANCELLED,
    CODE_DUPLICATE,
    CODE_INVALID,
    CODE_SUPPRESSED,
    CODE_UNKNOWN,
    OPEN_STATUSES,
    UNSENT_STATUSES,
    DeliveryAttempt,
    MessageResult,
    ResultStatus,
    new_random_id,
)
from .tally import AttemptTally, ResultTally

__all__ = [
    "AttemptTally",
    "CODE_CANCELLED",
    "CODE_DUPLICATE",
    "CODE_INVALID",
    "CODE_SUPPRESSED",
    "CODE_UNKNOWN",
    "LIVE_STATUSES",
    "OPEN_STATUSES",
    "OPERATION_STATUSES",
    "UNSENT_STATUSES",
    "Campaign",
    "CampaignStatus",
    "ConsentBasis",
    "DeliveryAttempt",
    "MediaType",
    "MessageResult",
    "ParseMode",
    "Recipient",
    "RecipientKind",
    "RecipientList",
    "ResultStatus",
    "ResultTally",
    "Strategy",
    "Suppression",
    "new_random_id",
]
