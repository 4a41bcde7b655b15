"""The Prometheus endpoint: ``GET /metrics`` in the text exposition format, for the dashboards an
operations team already has.

Protected: it answers only a request carrying ``Authorization: Bearer <TGC_METRICS_TOKEN>``, or one
whose connection comes from an address in ``TGC_METRICS_NETWORKS`` (comma-separated CIDRs, e.g.
``10.0.0.0/8``: the Prometheus server's own network, never a proxy's address). With neither set
the endpoint is off (404). No personal data: sessions and campaigns are named by their ids and
names, error codes are Telegram's.

What the database knows is read from it at each scrape, through the maintained tallies (a few
GROUP BY over small tables, never the results themselves), so every process answers alike and the
figures survive restarts:

- ``tgc_messages_total{status,session,error_code}``: results by status (sent, failed, skipped,
  unknown, cancelled) per session and Telegram error code;
- ``tgc_requests_total{session}``, ``tgc_floodwaits_total{session}``: requests to Telegram and
  FloodWaits answered, from the delivery attempts' tally;
- ``tgc_session_floodwait_seconds{session}``: the FloodWait a session is waiting out now;
- ``tgc_sessions{status}``: sessions by state;
- ``tgc_campaign_rows{campaign,status}``: rows of unfinished campaigns still to send (pending,
  claimed, sending, held).

Events inside processes (lease and claim take-overs, imports, exports) are counters of
:mod:`tgcampaigns.counters`.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

import tgcampaigns.counters  # noqa: F401  (registers the process counters)

from . import conf

FINAL = ("sent", "failed", "skipped", "unknown", "cancelled")
OPEN = ("pending", "claimed", "sending", "held")


class DatabaseCollector:
    """Reads the figures the database holds at each scrape (see the module docstring)."""

    def describe(self):
        return []  # registering must not query the database

    def collect(self):
        from campaigns.models import Campaign, CampaignStatus
        from campaigns.models.tally import AttemptTally, ResultTally
        from sessions_app.models import SessionStatus, TelegramSession

        names = dict(TelegramSession.objects.values_list("id", "name"))
        yield from self._messages(ResultTally, names)
        yield from self._attempts(AttemptTally, names)
        yield from self._sessions(TelegramSession, SessionStatus, names)
        unfinished = Campaign.objects.exclude(
            status__in=(CampaignStatus.DRAFT, CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
        ).values_list("id", flat=True)
        yield from self._campaign_rows(ResultTally, list(unfinished))

    def _messages(self, tally, names):
        family = CounterMetricFamily(
            "tgc_messages",
            "Results by status, session and error code.",
            labels=["status", "session", "error_code"],
        )
        rows = (
            tally.objects.filter(status__in=FINAL)
            .values_list("status", "session_id", "error_code")
            .annotate(total=Sum("n"))
            .order_by()
        )
        for status, session_id, code, total in rows:
            if total:
                family.add_metric([status, names.get(session_id, ""), code], total)
        yield family

    def _attempts(self, tally, names):
        requests = CounterMetricFamily("tgc_requests", "Requests sent to Telegram.", labels=["session"])
        floods = CounterMetricFamily("tgc_floodwaits", "FloodWaits Telegram answered.", labels=["session"])
        rows = tally.objects.values_list("session_id").annotate(r=Sum("requests"), f=Sum("floods")).order_by()
        for session_id, n_requests, n_floods in rows:
            name = names.get(session_id, "")
            requests.add_metric([name], n_requests or 0)
            floods.add_metric([name], n_floods or 0)
        yield requests
        yield floods

    def _sessions(self, model, statuses, names):
        now = timezone.now()
        by_status = dict(model.objects.values_list("status").annotate(n=Count("id")).order_by())
        gauge = GaugeMetricFamily("tgc_sessions", "Telegram sessions by state.", labels=["status"])
        for status in statuses.values:
            gauge.add_metric([status], by_status.get(status, 0))
        yield gauge
        wait = GaugeMetricFamily(
            "tgc_session_floodwait_seconds",
            "Seconds of FloodWait a session still waits out.",
            labels=["session"],
        )
        for session_id, until in model.objects.filter(flood_wait_until__gt=now).values_list(
            "id", "flood_wait_until"
        ):
            wait.add_metric([names[session_id]], (until - now).total_seconds())
        yield wait

    def _campaign_rows(self, tally, campaign_ids):
        gauge = GaugeMetricFamily(
            "tgc_campaign_rows", "Rows of unfinished campaigns still to send.", labels=["campaign", "status"]
        )
        rows = (
            tally.objects.filter(campaign_id__in=campaign_ids, status__in=OPEN)
            .values_list("campaign_id", "status")
            .annotate(total=Sum("n"))
            .order_by()
        )
        for campaign_id, status, total in rows:
            gauge.add_metric([str(campaign_id), status], total or 0)
        yield gauge


def _allowed(request: HttpRequest) -> bool:
    token = conf.metrics_token()
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    networks = conf.metrics_networks()
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The exposition text; 404 when metrics are off, 403 for a request without the token."""
    if not conf.metrics_token() and not conf.metrics_networks():
        raise Http404("metrics are off: set TGC_METRICS_TOKEN or TGC_METRICS_NETWORKS")
    if not _allowed(request):
        return HttpResponse("a metrics token is required", status=403, content_type="text/plain")
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        machine = CollectorRegistry()
        multiprocess.MultiProcessCollector(machine)
        body = generate_latest(machine) + generate_latest(database)
    else:
        body = generate_latest(REGISTRY) + generate_latest(database)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
