"""Erasing a person, and keeping them erased.

:func:`erase_person` takes any identity of a person (``@name``, a phone, a user id, a t.me link),
finds every identity known for them (the lists' rows and their other identities, the peers the
sessions resolved, whose user id ties a username to a phone) and removes or anonymises their rows
everywhere: recipients (deleted), their replies (deleted), the webhook events naming them (deleted,
with their deliveries), test sends to them or personalised as them (deleted), results (kept for the campaign's counts, without key, fields, user id, message id or
error text), delivery attempts' error texts, resolved peers, the simulator's ledger, suppressions;
every stored string naming them in any spelling (Django's admin log, the audit trail, a session's
last error, a campaign's status reason: :mod:`.redaction`); the uploaded files holding them are
dropped. What is kept is a hash of each identity (:class:`ErasedIdentity`), so the person is
neither imported nor messaged again: :func:`campaigns.models.privacy.is_erased` answers that for
the import and the test sends. The erasure itself is audited, without the identities.

``RecipientIdentity`` (a recipient's identities besides its key, from the import issue) is found
by name: once the model exists, its rows are followed and deleted too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction
from django.db.models import Count, Q

from sessions_app.models import ResolvedPeer, SimulatedDelivery
from tgcampaigns import audit
from tgcampaigns.audit import AuditAction
from tgcampaigns.webhooks.models import WebhookEvent

from ..lists.normalise import normalise, outside_a_list
from ..models import (
    DeliveryAttempt,
    ErasedIdentity,
    MessageResult,
    Recipient,
    RecipientList,
    Reply,
    ResultStatus,
    Suppression,
    TestSend,
)
from ..models.privacy import ERASED_TEXT, identity_hash
from . import redaction

CODE_ERASED = "ERASED"
# Rounds of following identities (a username's peer id → that id's phone → …): a person has few.
MAX_ROUNDS = 5


class ErasureError(Exception):
    """The person cannot be erased now; the message is for staff."""


@dataclass
class ErasureReport:
    """What an erasure did: how many identities it found, and rows per kind it removed or
    anonymised. ``lists``: names of the recipient lists whose stored file was dropped."""

    identities: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    lists: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{n} {what}" for what, n in self.counts.items() if n) or "nothing else held them"
        return f"Erased a person with {self.identities} identit{'y' if self.identities == 1 else 'ies'}: {parts}."


def _other_identities():
    """The ``RecipientIdentity`` model once it exists (a recipient's other identities), else None."""
    try:
        return apps.get_model("campaigns", "RecipientIdentity")
    except LookupError:
        return None


def identities_of(identity: str) -> tuple[set[str], set[int]]:
    """(every key known for the person ``identity`` names, the ids of their recipient rows).
    Raises ErasureError when ``identity`` is no recipient identity."""
    result = normalise(identity)
    if not result.is_valid:
        raise ErasureError(
            f"{identity.strip()!r} is not a recipient identity: {outside_a_list(result.error)}"
        )
    keys, recipient_ids = {result.key}, set()
    others = _other_identities()
    for _ in range(MAX_ROUNDS):
        before = (len(keys), len(recipient_ids))
        recipient_ids |= set(Recipient.objects.filter(key__in=keys).values_list("pk", flat=True))
        if others is not None:
            recipient_ids |= set(others.objects.filter(key__in=keys).values_list("recipient_id", flat=True))
            keys |= set(others.objects.filter(recipient_id__in=recipient_ids).values_list("key", flat=True))
        keys |= set(
            Recipient.objects.filter(pk__in=recipient_ids).exclude(key="").values_list("key", flat=True)
        )
        # A user id is the person's own key and the peer id every session resolved them to.
        user_ids = {int(k) for k in keys if k.isdigit()}
        peers = ResolvedPeer.objects.filter(Q(key__in=keys) | Q(peer_id__in=user_ids), peer_type="user")
        peer_ids = set(peers.values_list("peer_id", flat=True))
        keys |= set(ResolvedPeer.objects.filter(peer_id__in=peer_ids).values_list("key", flat=True))
        keys |= {str(p) for p in peer_ids}
        if (len(keys), len(recipient_ids)) == before:
            break
    return keys, recipient_ids


def erase_person(identity: str, *, actor=audit.SYSTEM) -> ErasureReport:
    """Erase the person ``identity`` names, everywhere (see the module). One transaction: all or
    nothing. Raises ErasureError when ``identity`` is not an identity, or when a message to the
    person is in flight right now (claimed or sending: try again in a minute)."""
    keys, recipient_ids = identities_of(identity)
    report = ErasureReport(identities=len(keys))
    with transaction.atomic():
        results = MessageResult.objects.filter(Q(key__in=keys) | Q(recipient_id__in=recipient_ids))
        if results.filter(status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING)).exists():
            raise ErasureError("A message to this person is being sent right now; try again in a minute.")
        result_ids = list(results.values_list("pk", flat=True))
        c = report.counts
        # Pending rows, and an A/B test's held rows (the winner would release them to pending).
        c["unsent messages cancelled"] = MessageResult.objects.filter(
            pk__in=result_ids, status__in=(ResultStatus.PENDING, ResultStatus.HELD)
        ).update(status=ResultStatus.CANCELLED, error_code=CODE_ERASED)
        c["results anonymised"] = MessageResult.objects.filter(pk__in=result_ids).update(
            key="",
            dedupe_key=None,
            fields={},
            recipient=None,
            telegram_message_id=None,
            peer_id=None,  # their Telegram user id is an identity too
            previous_peer_id=None,
            error_text=ERASED_TEXT,
        )
        DeliveryAttempt.objects.filter(result_id__in=result_ids).update(error_text="")
        # Their replies: to any of their results, and from any of their user ids.
        user_ids = {int(k) for k in keys if k.isdigit()}
        c["replies deleted"] = Reply.objects.filter(
            Q(result_id__in=result_ids) | Q(peer_id__in=user_ids)
        ).delete()[0]
        events = WebhookEvent.objects.naming(keys).delete()[1]
        c["webhook events deleted"] = events.get(WebhookEvent._meta.label, 0)
        list_ids = set(
            Recipient.objects.filter(pk__in=recipient_ids).values_list("recipient_list_id", flat=True)
        )
        others = _other_identities()
        if others is not None:
            c["other identities"] = others.objects.filter(
                Q(key__in=keys) | Q(recipient_id__in=recipient_ids)
            ).delete()[0]
        c["test sends deleted"] = TestSend.objects.filter(
            Q(to_key__in=keys) | Q(recipient_id__in=recipient_ids)
        ).delete()[0]
        c["recipients deleted"] = Recipient.objects.filter(pk__in=recipient_ids).delete()[0]
        c["resolved peers deleted"] = ResolvedPeer.objects.filter(key__in=keys).delete()[0]
        c["simulated deliveries deleted"] = SimulatedDelivery.objects.filter(peer_key__in=keys).delete()[0]
        c["suppressions replaced by a hash"] = Suppression.objects.filter(key__in=keys).delete()[0]
        ErasedIdentity.objects.bulk_create(
            [ErasedIdentity(key_hash=identity_hash(k)) for k in keys], ignore_conflicts=True
        )
        c["stored texts cleaned"] = redaction.redact_stored_texts(keys)
        report.lists = _drop_files(list_ids)
        c["stored files dropped"] = len(report.lists)
        audit.record(actor, AuditAction.PERSON_ERASE, report.summary())
    return report


