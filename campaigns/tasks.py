"""django-q2 entry points: thin callers of campaigns.engine (DESIGN.md "How the work is driven")."""

from . import engine


def drive_campaign(campaign_id: int) -> str:
    """One slice of sending for a campaign; enqueues its own continuation."""
    return engine.drive(campaign_id)


def reap() -> dict[str, int]:
    """The every-minute reaper schedule."""
    return engine.reap()


def launch_campaign(campaign_id: int) -> dict[str, int]:
    """Launch by id (used by the launchcampaign command with --queue)."""
    from .models import Campaign

    return engine.launch(Campaign.objects.get(pk=campaign_id))
