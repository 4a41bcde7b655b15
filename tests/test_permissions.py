"""Who may do what: the permission matrix of docs/using.md "Roles and permissions", held row by row for
the real groups (campaigns.people.roles: Marketing = mark, Reviewer = rita, Operator = otto) and the
superuser (olga); and the findings it answers: every admin action declares its permission, a
view-only user runs no session action, personal data needs the results permission, django-q2's
pages are for superusers.

The docs/using.md table is the source: each row's label names a probe here, each cell says whether the
role is allowed. A probe is allowed when every check it makes is (a page answers 200, an action is
offered, a POST is not refused); denied when every check is (403, not offered, not shown).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import MessageResult, Reply, SeedList, Segment, Suppression
from sessions_app.models import SessionStatus, TelegramSession
from tests.conftest import make_campaign, make_session
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)

pytestmark = pytest.mark.django_db

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "using.md"
ROLES = ("Marketing", "Reviewer", "Operator", "Superuser")


def readme_matrix() -> list[tuple[str, dict[str, bool]]]:
    """(row label, role → allowed) for each row of docs/using.md's "Roles and permissions" table."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Roles and permissions", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 5 or cells[0] in ("page or action", "---"):
            if rows and not line.startswith("|"):
                break
            continue
        rows.append((cells[0], {role: cell == "✓" for role, cell in zip(ROLES, cells[1:], strict=True)}))
    return rows


# The world the probes look at ---------------------------------------------------------------
class World:
    def __init__(self, people, alpha):
        self.people = people
        self.alpha = alpha
        self.quarantined = make_session("gamma", status=SessionStatus.QUARANTINED)
        self.draft = make_campaign("Draft", [people], [alpha])
        self.done = make_campaign("Done", [people], [alpha])
        engine.launch(self.done, enqueue=False)
        engine.run_until_done(self.done, max_seconds=10)
        self.paused = make_campaign("Paused", [people], [alpha])
        engine.launch(self.paused, enqueue=False)
        engine.pause(self.paused)
        self.seeds = SeedList.objects.create(name="Team", entries="@team_member")
        self.row = people.recipients.order_by("pk").first()
        self.result = self.done.results.first()
        self.reply = Reply.objects.create(
            campaign=self.done,
            result=self.result,
            session=alpha,
            peer_id=self.result.peer_id or 1,
            message_id=(self.result.telegram_message_id or 0) + 1,
            text="Is this for real?",
            received_at=timezone.now(),
        )
        self.failed = make_campaign("Failed", [people], [alpha], status="completed")
        MessageResult.objects.create(
            campaign=self.failed, key="@x_user", status="failed", error_code="TIMEOUT"
        )
        self.suppression = Suppression.objects.create(key="@someone_else")
        self.ab_test = make_campaign(
            "A/B", [people], [alpha], variants=["B"], split={"A": 20, "B": 20, "hold": 60}
        )
        engine.launch(self.ab_test, enqueue=False)
        self.real = make_session("real", backend="telethon", status=SessionStatus.NEW)
        self.segment = Segment.objects.create(name="Everyone", definition={})


@pytest.fixture
def world(people, alpha):
    return World(people, alpha)


@pytest.fixture
def users(olga, mark, rita, otto) -> dict[str, User]:
    return {"Marketing": mark, "Reviewer": rita, "Operator": otto, "Superuser": olga}


class Denied(Exception):
    pass


def page(client, url: str) -> bool:
    status = client.get(url).status_code
    if status in (403, 404) or status == 302:
        return False
    assert status == 200, f"{url} answered {status}"
    return True


def post(client, url: str, data: dict | None = None) -> bool:
    status = client.post(url, data or {}).status_code
    assert status in (200, 302, 403), f"POST {url} answered {status}"
    return status != 403


def offered(client, changelist: str, action: str) -> bool:
    """Whether the changelist offers ``action`` (no page, no action)."""
    response = client.get(reverse(changelist))
    if response.status_code == 403:
        return False
    form = response.context["action_form"]
    return form is not None and action in dict(form.fields["action"].choices)