def _drop_files(list_ids: set[int]) -> list[str]:
    """Drop the stored files of the lists that held the person (after commit) and recount the
    lists' rows; the list and its other recipients stay."""
    names = []
    for recipient_list in RecipientList.objects.filter(pk__in=list_ids):
        counts = dict(recipient_list.recipients.values_list("status").annotate(n=Count("id")).order_by())
        recipient_list.valid_count = counts.get(Recipient.Status.VALID, 0)
        recipient_list.invalid_count = counts.get(Recipient.Status.INVALID, 0)
        recipient_list.duplicate_count = counts.get(Recipient.Status.DUPLICATE, 0)
        recipient_list.total_rows = sum(counts.values())
        report = dict(recipient_list.report or {})
        report["problems"] = []  # the first problem rows, as written: they may name the person
        report["file_dropped"] = "the uploaded file was dropped when a person in it was erased"
        recipient_list.report = report
        if recipient_list.file:
            name, storage = recipient_list.file.name, recipient_list.file.storage
            transaction.on_commit(lambda name=name, storage=storage: storage.delete(name))
            recipient_list.file, recipient_list.file_name = "", ""
        recipient_list.save()
        names.append(recipient_list.name)
    return names


__all__ = [
    "ErasureError",
    "ErasureReport",
    "erase_person",
    "identities_of",
]
