"""A/B variants: the composer's split rules, each variant checked like the message, the launch's
deterministic assignment, the hold-out held until staff choose the winner, and the winner page."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.admin.forms import CampaignForm
from campaigns.content.variants import split_problems
from campaigns.models import Campaign, CampaignStatus, ResultStatus
from campaigns.reporting.progress import progress_snapshot
from sessions_app.models import SimulatedDelivery
from tgcampaigns.audit.models import AuditEvent

from .conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


def form(**data) -> CampaignForm:
    base = {
        "name": "ab",
        "parse_mode": "plain",
        "message": "Hello {{ first_name|default:'there' }}",
        "strategy": "round_robin",
        "delay_seconds": 0,
        "max_attempts": 3,
        "priority": 5,
    }
    return CampaignForm(data=base | data)


def crowd(n: int):
    return make_list("crowd", [(f"@member_{i:04d}", {"first_name": f"M{i}"}) for i in range(n)])


# The composer ---------------------------------------------------------------------------------
def test_an_even_split_of_two_wordings_is_accepted_and_stored():
    f = form(variant_b="Hey {{ first_name|default:'you' }}", share_a=50, share_b=50)
    assert f.is_valid(), f.errors
    campaign = f.save()
    assert campaign.variants == ["Hey {{ first_name|default:'you' }}"]
    assert campaign.split == {"A": 50, "B": 50}


@pytest.mark.parametrize(
    "data, said",
    [
        ({"variant_b": "Hey", "share_a": 50, "share_b": 40}, "add up to 90%"),
        (
            {"variant_b": "Hey", "share_a": 50, "share_b": 25, "share_c": 25},
            "Variant C has a share of 25% but no text",
        ),
        ({"variant_b": "Hey", "share_a": 100}, "Variant B has a text but no share"),
        ({"share_a": 20, "share_hold": 80}, "needs at least variant B"),
        ({"variant_c": "Yo", "share_a": 50, "share_c": 50}, "fill them in order"),
    ],
)
def test_the_composer_refuses_a_split_that_does_not_work(data, said):
    f = form(**data)
    assert not f.is_valid()
    assert said in " ".join(f.non_field_errors())


def test_a_hold_out_needs_two_variants_to_choose_from():
    assert any("two variants" in p for p in split_problems("Hi", [], {"A": 20, "hold": 80}))
    assert split_problems("Hi", ["Hey"], {"A": 10, "B": 10, "hold": 80}) == []


def test_no_variant_and_no_share_is_no_test():
    f = form()
    assert f.is_valid(), f.errors
    campaign = f.save()
    assert (campaign.variants, campaign.split) == ([], {})


def test_the_send_window_needs_both_ends():
    f = form(send_window_start="09:00")
    assert not f.is_valid() and "both ends" in str(f.errors)


# The launch check -----------------------------------------------------------------------------
def test_every_variant_goes_through_the_launch_check_like_the_message(people, alpha):
    campaign = make_campaign(
        "checked",
        [people],
        [alpha],
        variants=["Hi {{ city }}", "x" * 5000],
        split={"A": 34, "B": 33, "C": 33},
    )
    problems = " ".join(engine.check_launch(campaign).problems)
    assert "variant B:" in problems and "city" in problems
    assert "variant C:" in problems and "4096" in problems
    assert "variant A:" not in problems


def test_a_broken_split_saved_elsewhere_refuses_the_launch(people, alpha):
    campaign = make_campaign("broken", [people], [alpha], variants=["Hey"], split={"A": 70, "B": 70})
    with pytest.raises(engine.LaunchError, match="add up to 140%"):
        engine.launch(campaign, enqueue=False)


# Assignment and sending -----------------------------------------------------------------------
def test_the_launch_assigns_variants_deterministically_in_proportion(alpha):
    rl = crowd(300)
    split = {"A": 10, "B": 20, "C": 30, "hold": 40}
    campaign = make_campaign("split", [rl], [alpha], variants=["B text", "C text"], split=split)
    engine.launch(campaign, enqueue=False)
    rows = list(campaign.results.values_list("id", "variant", "status"))
    got = Counter("hold" if status == ResultStatus.HELD else variant for _id, variant, status in rows)
    assert got == {"A": 30, "B": 60, "C": 90, "hold": 120}  # exact over every run of 100 ids
    for pk, variant, status in rows:  # the rule depends on the row's id alone
        bucket = (pk * 37) % 100
        expected = "A" if bucket < 10 else "B" if bucket < 30 else "C" if bucket < 60 else ""
        assert (variant, status == ResultStatus.HELD) == (expected, bucket >= 60)


def test_each_recipient_gets_the_text_of_its_variant(people, alpha):
    campaign = make_campaign(
        "wordings", [people], [alpha], variants=["Hey {{ first_name }}, B here"], split={"A": 50, "B": 50}
    )
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    variant_of = dict(campaign.results.values_list("key", "variant"))
    for key, text in SimulatedDelivery.objects.values_list("peer_key", "text"):
        assert text.endswith("B here") == (variant_of[key] == "B")
    assert set(variant_of.values()) == {"A", "B"}


def test_exports_and_the_result_page_show_the_wording_each_recipient_got(people, alpha, admin_client):
    from campaigns.reporting.exports import result_rows

    campaign = make_campaign(
        "wordings", [people], [alpha], variants=["Hey {{ first_name }}, B here"], split={"A": 50, "B": 50}
    )
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    sent = dict(SimulatedDelivery.objects.values_list("peer_key", "text"))
    header, *rows = result_rows(campaign.results.all())
    key, message, variant = header.index("key"), header.index("message"), header.index("variant")
    assert {row[variant] for row in rows} == {"A", "B"}
    for row in rows:
        assert row[message] == sent[row[key]]
    b_row = campaign.results.filter(variant="B").first()
    page = admin_client.get(reverse("admin:campaigns_messageresult_change", args=[b_row.pk]))
    assert "B here" in page.content.decode()


def test_held_rows_wait_and_the_campaign_pauses_for_the_winner_instead_of_completing(alpha):
    campaign = make_campaign(
        "hold", [crowd(20)], [alpha], variants=["B text"], split={"A": 10, "B": 10, "hold": 80}
    )
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.PAUSED
    campaign.refresh_from_db()
    assert "choose the winner" in campaign.status_reason
    # Over 20 ids the shares hold only roughly (exactly over each run of 100): count what was given.
    given = Counter(campaign.results.values_list("status", "variant"))
    held, tested = (
        given[(ResultStatus.HELD, "")],
        given[(ResultStatus.SENT, "A")] + given[(ResultStatus.SENT, "B")],
    )
    assert held + tested == 20 and held > tested > 0
    assert SimulatedDelivery.objects.count() == tested
    snapshot = progress_snapshot(campaign)
    assert (snapshot["held"], snapshot["done"]) == (held, tested)
    assert snapshot["percent_done"] == round(100 * tested / 20, 1)
    assert "choose_winner" in campaign.operations(campaign.counts())

    assert engine.choose_winner(campaign, "B", enqueue=False) == held
    campaign.refresh_from_db()
    assert (campaign.winner, campaign.status) == ("B", CampaignStatus.RUNNING)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    texts = Counter(SimulatedDelivery.objects.values_list("text", flat=True))
    assert texts["B text"] == given[(ResultStatus.SENT, "B")] + held
    with pytest.raises(engine.WinnerRefused):
        engine.choose_winner(campaign, "A", enqueue=False)


def test_cancelling_a_test_cancels_its_hold_out(alpha):
    campaign = make_campaign(
        "cancel", [crowd(10)], [alpha], variants=["B"], split={"A": 25, "B": 25, "hold": 50}
    )
    engine.launch(campaign, enqueue=False)
    engine.cancel(campaign)
    assert not campaign.results.filter(status=ResultStatus.HELD).exists()


# The winner page ------------------------------------------------------------------------------
def test_the_winner_page_compares_the_variants_and_sends_the_chosen_one(client, mark, alpha):
    campaign = make_campaign(
        "page", [crowd(20)], [alpha], variants=["B text"], split={"A": 10, "B": 10, "hold": 80}
    )
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    client.force_login(mark)
    url = reverse("admin:campaigns_campaign_winner", args=[campaign.pk])
    page = client.get(url)
    assert page.status_code == 200
    sent = Counter(campaign.results.filter(status=ResultStatus.SENT).values_list("variant", flat=True))
    assert [(v["label"], v["sent"]) for v in page.context["variants"]] == [("A", sent["A"]), ("B", sent["B"])]
    assert client.post(url, {"variant": "A"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.winner == "A" and not campaign.results.filter(status=ResultStatus.HELD).exists()
    assert AuditEvent.objects.filter(action="campaign.winner", object_id=str(campaign.pk)).exists()


def test_a_reviewer_may_not_choose_the_winner(client, rita, alpha):
    campaign = make_campaign(
        "page", [crowd(4)], [alpha], variants=["B"], split={"A": 25, "B": 25, "hold": 50}
    )
    engine.launch(campaign, enqueue=False)
    client.force_login(rita)
    url = reverse("admin:campaigns_campaign_winner", args=[campaign.pk])
    assert client.post(url, {"variant": "A"}).status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).winner == ""


# Fingerprint and clone ------------------------------------------------------------------------
def test_the_fingerprint_changes_with_the_variants_the_split_and_the_window(people, alpha):
    from datetime import time

    campaign = make_campaign("fp", [people], [alpha], variants=["B"], split={"A": 50, "B": 50})
    before = campaign.fingerprint()
    for change in (
        {"variants": ["B!"]},
        {"split": {"A": 40, "B": 60}},
        {"send_window_start": time(9), "send_window_end": time(20)},
    ):
        copy = Campaign.objects.get(pk=campaign.pk)
        for name, value in change.items():
            setattr(copy, name, value)
        assert copy.fingerprint() != before, change


def test_a_clone_keeps_the_variants_the_split_and_the_window(people, alpha):
    from datetime import time

    campaign = make_campaign(
        "orig",
        [people],
        [alpha],
        variants=["B"],
        split={"A": 50, "B": 50},
        send_window_start=time(9),
        send_window_end=time(20),
    )
    copy = campaign.clone()
    assert (copy.variants, copy.split, copy.send_window_start, copy.send_window_end, copy.winner) == (
        ["B"],
        {"A": 50, "B": 50},
        time(9),
        time(20),
        "",
    )


def test_the_demo_campaign_compares_two_wordings_half_and_half(tmp_path, settings):
    from django.core.management import call_command

    settings.MEDIA_ROOT = tmp_path
    call_command("loaddemo", stdout=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
    campaign = Campaign.objects.get(name="Demo: store opening")
    assert (len(campaign.variants), campaign.split) == (1, {"A": 50, "B": 50})
    assert engine.check_launch(campaign).problems == []


# Found trying the product: the hold-out's pause, the winner page, the variants after the winner --
def paused_for_winner(alpha, n: int = 20, **overrides):
    campaign = make_campaign(
        "hold",
        [crowd(n)],
        [alpha],
        variants=["B <b>{{ first_name }}</b>"],
        split={"A": 10, "B": 10, "hold": 80},
        **overrides,
    )
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.PAUSED
    campaign.refresh_from_db()
    return campaign


def test_a_campaign_paused_for_its_winner_offers_choose_the_winner_instead_of_resume(client, mark, alpha):
    campaign = paused_for_winner(alpha)
    ops = campaign.operations(campaign.counts())
    assert "choose_winner" in ops and "resume" not in ops
    assert engine.resume(campaign, enqueue=False) is False
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "Choose the winner…" in page and ">Resume<" not in page
    url = reverse("admin:campaigns_campaign_operation", args=[campaign.pk, "resume"])
    said = [str(m) for m in client.post(url, follow=True).context["messages"]]
    assert any("was not resumed" in m and "Choose the winner" in m for m in said), said
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED


def test_a_staff_pause_during_the_test_may_still_be_resumed(alpha):
    campaign = make_campaign(
        "hold", [crowd(20)], [alpha], variants=["B text"], split={"A": 10, "B": 10, "hold": 80}
    )
    engine.launch(campaign, enqueue=False)
    engine.pause(campaign)
    campaign.refresh_from_db()
    assert "resume" in campaign.operations(campaign.counts())
    assert engine.resume(campaign, enqueue=False) is True


def test_the_winner_page_shows_each_wording_and_its_read_and_reply_rates(client, mark, alpha):
    campaign = paused_for_winner(alpha)
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_winner", args=[campaign.pk]))
    html = page.content.decode()
    assert "Hi {{ first_name|default:&#x27;there&#x27; }}!" in html  # A's template source, escaped
    assert "B &lt;b&gt;{{ first_name }}&lt;/b&gt;" in html and "<b>{{" not in html
    by_label = {v["label"]: v for v in page.context["variants"]}
    sent = Counter(campaign.results.filter(status=ResultStatus.SENT).values_list("variant", flat=True))
    assert by_label["B"]["n"] == sent["B"]
    assert "read_rate_display" in by_label["A"] and "reply_rate_display" in by_label["A"]
    assert f"n = {sent['B']}" in html and "too few to compare" in html
    assert "Reply rate" in html and "Read rate" in html


def test_by_variant_keeps_the_test_apart_from_the_winners_send_to_the_hold_out(client, mark, alpha):
    from campaigns.reporting.report import build_report

    campaign = paused_for_winner(alpha)
    tested = Counter(campaign.results.filter(status=ResultStatus.SENT).values_list("variant", flat=True))
    client.force_login(mark)
    client.post(reverse("admin:campaigns_campaign_winner", args=[campaign.pk]), {"variant": "B"})
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    report = build_report(campaign)
    assert [(v["variant"], v["n"]) for v in report["by_variant"]] == [("A", tested["A"]), ("B", tested["B"])]
    released = report["winner_release"]
    assert released["variant"] == "B"
    assert released["sent"] == 20 - tested["A"] - tested["B"]
    assert report["overall"]["sent"] == 20
    html = client.get(reverse("campaigns:report", args=[campaign.pk])).json()["html"]
    assert "Winner B sent to the hold-out" in html


def test_the_progress_block_gives_held_rows_their_own_row_and_column(client, mark, alpha):
    # Found trying the product: held rows were counted in "(waiting for a session)".
    campaign = paused_for_winner(alpha)
    held = campaign.results.filter(status=ResultStatus.HELD).count()
    rows = {r["name"]: r for r in progress_snapshot(campaign)["sessions"]}
    assert "(waiting for a session)" not in rows
    assert rows["Held for the winner"]["total"] == rows["Held for the winner"]["counts"]["held"] == held
    assert sum(r["total"] for r in rows.values()) == 20
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "<th>Held for the winner</th>" in page and f'<td class="tgc-held">{held}</td>' in page


def test_the_sending_rate_leaves_out_the_wait_for_the_winner(alpha):
    # Found trying the product: "9.7 sent/min over 142 s" counted the pause for the winner.
    from datetime import UTC, datetime, timedelta

    from campaigns.models import AttemptTally
    from campaigns.reporting.progress import metrics
    from tgcampaigns.audit import AuditAction

    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    campaign = make_campaign("rate", [], [alpha], variants=["B"], split={"A": 10, "B": 10, "hold": 80})
    for start, sent in ((t0, 10), (t0 + timedelta(seconds=600), 10)):  # the test, then the hold-out
        AttemptTally.objects.create(
            campaign_id=campaign.pk, session_id=alpha.pk, requests=sent, sent=sent,
            first_started_at=start, last_finished_at=start + timedelta(seconds=60),
        )  # fmt: skip
    assert metrics(campaign)["elapsed_seconds"] == 660
    campaign.winner = "B"
    campaign.save()
    AuditEvent.objects.create(
        action=AuditAction.CAMPAIGN_WINNER,
        message="B won",
        object_id=str(campaign.pk),
        at=t0 + timedelta(seconds=300),
    )
    m = metrics(campaign)
    assert (m["elapsed_seconds"], m["winner_wait_seconds"], m["sent_per_minute"]) == (120, 540, 10.0)


def test_the_ab_test_section_is_open_on_a_campaign_that_has_variants_and_folded_on_one_without(
    client, mark, people, alpha
):
    plain = make_campaign("Plain", [people], [alpha])
    tested = make_campaign("Tested", [people], [alpha], variants=["Hi B"], split={"A": 50, "B": 50})
    client.force_login(mark)

    def ab_section(campaign) -> str:
        """The opening tag of the fieldset the "A/B test" heading is in."""
        html = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
        start = html.rindex("<fieldset", 0, html.index("A/B test"))
        return html[start : html.index(">", start) + 1]

    assert "collapse" in ab_section(plain)
    assert "collapse" not in ab_section(tested)
