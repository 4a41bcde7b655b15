"""django-q2 entry points: thin callers of campaigns.engine (docs/design.md "How the work is driven").

The dotted names (``campaigns.tasks.drive_campaign``, ``campaigns.tasks.reap`` …) are stored in
django-q2's queue and schedules: keep them.
"""

from . import engine


def drive_campaign(campaign_id: int) -> str:
    """One slice of sending for a campaign; enqueues its own continuation."""
    return engine.drive(campaign_id)  # which binds the campaign's id to its log lines


def launch_campaign(campaign_id: int) -> str:
    """Prepare a large campaign's rows and start it (enqueued by a launch from the admin)."""
    return engine.start_prepared(campaign_id)


def reap() -> dict[str, int]:
    """The every-minute reaper schedule."""
    return engine.reap()


def purge_old_data() -> dict[str, int]:
    """The daily retention schedule (TGC_RESULTS_RETENTION_DAYS, TGC_LISTS_RETENTION_DAYS)."""
    from .people.retention import purge

    return purge()


def forget_imported_contacts(campaign_id: int) -> dict[str, int | None]:
    """After a campaign: delete the contacts its Telethon user sessions imported to reach phones
    (``TGC_DELETE_IMPORTED_CONTACTS``). A session busy elsewhere is skipped (None)."""
    from sessions_app.contacts import forget_imported_contacts as forget

    from .models import Campaign

    campaign = Campaign.objects.get(pk=campaign_id)
    return {s.name: forget(s) for s in campaign.sessions.filter(backend="telethon", kind="user")}


def listen_optouts(window: float = 45.0) -> int:
    """One opt-out listening round inside a worker (the ``TGC_OPTOUT_SCHEDULE`` schedule): the
    free Telethon sessions are connected for ``window`` seconds. Returns how many were."""
    from sessions_app import leases

    from .engine import listener

    return len(listener.listen_round(leases.owner_name("optout"), window=window))


def catch_up_after_send() -> dict[str, int]:
    """The after-send catch-up schedule: read marks and missed replies of recent campaigns
    (``TGC_AFTER_SEND_DAYS``) for the free user sessions. Returns replies recorded per session."""
    from .engine import engagement

    return {name: report.replies for name, report in engagement.catch_up().items()}


def import_recipient_list(list_id: int) -> str:
    """A large recipient file's import, queued by the mapping step's confirmation."""
    from .lists.jobs import run_import

    return run_import(list_id)