def on_index(client, app_label: str, model_name: str) -> bool:
    apps = client.get(reverse("admin:index")).context["app_list"]
    return any(
        m["object_name"].lower() == model_name
        for a in apps
        if a["app_label"] == app_label
        for m in a["models"]
    )


def change_form_fields(client, url: str) -> set[str]:
    response = client.get(url)
    return set(response.context["adminform"].form.fields) if response.status_code == 200 else set()


# Probes, by the guide's row label ----------------------------------------------------------------
Probe = Callable[[object, World], list[bool]]


def registered() -> set[str]:
    return {f"{m._meta.app_label}_{m._meta.model_name}" for m in admin.site._registry}


def _cl(name: str) -> str:
    return reverse(f"admin:{name}_changelist")


PROBES: dict[str, Probe] = {
    "Recipient lists: list, upload, list page": lambda c, w: [
        page(c, _cl("campaigns_recipientlist")),
        page(c, reverse("admin:campaigns_recipientlist_add")),
        page(c, reverse("admin:campaigns_recipientlist_change", args=[w.people.pk])),
        on_index(c, "campaigns", "recipientlist"),
    ],
    "Recipient lists: delete": lambda c, w: [
        offered(c, "admin:campaigns_recipientlist_changelist", "delete_selected")
    ],
    "Recipients (the rows of lists)": lambda c, w: [page(c, _cl("campaigns_recipient"))],
    "Persons: search, a person's page": lambda c, w: [
        page(c, reverse("admin:campaigns_person_changelist")),
        page(c, reverse("admin:campaigns_person_page", args=[w.row.pk])),
        on_index(c, "campaigns", "person"),
    ],
    "Persons: add and remove tags (a person's page, the recipients' actions)": lambda c, w: [
        "tgc-add-tags" in c.get(reverse("admin:campaigns_person_page", args=[w.row.pk])).content.decode(),
        post(c, reverse("admin:campaigns_person_tags", args=[w.row.pk]), {"add": "VIP"}),
        post(c, reverse("admin:campaigns_person_tags", args=[w.row.pk]), {"remove": "VIP"}),
        offered(c, "admin:campaigns_recipient_changelist", "add_tags"),
        offered(c, "admin:campaigns_recipient_changelist", "remove_tags"),
    ],
    "Persons: Erase this person (a person's page)": lambda c, w: [
        "tgc-erase-person" in c.get(reverse("admin:campaigns_person_page", args=[w.row.pk])).content.decode(),
        page(c, reverse("admin:campaigns_person_erase", args=[w.row.pk])),
    ],
    "Tags: list with counts": lambda c, w: [
        page(c, _cl("campaigns_tag")),
        on_index(c, "campaigns", "tag"),
    ],
    "Home page: campaigns running, scheduled and recently finished": lambda c, w: [
        'id="tgc-home-finished"' in c.get(reverse("admin:index")).content.decode()
    ],
    "Home page: sessions that need attention": lambda c, w: [
        'id="tgc-home-attention"' in c.get(reverse("admin:index")).content.decode()
    ],
    "Campaigns: list, campaign page, progress, charts": lambda c, w: [
        page(c, _cl("campaigns_campaign")),
        page(c, reverse("admin:campaigns_campaign_change", args=[w.done.pk])),
        page(c, reverse("campaigns:progress", args=[w.done.pk])),
        page(c, reverse("campaigns:charts", args=[w.done.pk])),
    ],
    "Campaigns: add, edit a draft, delete": lambda c, w: [
        page(c, reverse("admin:campaigns_campaign_add")),
        "message" in change_form_fields(c, reverse("admin:campaigns_campaign_change", args=[w.draft.pk])),
        offered(c, "admin:campaigns_campaign_changelist", "delete_selected"),
    ],
    "Campaigns: change the sessions of a paused campaign": lambda c, w: [
        "sessions" in change_form_fields(c, reverse("admin:campaigns_campaign_change", args=[w.paused.pk]))
    ],
    "Campaigns: Launch (summary, button and action)": lambda c, w: [
        offered(c, "admin:campaigns_campaign_changelist", "launch_selected"),
        page(c, reverse("admin:campaigns_campaign_launch", args=[w.draft.pk])),
        post(c, reverse("admin:campaigns_campaign_launch", args=[w.draft.pk]), {"confirmed": "stale"}),
        post(c, reverse("admin:campaigns_campaign_operation", args=[w.draft.pk, "launch"])),
    ],
    "Campaigns: Pause, Resume, Cancel, Retry failed, Resend unknown": lambda c, w: [
        *(
            offered(c, "admin:campaigns_campaign_changelist", f"{op}_selected")
            for op in ("pause", "resume", "cancel", "retry_failed", "resend_unknown")
        ),
        page(c, reverse("admin:campaigns_campaign_retry", args=[w.failed.pk])),
        post(c, reverse("admin:campaigns_campaign_operation", args=[w.done.pk, "pause"])),
    ],
    "Campaigns: Choose the winner of an A/B test": lambda c, w: [
        page(c, reverse("admin:campaigns_campaign_winner", args=[w.ab_test.pk])),
        post(c, reverse("admin:campaigns_campaign_winner", args=[w.ab_test.pk]), {"variant": "Z"}),
    ],
    "Campaigns: Clone (button and action)": lambda c, w: [
        offered(c, "admin:campaigns_campaign_changelist", "clone_selected"),
        post(c, reverse("admin:campaigns_campaign_operation", args=[w.done.pk, "clone"])),
    ],
    "Campaigns: Send test, seed lists": lambda c, w: [
        page(c, reverse("admin:campaigns_campaign_test_send", args=[w.draft.pk])),
        post(
            c,
            reverse("admin:campaigns_campaign_test_send", args=[w.draft.pk]),
            {"session": w.alpha.pk, "to": "@own_account"},
        ),
        page(c, _cl("campaigns_seedlist")),
        page(c, reverse("admin:campaigns_seedlist_change", args=[w.seeds.pk])),
        on_index(c, "campaigns", "seedlist"),
    ],
    "Campaign page: preview personalised for a recipient, recipient picker": lambda c, w: [
        "@alice_user" in c.get(reverse("admin:campaigns_campaign_change", args=[w.done.pk])).content.decode(),
        "@alice_user"
        in c.post(
            reverse("admin:campaigns_campaign_composer_preview"), {"campaign": w.done.pk}
        ).content.decode(),
        page(c, reverse("admin:campaigns_campaign_composer_recipients") + f"?campaign={w.done.pk}&q=bob"),
    ],
    "Campaign page: after the send (read, reply and opt-out rates, chart)": lambda c, w: [
        page(c, reverse("campaigns:report", args=[w.done.pk])),
        "After the send"
        in c.get(reverse("admin:campaigns_campaign_change", args=[w.done.pk])).content.decode(),
    ],
    "Message results: list, result page": lambda c, w: [
        page(c, _cl("campaigns_messageresult")),
        page(c, reverse("admin:campaigns_messageresult_change", args=[w.result.pk])),
    ],
    "Export results as CSV (campaign page and action, results page and action)": lambda c, w: [
        page(c, reverse("campaigns:export", args=[w.done.pk])),
        offered(c, "admin:campaigns_campaign_changelist", "export_selected"),
        page(c, reverse("admin:campaigns_messageresult_export")),
        offered(c, "admin:campaigns_messageresult_changelist", "export_selected"),
    ],
    "Message results: delete (of campaigns that no longer send)": lambda c, w: [
        offered(c, "admin:campaigns_messageresult_changelist", "delete_selected"),
    ],
    "Replies: list, reply page, the replies on a result's page": lambda c, w: [
        page(c, _cl("campaigns_reply")),
        page(c, reverse("admin:campaigns_reply_change", args=[w.reply.pk])),
        "Is this for real?"
        in c.get(reverse("admin:campaigns_messageresult_change", args=[w.result.pk])).content.decode(),
    ],
    "Export replies as CSV": lambda c, w: [
        offered(c, "admin:campaigns_reply_changelist", "export_selected"),
        c.post(_cl("campaigns_reply"), {"action": "export_selected", "_selected_action": [w.reply.pk]})
        .get("Content-Type", "")
        .startswith("text/csv"),
    ],
    "Segments: list, segment page (count, sample, why)": lambda c, w: [
        page(c, _cl("campaigns_segment")),
        'id="tgc-segment-sample"'
        in c.get(reverse("admin:campaigns_segment_change", args=[w.segment.pk])).content.decode(),
        on_index(c, "campaigns", "segment"),
    ],
    "Segments: add, change, delete": lambda c, w: [
        page(c, reverse("admin:campaigns_segment_add")),
        "has_tags" in change_form_fields(c, reverse("admin:campaigns_segment_change", args=[w.segment.pk])),
        offered(c, "admin:campaigns_segment_changelist", "delete_selected"),
    ],
    "Campaigns: Follow up… (a draft, or scheduled after the campaign ends)": lambda c, w: [
        page(c, reverse("admin:campaigns_campaign_follow_up", args=[w.done.pk])),
        post(
            c,
            reverse("admin:campaigns_campaign_follow_up", args=[w.done.pk]),
            {"kind": "replied", "when": "now"},
        ),
    ],
    "Suppressions: list, add, change, Add many, delete": lambda c, w: [
        page(c, _cl("campaigns_suppression")),
        page(c, reverse("admin:campaigns_suppression_add")),
        page(c, reverse("admin:campaigns_suppression_change", args=[w.suppression.pk])),
        page(c, reverse("admin:campaigns_suppression_bulk_add")),
        offered(c, "admin:campaigns_suppression_changelist", "delete_selected"),
    ],
    "Erase a person": lambda c, w: [page(c, reverse("admin:campaigns_suppression_erase"))],
    "Audit trail": lambda c, w: [
        page(c, _cl("audit_auditevent")),
        on_index(c, "audit", "auditevent"),
    ],
    "Webhooks: subscriptions, the delivery log, Resend": lambda c, w: [
        page(c, _cl("webhooks_webhooksubscription")),
        page(c, reverse("admin:webhooks_webhooksubscription_add")),
        page(c, _cl("webhooks_webhookdelivery")),
        offered(c, "admin:webhooks_webhookdelivery_changelist", "resend"),
        on_index(c, "webhooks", "webhooksubscription"),
    ],
    "Telegram sessions: list, add, session page": lambda c, w: [
        page(c, _cl("sessions_app_telegramsession")),
        page(c, reverse("admin:sessions_app_telegramsession_add")),
        page(c, reverse("admin:sessions_app_telegramsession_change", args=[w.alpha.pk])),
        on_index(c, "sessions_app", "telegramsession"),
    ],
    "Telegram sessions: Log in": lambda c, w: [
        page(c, reverse("admin:sessions_app_telegramsession_login", args=[w.real.pk]))
    ],
    "Telegram sessions: Check health, Disable, Re-activate": lambda c, w: [
        offered(c, "admin:sessions_app_telegramsession_changelist", a)
        for a in ("check_health_action", "disable_action", "reactivate_action")
    ],
    "Telegram sessions: Un-quarantine, with a reason": lambda c, w: [
        offered(c, "admin:sessions_app_telegramsession_changelist", "unquarantine_action")
    ],
    "Telegram sessions: Release lease": lambda c, w: [
        offered(c, "admin:sessions_app_telegramsession_changelist", "release_lease_action")
    ],
    "Telegram sessions: status, FloodWait, last error typed in by hand": lambda c, w: [
        bool(
            {"status", "flood_wait_until", "last_error_code", "last_error_text"}
            & change_form_fields(c, reverse("admin:sessions_app_telegramsession_change", args=[w.alpha.pk]))
        )
    ],
    "Resolved peers": lambda c, w: [
        page(c, _cl("sessions_app_resolvedpeer")),
        on_index(c, "sessions_app", "resolvedpeer"),
    ],
    "django-q2: tasks, failures, schedules, queue": lambda c, w: [
        page(c, _cl("django_q_schedule")),
        page(c, reverse("admin:django_q_schedule_add")),
        page(c, _cl("django_q_success")),
        page(c, _cl("django_q_failure")),
        *([page(c, _cl("django_q_ormq"))] if "django_q_ormq" in registered() else []),  # ORM broker only
        on_index(c, "django_q", "schedule"),
    ],
    "Users and groups": lambda c, w: [
        page(c, _cl("auth_user")),
        page(c, _cl("auth_group")),
        on_index(c, "auth", "user"),
    ],
    "Login lockouts (django-axes)": lambda c, w: [page(c, _cl("axes_accessattempt"))],
    "Your own time zone (user menu)": lambda c, w: [
        page(c, reverse("time_zone")),
        post(c, reverse("time_zone"), {"time_zone": "Europe/Berlin"}),
    ],
}


