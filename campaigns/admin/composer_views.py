"""The composer's endpoints behind the campaign page's live preview (``composer.js``): the preview
of the message on screen (saved or not) for a chosen recipient, the recipient picker, and the
one-click default for a field some recipients lack, each a small view class wired in
:meth:`~campaigns.admin.campaign_admin.CampaignAdmin.get_urls`. Read-only: nothing here saves a
campaign."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.views import View

from ..content.composer import Draft, compose_preview, first_recipient, pick_recipients, recipient_label
from ..content.fields import with_default
from ..models import Campaign, ParseMode, Recipient
from .access import may_see_results


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isascii() and v.isdigit() and len(v) < 19]


def may_compose(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """Staff who may add or change campaigns may preview text that is not saved."""
    return model_admin.has_add_permission(request) or model_admin.has_change_permission(request)


def draft_from(model_admin: admin.ModelAdmin, request: HttpRequest) -> tuple[Draft, Campaign | None]:
    """The draft a request describes: the posted message, parse mode, lists and segments for staff
    who may compose; otherwise (or without them) the saved campaign's."""
    data = request.POST if request.method == "POST" else request.GET
    campaign = None
    if ids := _ids([data.get("campaign", "")]):
        campaign = Campaign.objects.filter(pk=ids[0]).first()
    if "message" in data and may_compose(model_admin, request):
        mode = data.get("parse_mode", ParseMode.PLAIN)
        return (
            Draft(
                message=data.get("message", ""),
                parse_mode=mode if mode in ParseMode.values else ParseMode.PLAIN,
                has_media=data.get("has_media") == "1",
                list_ids=_ids(data.getlist("lists")),
                segment_ids=_ids(data.getlist("segments")),
            ),
            campaign,
        )
    if campaign is None:
        return Draft(), None
    return (
        Draft(
            message=campaign.message,
            parse_mode=campaign.parse_mode,
            has_media=bool(campaign.media),
            list_ids=list(campaign.lists.values_list("pk", flat=True)),
            segment_ids=list(campaign.segments.values_list("pk", flat=True)),
        ),
        campaign,
    )


def posted_draft(request: HttpRequest, campaign: Campaign | None) -> Draft:
    """The draft the campaign's change form posted (its message, parse mode, lists and segments; media: a
    new file, or the saved one unless *clear* is ticked)."""
    mode = request.POST.get("parse_mode", ParseMode.PLAIN)
    kept = campaign is not None and bool(campaign.media) and "media-clear" not in request.POST
    return Draft(
        message=request.POST.get("message", ""),
        parse_mode=mode if mode in ParseMode.values else ParseMode.PLAIN,
        has_media=bool(request.FILES.get("media")) or kept,
        list_ids=_ids(request.POST.getlist("lists")),
        segment_ids=_ids(request.POST.getlist("segments")),
    )


class ComposerView(View):
    """A composer endpoint of ``model_admin`` (given to :meth:`as_view`): :meth:`allowed` is
    checked first (PermissionDenied)."""

    model_admin: admin.ModelAdmin = None

    def allowed(self, request: HttpRequest) -> bool:
        return self.model_admin.has_view_permission(request)

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if not self.allowed(request):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def with_who(data: dict, *, personal: bool) -> dict:
    """``data`` (a :func:`compose_preview`) with ``who``: the sentence above the bubble saying
    whom the preview is of, or that it is of no one (no list, or no valid row: fields are empty)."""
    if data.get("recipient_id"):
        who = f"As {data['recipient']} will receive it."
    elif not personal:
        who = (
            "With empty personalisation fields: recipients are personal data, seen with the permission "
            "to view results."
        )
    else:
        who = (
            "No recipient to preview as (choose a list with valid rows, or a segment with people): "
            "personalisation fields are empty."
        )
    return data | {"who": who}


class ComposerPreviewView(ComposerView):
    """GET or POST: the preview (:func:`compose_preview`) for ``recipient`` (an id among the
    lists' rows; default: the first), as JSON."""

    def get(self, request: HttpRequest) -> JsonResponse:
        draft, _ = draft_from(self.model_admin, request)
        personal = may_see_results(request)
        data = request.POST if request.method == "POST" else request.GET
        recipient = None
        if personal and (ids := _ids([data.get("recipient", "")])):
            recipient = draft.recipients().filter(pk=ids[0]).select_related("recipient_list").first()
        if recipient is None and personal:
            recipient = first_recipient(draft)
        return JsonResponse(with_who(compose_preview(draft, recipient, personal=personal), personal=personal))

    post = get


class ComposerRecipientsView(ComposerView):
    """GET: recipients of the draft's lists and segments matching ``q`` (row number, identity, a field's
    value): personal data, so it needs the results' view permission."""

    http_method_names = ["get", "head", "options"]

    def allowed(self, request: HttpRequest) -> bool:
        return super().allowed(request) and may_see_results(request)

    def get(self, request: HttpRequest) -> JsonResponse:
        draft, _ = draft_from(self.model_admin, request)
        query = request.GET.get("q", "")[:200]
        found: list[Recipient] = pick_recipients(draft, query)
        rows = [
            {
                "id": r.pk,
                "label": recipient_label(r, personal=True),
                "fields": ", ".join(f"{k}: {v}" for k, v in (r.fields or {}).items() if str(v).strip())[:200],
            }
            for r in found
        ]
        return JsonResponse({"recipients": rows})


class ComposerDefaultView(ComposerView):
    """POST only: the message with ``|default:"…"`` added to every bare use of ``name`` (the
    missing-fields report's one-click default); the page puts it in the message box. Any other
    method is refused like a missing permission (403)."""

    def allowed(self, request: HttpRequest) -> bool:
        return request.method == "POST" and may_compose(self.model_admin, request)

    def post(self, request: HttpRequest) -> JsonResponse:
        name = request.POST.get("name", "").strip()
        default = request.POST.get("default", "")[:200]
        return JsonResponse({"message": with_default(request.POST.get("message", ""), name, default)})
