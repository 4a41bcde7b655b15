"""*Send test…*: the campaign's saved message through a chosen session to an account typed in or a
saved seed list (:mod:`campaigns.testsend`), and the seed lists' own admin. Test sends are listed
on their page, apart from the campaign's results."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from .. import testsend
from ..content import variants
from ..content.composer import Draft, compose_preview, first_recipient
from ..lists.normalise import normalise
from ..models import SEED_LIST_MAX, Campaign, Recipient, SeedList, TestSend, TestSendStatus
from .access import may_see_results


def normalised_entries(text: str) -> list[str]:
    """The keys of ``text`` (one identity per line), or a ValidationError naming each bad line."""
    keys, errors = [], []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        result = normalise(line)
        if result.is_valid:
            keys.append(result.key)
        else:
            errors.append(f"{line!r}: {result.error}")
    if errors:
        raise forms.ValidationError(errors)
    return list(dict.fromkeys(keys))


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
                self.add_error("to", f"{typed!r}: {result.error}")
                return data
            data["keys"] = [result.key]
        else:
            data["keys"] = seeds.keys()[:SEED_LIST_MAX]
        return data


class TestSendViews:
    """Mixed into :class:`~campaigns.admin.campaigns.CampaignAdmin`."""

    def has_send_test_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return request.user.has_perm("campaigns.send_test_campaign")

    def test_send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        campaign = self.get_object(request, object_id)
        if campaign is None:
            raise Http404
        if not self.has_send_test_permission(request, campaign):
            raise PermissionDenied
        personal = may_see_results(request)
        variant = (request.POST or request.GET).get("variant", "")
        variant = variant if variant in variants.labels_of(campaign.variants) else ""
        draft = Draft(
            message=variants.text_of(campaign.message, campaign.variants, variant),
            parse_mode=campaign.parse_mode,
            has_media=bool(campaign.media),
            list_ids=list(campaign.lists.values_list("pk", flat=True)),
        )
        last = TestSend.objects.filter(sent_by=request.user).order_by("-created_at").first()
        initial = {"to": last.to_key if last else "", "variant": variant or "A"}
        form = TestSendForm(campaign, request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            recipient = None
            if personal and form.cleaned_data.get("recipient"):
                recipient = draft.recipients().filter(pk=form.cleaned_data["recipient"]).first()
            recipient = recipient or (first_recipient(draft) if personal else None)
            sent = testsend.send_test(
                campaign,
                form.cleaned_data["session"],
                testsend.TestTarget(
                    form.cleaned_data["keys"], recipient, form.cleaned_data.get("variant", "")
                ),
                by=request.user,
            )
            self._report_tests(request, campaign, sent)
            again = reverse("admin:campaigns_campaign_test_send", args=[campaign.pk])
            query = {"recipient": recipient.pk if recipient else "", "variant": variant}
            return redirect(f"{again}?{urlencode({k: v for k, v in query.items() if v})}")
        chosen = None
        if personal and (pk := request.GET.get("recipient", "")).isdigit():
            chosen = draft.recipients().filter(pk=int(pk), status=Recipient.Status.VALID).first()
        chosen = chosen or (first_recipient(draft) if personal else None)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Send a test of “{campaign}”",
            "opts": self.opts,
            "original": campaign,
            "form": form,
            "preview": compose_preview(draft, chosen, personal=personal),
            "recipient_id": chosen.pk if chosen else "",
            "tests": campaign.test_sends.select_related("session", "sent_by")[:50],
            "seed_list_max": SEED_LIST_MAX,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/test_send.html", context)

    def _report_tests(self, request: HttpRequest, campaign: Campaign, sent) -> None:
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
                self.message_user(request, f"Test sent to {test.to_key} through {session}.", messages.SUCCESS)
            else:
                reason = f"{test.error_code}: {test.error_text}" if test.error_code else test.error_text
                self.message_user(
                    request,
                    f"Test to {test.to_key} {TestSendStatus(test.status).label.lower()}: {reason}",
                    messages.ERROR if test.status == TestSendStatus.FAILED else messages.WARNING,
                )


class SeedListForm(forms.ModelForm):
    class Meta:
        model = SeedList
        fields = ["name", "entries"]
        widgets = {"entries": forms.Textarea(attrs={"rows": 6, "cols": 40})}

    def clean_entries(self) -> str:
        keys = normalised_entries(self.cleaned_data["entries"])
        if not keys:
            raise forms.ValidationError("Add at least one account.")
        if len(keys) > SEED_LIST_MAX:
            raise forms.ValidationError(f"At most {SEED_LIST_MAX} accounts: a test is not a campaign.")
        return "\n".join(keys)


@admin.register(SeedList)
class SeedListAdmin(admin.ModelAdmin):
    """Staff's own accounts a test goes to; entries stored normalised, at most SEED_LIST_MAX."""

    form = SeedListForm
    list_display = ("name", "size", "created_by", "created_at")
    search_fields = ("name",)

    @admin.display(description="Accounts")
    def size(self, obj: SeedList) -> int:
        return len(obj.keys())

    def save_model(self, request: HttpRequest, obj: SeedList, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(
            request, AuditAction.SEED_LIST_CHANGE, f"Seed list {'changed' if change else 'added'}.", obj
        )

    def delete_model(self, request: HttpRequest, obj: SeedList) -> None:
        audit.record(request, AuditAction.SEED_LIST_CHANGE, "Seed list deleted.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(request, AuditAction.SEED_LIST_CHANGE, "Seed list deleted.", queryset)
        super().delete_queryset(request, queryset)