def test_the_readme_table_and_the_probes_name_the_same_rows():
    assert [label for label, _ in readme_matrix()] == list(PROBES)


@pytest.mark.parametrize(("label", "expected"), readme_matrix(), ids=[label for label, _ in readme_matrix()])
def test_the_permission_matrix(client, world, users, label, expected):
    """Each role may do exactly what docs/using.md "Roles and permissions" says, page, URL and action."""
    found = {}
    for role, user in users.items():
        client.force_login(user)
        checks = PROBES[label](client, world)
        assert len(set(checks)) == 1, f"{role}: {label}: some checks allowed, some denied: {checks}"
        found[role] = checks[0]
    assert found == expected


# Finding 1: every action declares its permission; a view-only user runs none ---------------
def test_every_admin_action_in_the_project_declares_its_permission():
    site_admins = admin.site._registry.values()
    undeclared = []
    for model_admin in site_admins:
        for func, name, _ in model_admin._get_base_actions():
            permissions = getattr(func, "allowed_permissions", ())
            if not permissions:
                undeclared.append(f"{type(model_admin).__name__}.{name}")
            for permission in permissions:
                assert hasattr(model_admin, f"has_{permission}_permission"), (name, permission)
    assert not undeclared


def staff_with(*perms: str) -> User:
    user = User.objects.create_user("viewer", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)


