"""The staff home page: campaigns running, paused (they need someone: a staff pause, or an A/B
test waiting for its winner), scheduled, drafts and recently finished with their figures, and
the sessions that need attention (a FloodWait, quarantined, not logged in, disabled). Counts come
from the tallies (:func:`campaigns.reporting.counts.count_results`): no COUNT over results."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from sessions_app.models import SessionStatus, TelegramSession
from tgcampaigns.permissions import may_view

from ..engine.readiness import STATUS_REASONS
from ..models import Campaign, CampaignStatus, ResultStatus
from ..people.timezones import clock, duration, when
from .counts import count_results
from .forecast import cannot_connect

# Campaigns listed per section, and how far back "recently finished" reaches.
SECTION_SIZE = 10
RECENT_DAYS = 7


def may_see_campaigns(user) -> bool:
    return may_view(user, "campaigns.campaign")


def may_see_sessions_state(user) -> bool:
    """Operators (the sessions' pages), and marketing staff who launch (which sessions wait)."""
    return may_view(user, "sessions_app.telegramsession") or user.has_perm("campaigns.launch_campaign")


def home_context(user) -> dict:
    """What the home page shows to ``user`` (sections they may not see are None)."""
    now = timezone.now()
    context: dict = {
        "running": None,
        "paused": None,
        "scheduled": None,
        "drafts": None,
        "finished": None,
        "attention": None,
    }
    if may_see_campaigns(user):
        campaigns = Campaign.objects.annotate(
            n_total=count_results(),
            n_sent=count_results(ResultStatus.SENT),
            n_failed=count_results(ResultStatus.FAILED),
            n_skipped=count_results(ResultStatus.SKIPPED),
            n_cancelled=count_results(ResultStatus.CANCELLED),
            n_held=count_results(ResultStatus.HELD),
            in_lists=Sum("lists__valid_count"),
            n_segments=_segments_of_campaign(),
        )
        sending = (CampaignStatus.RUNNING, CampaignStatus.LAUNCHING)
        context["running"] = [
            _row(c, now) for c in campaigns.filter(status__in=sending).order_by("-launched_at")[:SECTION_SIZE]
        ]
        # Paused (by staff, or an A/B test waiting for its winner): nothing is sent until someone acts.
        context["paused"] = [
            _row(c, now)
            for c in campaigns.filter(status=CampaignStatus.PAUSED).order_by("-launched_at")[:SECTION_SIZE]
        ]
        context["scheduled"] = [
            _row(c, now)
            for c in campaigns.filter(status=CampaignStatus.SCHEDULED).order_by("scheduled_at")[:SECTION_SIZE]
        ]
        context["drafts"] = [
            _row(c, now)
            for c in campaigns.filter(status=CampaignStatus.DRAFT).order_by("-created_at")[:SECTION_SIZE]
        ]
        context["finished"] = [
            _row(c, now)
            for c in campaigns.filter(
                status__in=(CampaignStatus.COMPLETED, CampaignStatus.CANCELLED),
                finished_at__gte=now - timedelta(days=RECENT_DAYS),
            ).order_by("-finished_at")[:SECTION_SIZE]
        ]
    if may_see_sessions_state(user):
        context["attention"] = attention(now, links=may_view(user, "sessions_app.telegramsession"))
    return context


def _segments_of_campaign() -> Coalesce:
    """The number of segments of the campaign (``OuterRef("pk")``): a subquery, so that it does not
    multiply the SUM over its lists as a second join would."""
    through = Campaign.segments.through.objects.filter(campaign_id=OuterRef("pk"))
    n = through.order_by().values("campaign_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(n, output_field=IntegerField()), 0)


def _row(campaign: Campaign, now) -> dict:
    # Held rows (an A/B test's hold-out) wait for staff to choose the winner, not for a session.
    unsent = (
        campaign.n_total
        - campaign.n_sent
        - campaign.n_failed
        - campaign.n_skipped
        - campaign.n_cancelled
        - campaign.n_held
    )
    return {
        "campaign": campaign,
        "url": reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        "total": campaign.n_total,
        "sent": campaign.n_sent,
        "failed": campaign.n_failed,
        "skipped": campaign.n_skipped,
        "cancelled": campaign.n_cancelled,
        "waiting": max(0, unsent),
        "held": campaign.n_held,
        "in_lists": campaign.in_lists or 0,
        "segments": campaign.n_segments,
        "scheduled": when(campaign.scheduled_at) if campaign.scheduled_at else "",
        "starts_in": duration((campaign.scheduled_at - now).total_seconds())
        if campaign.scheduled_at and campaign.scheduled_at > now
        else "",
        "finished": when(campaign.finished_at) if campaign.finished_at else "",
        "launched": when(campaign.launched_at) if campaign.launched_at else "",
    }


def attention(now, *, links: bool) -> list[dict]:
    """Sessions that cannot send now, or not for a while: name, what is wrong, and a link to its
    page (for staff who may see sessions)."""
    wrong = TelegramSession.objects.filter(
        ~Q(status=SessionStatus.ACTIVE) | Q(flood_wait_until__gt=now) | Q(unreachable_since__isnull=False)
    ).order_by("name")
    found = []
    for session in wrong:
        if session.status != SessionStatus.ACTIVE:
            what = f"{STATUS_REASONS.get(session.status, session.get_status_display())}"
        elif session.unreachable_since:
            what = cannot_connect(session.unreachable_since, session.last_error_text, now)
        else:
            what = f"FloodWait for {duration(session.flood_wait_left(now))} (until {clock(session.flood_wait_until, now)})"
        if session.last_error_code and session.status != SessionStatus.ACTIVE:
            what += f"; last error {session.last_error_code}"
        found.append(
            {
                "name": session.name,
                "simulated": session.is_simulated,
                "status": session.status,
                "what": what,
                "url": reverse("admin:sessions_app_telegramsession_change", args=[session.pk])
                if links
                else "",
            }
        )
    return found
