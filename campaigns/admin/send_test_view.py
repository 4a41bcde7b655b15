"""*Send test…*: the campaign's saved message through a chosen session to an account typed in or a
saved seed list (:mod:`campaigns.engine.testsending`; the seed lists' admin is :mod:`.seed_list_admin`).
Test sends are listed on their page, apart from the campaign's results."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..content import variants
from ..content.composer import Draft, compose_preview, first_recipient
from ..engine import testsending as testsend
from ..lists.normalise import normalise
from ..models import SEED_LIST_MAX, Campaign, Recipient, SeedList, TestSend, TestSendStatus
from .access import may_see_results
from .campaign_operations import say
from .campaign_views import CampaignView, page_context
from .display import identity_refused


class TestSendForm(forms.Form):
    """Where the test goes: one account typed in, or a seed list; through which session."""

    __test__ = False

    session = forms.ModelChoiceField(queryset=None, empty_label=None, help_text="The session that sends it.")
    to = forms.CharField(
        required=False,
        label="Send to",
        help_text="Your own account: @username, phone in international format, or user id.",
    )
    seed_list = forms.ModelChoiceField(
        queryset=SeedList.objects.all(), required=False, label="…or a seed list", empty_label="—"
    )
    recipient = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, campaign: Campaign, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from sessions_app.models import SessionStatus, TelegramSession

        mine = campaign.sessions.values_list("pk", flat=True)
        # The campaign's sessions first; any other active one may send a test too.
        self.fields["session"].queryset = TelegramSession.objects.filter(
            pk__in=mine
        ) | TelegramSession.objects.filter(status=SessionStatus.ACTIVE)
        self.fields["session"].label_from_instance = lambda s: (
            f"{s.name} ({s.get_status_display().lower()}{', SIMULATOR' if s.is_simulated else ''})"
        )
        self.campaign = campaign
        labels = variants.labels_of(campaign.variants)
        if len(labels) > 1:  # an A/B test: each wording can be tried before the launch
            self.fields["variant"] = forms.ChoiceField(
                choices=[(label, f"Variant {label}") for label in labels],
                label="Wording",
                help_text="Which of the A/B test's wordings the test sends.",
            )

    def clean(self) -> dict:
        data = super().clean()
        typed, seeds = data.get("to", "").strip(), data.get("seed_list")
        if bool(typed) == bool(seeds):
            raise forms.ValidationError("Type one account, or choose a seed list (not both).")
        if typed:
            result = normalise(typed)
            if not result.is_valid:
                self.add_error("to", identity_refused(typed, result.error))
                return data
            data["keys"] = [result.key]
        else:
            data["keys"] = seeds.keys()[:SEED_LIST_MAX]
        return data


class SendTestView(CampaignView):
    """``<id>/test-send/`` (``send_test_campaign``). GET: the form and the preview for a chosen
    recipient (``?recipient=<id>``, ``?variant=B``). POST: send the test, then show the page again."""

    def allowed(self, request: HttpRequest, campaign: Campaign) -> bool:
        return self.model_admin.has_send_test_permission(request, campaign)

    def setup(self, request: HttpRequest, *args, **kwargs) -> None:
        super().setup(request, *args, **kwargs)
        self.personal = may_see_results(request)

    def draft(self, request: HttpRequest) -> tuple[Draft, str]:
        """The saved message (in the chosen wording) as a draft, and that wording's label."""
        campaign = self.campaign
        variant = (request.POST or request.GET).get("variant", "")
        variant = variant if variant in variants.labels_of(campaign.variants) else ""
        draft = Draft(
            message=variants.text_of(campaign.message, campaign.variants, variant),
            parse_mode=campaign.parse_mode,
            has_media=bool(campaign.media),
            list_ids=list(campaign.lists.values_list("pk", flat=True)),
            segment_ids=list(campaign.segments.values_list("pk", flat=True)),
        )
        return draft, variant

    def form(self, request: HttpRequest, variant: str) -> TestSendForm:
        last = TestSend.objects.filter(sent_by=request.user).order_by("-created_at").first()
        initial = {"to": last.to_key if last else "", "variant": variant or "A"}
        return TestSendForm(self.campaign, request.POST or None, initial=initial)

    def get(self, request: HttpRequest, form: TestSendForm | None = None) -> HttpResponse:
        campaign = self.campaign
        draft, variant = self.draft(request)
        chosen = None
        if self.personal and (pk := request.GET.get("recipient", "")).isdigit():
            chosen = draft.recipients().filter(pk=int(pk), status=Recipient.Status.VALID).first()
        chosen = chosen or (first_recipient(draft) if self.personal else None)
        context = page_context(
            self.model_admin,
            request,
            title=f"Send a test of “{campaign}”",
            original=campaign,
            form=form or self.form(request, variant),
            preview=compose_preview(draft, chosen, personal=self.personal),
            recipient_id=chosen.pk if chosen else "",
            tests=campaign.test_sends.select_related("session", "sent_by")[:50],
            seed_list_max=SEED_LIST_MAX,
        )
        return TemplateResponse(request, "admin/campaigns/campaign/test_send.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        campaign = self.campaign
        draft, variant = self.draft(request)
        form = self.form(request, variant)
        if not form.is_valid():
            return self.get(request, form)
        recipient = None
        if self.personal and form.cleaned_data.get("recipient"):
            recipient = draft.recipients().filter(pk=form.cleaned_data["recipient"]).first()
        recipient = recipient or (first_recipient(draft) if self.personal else None)
        target = testsend.TestTarget(
            form.cleaned_data["keys"], recipient, form.cleaned_data.get("variant", "")
        )
        sent = testsend.send_test(campaign, form.cleaned_data["session"], target, by=request.user)
        report_tests(request, campaign, sent)
        again = reverse("admin:campaigns_campaign_test_send", args=[campaign.pk])
        query = {"recipient": recipient.pk if recipient else "", "variant": variant}
        return redirect(f"{again}?{urlencode({k: v for k, v in query.items() if v})}")


def report_tests(request: HttpRequest, campaign: Campaign, sent: list[TestSend]) -> None:
    """Record the tests in the audit trail and tell the user how each went."""
    counts = {status: sum(t.status == status for t in sent) for status in TestSendStatus.values}
    summary = ", ".join(f"{n} {TestSendStatus(s).label.lower()}" for s, n in counts.items() if n)
    session = sent[0].session.name if sent and sent[0].session else "?"
    audit.record(
        request,
        AuditAction.CAMPAIGN_TEST_SEND,
        f"Test of “{campaign}” through {session}: {summary}.",
        campaign,
    )
    for test in sent:
        if test.status == TestSendStatus.SENT:
            say(request, f"Test sent to {test.to_key} through {session}.", messages.SUCCESS)
            continue
        reason = f"{test.error_code}: {test.error_text}" if test.error_code else test.error_text
        say(
            request,
            f"Test to {test.to_key} {TestSendStatus(test.status).label.lower()}: {reason}",
            messages.ERROR if test.status == TestSendStatus.FAILED else messages.WARNING,
        )