SESSION_ACTIONS = ("reactivate_action", "disable_action", "release_lease_action", "check_health_action")


@pytest.mark.parametrize("action", [*SESSION_ACTIONS, "unquarantine_action"])
def test_a_user_who_may_only_view_sessions_runs_no_session_action(client, telegram, action):
    from datetime import timedelta

    from django.utils import timezone

    quarantined = make_session("q", status=SessionStatus.QUARANTINED)
    disabled = make_session("d", status=SessionStatus.PAUSED)
    leased = make_session(
        "l", lease_owner="live-worker", lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    real = TelegramSession(name="real", status=SessionStatus.ACTIVE)
    real.session_string = telegram.log_in(telegram.add_account("+4915100000009"))
    real.save()
    sessions = [quarantined, disabled, leased, real]
    before = list(
        TelegramSession.objects.order_by("pk").values_list("status", "lease_owner", "last_checked_at")
    )
    client.force_login(staff_with("sessions_app.view_telegramsession"))

    response = client.post(
        reverse("admin:sessions_app_telegramsession_changelist"),
        {"action": action, "_selected_action": [s.pk for s in sessions], "reason": "because I can"},
    )

    assert response.status_code in (200, 302, 403)
    after = list(
        TelegramSession.objects.order_by("pk").values_list("status", "lease_owner", "last_checked_at")
    )
    assert after == before
    assert telegram.clients == [], "a Telegram request ran for a view-only user"


def test_re_activate_leaves_quarantined_sessions_to_un_quarantine(client, otto):
    quarantined = make_session("q", status=SessionStatus.QUARANTINED)
    client.force_login(otto)

    response = client.post(
        reverse("admin:sessions_app_telegramsession_changelist"),
        {"action": "reactivate_action", "_selected_action": [quarantined.pk]},
        follow=True,
    )

    quarantined.refresh_from_db()
    assert quarantined.status == SessionStatus.QUARANTINED
    assert any("Un-quarantine" in str(m) for m in response.context["messages"])


def test_un_quarantine_needs_its_permission_and_a_reason_and_records_it(client, otto):
    from tgcampaigns.audit.models import AuditEvent

    quarantined = make_session("q", status=SessionStatus.QUARANTINED)
    url = reverse("admin:sessions_app_telegramsession_changelist")
    data = {"action": "unquarantine_action", "_selected_action": [quarantined.pk]}
    client.force_login(otto)

    asked = client.post(url, data)
    assert "reason" in asked.context["form"].fields
    refused = client.post(url, data | {"reason": "ok"})
    assert refused.context["form"].errors
    quarantined.refresh_from_db()
    assert quarantined.status == SessionStatus.QUARANTINED

    client.post(url, data | {"reason": "@SpamBot says the limit is lifted"})

    quarantined.refresh_from_db()
    assert quarantined.status == SessionStatus.ACTIVE
    event = AuditEvent.objects.get(action="session.unquarantine")
    assert (event.user, event.object_id) == (otto, str(quarantined.pk))
    assert "@SpamBot says the limit is lifted" in event.message


# Finding 4: personal data needs the results permission everywhere ---------------------------
def test_a_user_who_may_only_view_campaigns_sees_and_exports_no_personal_data(client, world):
    client.force_login(staff_with("campaigns.view_campaign"))

    page_html = client.get(reverse("admin:campaigns_campaign_change", args=[world.done.pk])).content.decode()
    exported = client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "export_selected", "_selected_action": [world.done.pk]},
    )
    by_url = client.get(reverse("campaigns:export", args=[world.done.pk]))

    for key, name in MessageResult.objects.values_list("key", "fields__first_name"):
        assert key not in page_html and f"Hi {name}" not in page_html
    assert exported.get("Content-Type", "").startswith("text/html")  # the changelist, not a CSV
    assert by_url.status_code == 403


