"""Worker hooks: a qcluster worker recovers abandoned rows when it starts."""

from django.dispatch import receiver
from django_q.signals import post_spawn


@receiver(post_spawn)
def recover_on_worker_start(sender, proc_name, **kwargs) -> None:
    """Run the reaper once as each worker process starts (DESIGN.md "Reaper")."""
    from . import engine

    try:
        engine.reap()
    except Exception:  # a worker must start even when the database is briefly unavailable
        import logging

        logging.getLogger(__name__).exception("reaper at worker start failed")
