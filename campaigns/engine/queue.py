"""Waking workers through django-q2. The queue only wakes work up: a duplicate or lost task is
harmless because rows and leases in the database are the truth (docs/design.md "How the work is
driven"). Task names are the dotted paths django-q2 stores: ``campaigns.tasks.*``."""

from __future__ import annotations

from django_q.tasks import async_task


def enqueue_drive(campaign_id: int) -> None:
    """Wake a worker for one slice of ``campaign_id``."""
    async_task("campaigns.tasks.drive_campaign", campaign_id, group=f"campaign-{campaign_id}")


def enqueue_contact_cleanup(campaign_id: int) -> None:
    """Delete the contacts the campaign's user sessions imported (``TGC_DELETE_IMPORTED_CONTACTS``)."""
    async_task("campaigns.tasks.forget_imported_contacts", campaign_id)


def enqueue_launch(campaign_id: int) -> None:
    """Prepare a large campaign's rows in a worker (``campaigns.tasks.launch_campaign``)."""
    async_task("campaigns.tasks.launch_campaign", campaign_id, group=f"campaign-{campaign_id}")