def test_replies_need_the_results_view_permission_not_their_own(client, world):
    client.force_login(staff_with("campaigns.view_campaign", "campaigns.view_reply"))

    assert client.get(_cl("campaigns_reply")).status_code == 403
    assert client.get(reverse("admin:campaigns_reply_change", args=[world.reply.pk])).status_code == 403


def test_viewing_replies_without_the_export_permission_exports_nothing(client, world):
    client.force_login(staff_with("campaigns.view_messageresult", "campaigns.view_reply"))

    assert client.get(_cl("campaigns_reply")).status_code == 200
    assert not offered(client, "admin:campaigns_reply_changelist", "export_selected")
    exported = client.post(
        _cl("campaigns_reply"), {"action": "export_selected", "_selected_action": [world.reply.pk]}
    )
    assert not exported.get("Content-Type", "").startswith("text/csv")


def test_viewing_results_without_the_export_permission_exports_nothing(client, world):
    client.force_login(staff_with("campaigns.view_campaign", "campaigns.view_messageresult"))

    assert client.get(reverse("campaigns:export", args=[world.done.pk])).status_code == 403
    assert client.get(reverse("admin:campaigns_messageresult_export")).status_code == 403
    assert not offered(client, "admin:campaigns_messageresult_changelist", "export_selected")


