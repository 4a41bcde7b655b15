"""``launchcampaign ID [--run]``: launch a campaign from the shell, optionally sending it here."""

import signal

from django.core.management.base import BaseCommand, CommandError

from campaigns import engine
from campaigns.engine.storage import database_errors_as_command_errors
from campaigns.models import Campaign, CampaignStatus


class Command(BaseCommand):
    help = "Launch a campaign (enqueue its worker task), or with --run send it in this process."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument(
            "--run", action="store_true", help="Drive it here until done, instead of a worker."
        )
        parser.add_argument("--max-seconds", type=float, default=24 * 3600.0)

    def handle(self, campaign_id, run, max_seconds, **options):
        with database_errors_as_command_errors():  # a full disk is one line, not a traceback
            self._launch(campaign_id, run, max_seconds)

    def _launch(self, campaign_id: int, run: bool, max_seconds: float) -> None:
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"No campaign {campaign_id}.")
        try:
            counts = engine.launch(campaign, enqueue=not run)
        except engine.LaunchError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{campaign.name}: {counts.get('total', 0)} rows, status {campaign.status}")
        if not run:
            return
        # SIGTERM/SIGINT: finish the current short slice, then stop; the campaign stays running, so
        # a worker (or the reaper) carries on with what is left.
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        status = engine.run_until_done(
            campaign, max_seconds=max_seconds, slice_seconds=5.0, should_stop=lambda: bool(stopping)
        )
        summary = engine.summary(campaign)
        self.stdout.write(f"{status}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
        if status not in (CampaignStatus.COMPLETED, CampaignStatus.PAUSED) and not stopping:
            raise CommandError(f"Campaign is {status} after {max_seconds:.0f} s.")
