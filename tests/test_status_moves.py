"""A campaign's status changes only by the moves of its table (campaigns.models.campaign.StatusMove),
made by ``Campaign.set_status``: every change in the code is one of them, and any other is refused."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from campaigns.models import OPERATION_STATUSES, Campaign, CampaignStatus
from campaigns.models.campaign import ALLOWED_MOVES, StatusMove

APPS = [Path(__file__).resolve().parent.parent / app for app in ("campaigns", "sessions_app", "tgcampaigns")]


def _calls(attribute: str):
    """(file name, its tree, call) for every call of ``….attribute(…)`` in the apps (not migrations)."""
    for app in APPS:
        for path in app.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == attribute:
                    yield path.name, tree, node


def _is_move(arg: ast.expr | None, tree: ast.Module) -> bool:
    """``StatusMove.X`` with X in the table, or a parameter annotated ``StatusMove`` (which
    set_status checks when called: anything else raises TypeError)."""
    if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "StatusMove":
        return arg.attr in StatusMove.__members__
    return isinstance(arg, ast.Name) and any(
        isinstance(node, ast.arg)
        and node.arg == arg.id
        and ast.unparse(node.annotation or ast.Constant()) == "StatusMove"
        for node in ast.walk(tree)
    )


def test_every_status_change_in_the_code_is_a_move_of_the_table():
    moves = set()
    for name, tree, call in _calls("set_status"):
        arg = call.args[0] if call.args else None
        assert _is_move(arg, tree), f"{name}:{call.lineno}: set_status takes a StatusMove member"
        moves.add(ast.unparse(arg))
    assert len(moves) > 5, "few set_status calls found: the test would prove little"
    for name, _tree, call in _calls("update"):
        for keyword in call.keywords:
            assert not (keyword.arg == "status" and "CampaignStatus" in ast.unparse(keyword.value)), (
                f"{name}:{call.lineno}: a campaign's status written around Campaign.set_status"
            )


@pytest.mark.django_db
@pytest.mark.parametrize("move", list(StatusMove), ids=lambda m: m.name)
def test_a_move_is_made_only_from_its_sources(move):
    campaign = Campaign.objects.create(name="spring")
    for status in CampaignStatus.values:
        Campaign.objects.filter(pk=campaign.pk).update(status=status, status_reason="before")
        campaign.refresh_from_db()

        changed = campaign.set_status(move, "moved")

        campaign.refresh_from_db()
        assert changed is (status in move.sources)
        assert (campaign.status, campaign.status_reason) == (
            (move.target, "moved") if changed else (status, "before")
        )


@pytest.mark.django_db
def test_a_cancelled_campaign_is_final():
    campaign = Campaign.objects.create(name="spring", status=CampaignStatus.CANCELLED)

    assert not any(campaign.set_status(move) for move in StatusMove)
    assert not any(source == CampaignStatus.CANCELLED for source, _ in ALLOWED_MOVES)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED


@pytest.mark.django_db
def test_a_bare_status_is_refused():
    campaign = Campaign.objects.create(name="spring", status=CampaignStatus.RUNNING)

    with pytest.raises(TypeError, match="StatusMove"):
        campaign.set_status(CampaignStatus.PAUSED)


@pytest.mark.django_db
def test_completing_stamps_the_end_and_reopening_clears_it():
    campaign = Campaign.objects.create(name="spring", status=CampaignStatus.RUNNING)

    assert campaign.set_status(StatusMove.COMPLETE)
    campaign.refresh_from_db()
    assert campaign.finished_at is not None
    assert campaign.set_status(StatusMove.REOPEN)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.finished_at) == (CampaignStatus.RUNNING, None)


def test_the_operations_staff_are_offered_are_moves_of_the_table():
    targets = {
        "pause": CampaignStatus.PAUSED,
        "resume": CampaignStatus.RUNNING,
        "cancel": CampaignStatus.CANCELLED,
    }
    for operation, target in targets.items():
        for status in OPERATION_STATUSES[operation]:
            assert (status, target) in ALLOWED_MOVES, (operation, status)