# Finding 10: django-q2 is for superusers -----------------------------------------------------
def test_staff_with_django_q_permissions_can_neither_schedule_code_nor_resubmit_tasks(client):
    from django_q.models import Failure, Schedule

    perms = [
        f"django_q.{p}_{m}" for p in ("view", "add", "change") for m in ("schedule", "failure", "success")
    ]
    client.force_login(staff_with(*perms))
    failure = Failure.objects.create(
        id="0" * 32,
        name="boom",
        func="os.system",
        args=("true",),
        started="2026-01-01T00:00Z",
        stopped="2026-01-01T00:00Z",
        success=False,
    )

    added = client.post(
        reverse("admin:django_q_schedule_add"),
        {
            "name": "x",
            "func": "os.system",
            "args": "'touch /tmp/pwned'",
            "schedule_type": "O",
            "repeats": "-1",
        },
    )
    resubmitted = client.post(
        reverse("admin:django_q_failure_changelist"),
        {"action": "resubmit_task", "_selected_action": [failure.pk]},
    )

    assert added.status_code == 403
    assert resubmitted.status_code == 403
    assert not Schedule.objects.filter(func="os.system").exists()
    assert Failure.objects.filter(pk=failure.pk).exists()
    assert not on_index(client, "django_q", "schedule")
