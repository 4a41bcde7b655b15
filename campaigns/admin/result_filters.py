"""The results changelist's filters: by session and error code, read from small tables or a
partial index, and for after the send: read, replied, variant.

Reads are known only for messages user accounts sent (Telegram tells bots nothing about reads),
and people may hide their read status, so a sent message is "read", "read status hidden or not
yet read" (never "unread") or, sent by a bot, "not available for bots". Each filter narrows the
campaign's sent rows (``result_status_idx``); none lists its choices by reading the results.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest

from sessions_app.models import SessionKind, TelegramSession

from ..models import Campaign, MessageResult, ResultStatus, ResultTally
from ..reporting.report import HIDDEN_OR_NOT_YET, NOT_FOR_BOTS
from .results_changelist import BIGINT_MAX, campaign_filter

# Variant labels in order: A is the campaign's message, B–D its other wordings.
VARIANT_LABELS = "ABCD"


class CampaignFilter(admin.RelatedFieldListFilter):
    """Django's campaign filter, its choices read as (id, name) pairs: the related filter builds
    every campaign whole (message, media, settings) to print its name, on every page."""

    def field_choices(self, field, request: HttpRequest, model_admin) -> list[tuple[int, str]]:
        ordering = self.field_admin_ordering(field, request, model_admin)
        campaigns = Campaign.objects.order_by(*ordering) if ordering else Campaign.objects.all()
        return list(campaigns.values_list("pk", "name"))


class SessionFilter(admin.SimpleListFilter):
    """By session: the sessions table, not a DISTINCT over every result."""

    title = "session"
    parameter_name = "session__id__exact"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in TelegramSession.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[MessageResult]) -> QuerySet[MessageResult]:
        value = self.value()
        if value and value.isascii() and value.isdigit() and int(value) <= BIGINT_MAX:
            return queryset.filter(session_id=int(value))
        return queryset


class ErrorCodeFilter(admin.SimpleListFilter):
    """Only the error codes present (in the chosen campaign, if one is chosen), with counts: from
    the maintained tally (:class:`~campaigns.models.tally.ResultTally`), never the results."""

    title = "error code"
    parameter_name = "error_code"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        rows = ResultTally.objects.exclude(error_code="")
        if (campaign_id := campaign_filter(request)) is not None:
            rows = rows.filter(campaign_id=campaign_id)
        codes = rows.values_list("error_code").annotate(n=Sum("n")).order_by("error_code")
        return [(code, f"{code} ({n})") for code, n in codes if n > 0]

    def queryset(self, request: HttpRequest, queryset: QuerySet[MessageResult]) -> QuerySet[MessageResult]:
        if self.value():
            return queryset.filter(error_code=self.value())
        return queryset


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [
            ("read", "Read"),
            ("hidden", HIDDEN_OR_NOT_YET.capitalize()),
            ("bots", NOT_FOR_BOTS.capitalize()),
        ]

    def queryset(self, request: HttpRequest, queryset):
        sent = queryset.filter(status=ResultStatus.SENT)
        match self.value():
            case "read":
                return sent.filter(read_at__isnull=False)
            case "hidden":
                return sent.filter(read_at__isnull=True, session__kind=SessionKind.USER)
            case "bots":
                return sent.filter(session__kind=SessionKind.BOT)
        return queryset


class RepliedFilter(admin.SimpleListFilter):
    title = "replied"
    parameter_name = "replied"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset):
        match self.value():
            case "yes":
                return queryset.filter(replied_at__isnull=False)
            case "no":
                return queryset.filter(status=ResultStatus.SENT, replied_at__isnull=True)
        return queryset


class VariantFilter(admin.SimpleListFilter):
    """The variants of the chosen campaign (hidden when it has none), or of the largest A/B test
    when no campaign is chosen: read from the campaigns, not the results."""

    title = "variant"
    parameter_name = "variant"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        campaigns = Campaign.objects.exclude(variants=[])
        if (campaign_id := campaign_filter(request)) is not None:
            campaigns = campaigns.filter(pk=campaign_id)
        others = max((len(v or []) for v in campaigns.values_list("variants", flat=True)), default=0)
        if not others:
            return []
        return [(label, label) for label in VARIANT_LABELS[: others + 1]]

    def queryset(self, request: HttpRequest, queryset):
        if self.value() in tuple(VARIANT_LABELS):
            return queryset.filter(variant=self.value())
        return queryset


def read_display(obj: MessageResult) -> tuple[str, str]:
    """(kind, words) for a result's read column: ("read", "") with a read mark (the caller shows
    its time), ("bots", :data:`NOT_FOR_BOTS`), ("hidden", :data:`HIDDEN_OR_NOT_YET`), or ("", "")
    for a row that was not sent."""
    if obj.status != ResultStatus.SENT:
        return "", ""
    if obj.read_at:
        return "read", ""
    if obj.session is not None and obj.session.kind == SessionKind.BOT:
        return "bots", NOT_FOR_BOTS
    return "hidden", HIDDEN_OR_NOT_YET
