"""The campaigns app's models: recipient lists (``lists``), campaigns (``campaign``), one result
per recipient with its delivery attempts (``results``), the maintained counts (``tally``), test
sends and seed lists (``testsend``), the audit trail (``audit``), what an erasure keeps
(``privacy``) staff's own preferences (``staff``), tags on recipient rows (``tags``) and segments of people
(``segments``, their language ``segment_rules``)."""

from .campaign import (
    LIVE_STATUSES,
    OPERATION_STATUSES,
    Campaign,
    CampaignStatus,
    MediaType,
    ParseMode,
    Strategy,
)
from .lists import (
    ConsentBasis,
    ImportStatus,
    Person,
    Recipient,
    RecipientIdentity,
    RecipientKind,
    RecipientList,
    Suppression,
)
from .privacy import ErasedIdentity
from .results import (
    CODE_CANCELLED,
    CODE_DUPLICATE,
    CODE_INVALID,
    CODE_NO_CONSENT,
    CODE_SUPPRESSED,
    CODE_UNKNOWN,
    OPEN_STATUSES,
    UNSENT_STATUSES,
    DeliveryAttempt,
    MessageResult,
    Reply,
    ResultStatus,
    new_random_id,
)
from .segments import Segment
from .staff import StaffPreference
from .tags import RecipientTag, Tag, tag_key
from .tally import AttemptTally, ResultTally
from .testsend import SEED_LIST_MAX, SeedList, TestSend, TestSendStatus

__all__ = [
    "AttemptTally",
    "ErasedIdentity",
    "CODE_CANCELLED",
    "CODE_DUPLICATE",
    "CODE_INVALID",
    "CODE_NO_CONSENT",
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
    "ImportStatus",
    "MediaType",
    "MessageResult",
    "ParseMode",
    "Person",
    "Recipient",
    "Reply",
    "RecipientIdentity",
    "RecipientKind",
    "RecipientList",
    "ResultStatus",
    "ResultTally",
    "Strategy",
    "RecipientTag",
    "Tag",
    "tag_key",
    "Segment",
    "SEED_LIST_MAX",
    "SeedList",
    "StaffPreference",
    "Suppression",
    "TestSend",
    "TestSendStatus",
    "new_random_id",
]
