"""``manage.py loaddemo``: an admin user and a marketer (the Marketing role: what a marketer sees,
without the superuser's pages), three simulated sessions, a list and a draft campaign
(an A/B test of two wordings, half and half).

Idempotent: run it again and it finds what it made (by name) instead of adding copies. It never
sends anything: every session uses the simulator backend.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files import File
from django.core.management.base import BaseCommand
from django.db import transaction

from campaigns.lists.importing import import_recipient_list
from campaigns.models import Campaign, CampaignStatus, ConsentBasis, ParseMode, RecipientList, Strategy
from campaigns.people.roles import MARKETING
from sessions_app.models import Backend, SessionKind, SessionStatus, TelegramSession

DEMO_CSV = Path(__file__).resolve().parents[2] / "demo" / "basic.csv"
LIST_NAME = "Demo: basic.csv"
CAMPAIGN_NAME = "Demo: store opening"
# The demo's Marketing login (campaigns.people.roles): what a marketer sees.
MARKETER = "marketer"
MESSAGE = "Hi {{ first_name|default:'there' }}, our {{ city }} store opens on Friday."
# An A/B test so the campaign's page compares two wordings: half the recipients get each.
VARIANT_B = "{{ first_name|default:'Hello' }}, doors open Friday at our new {{ city }} store. See you there?"
SPLIT = {"A": 50, "B": 50}
# name, weight, seed. A bot-like pace (0.5 s apart) so the demo finishes in seconds, and a small
# seeded failure mix so the results page shows what failures, retries and FloodWaits look like.
SESSIONS = [("Demo sim A", 1, 101), ("Demo sim B", 1, 202), ("Demo sim C", 2, 303)]
SIMULATOR_CONFIG = {
    "latency_ms": [50, 300],
    "transient_rate": 0.05,
    "recipient_error_rate": 0.05,
    "flood_rate": 0.02,
    "flood_seconds": [1, 3],
    # The audience after the send (the campaign page's read and reply rates): most read within
    # a minute or two, some answer, now and then with STOP (which suppresses them).
    "read_rate": 0.75,
    "read_after_s": [5, 90],
    "reply_rate": 0.3,
    "reply_after_s": [5, 120],
}


class Command(BaseCommand):
    help = "Load the demo: an admin and a marketer, three simulated sessions, the basic.csv list, a draft campaign."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            password = self._admin()
            marketer_password = self._marketer()
            sessions = [self._session(name, weight, seed) for name, weight, seed in SESSIONS]
            recipient_list = self._list()
            campaign = self._campaign(sessions, recipient_list)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: campaign “{campaign}” (id {campaign.pk}, {campaign.get_status_display().lower()})."
            )
        )
        if campaign.status != CampaignStatus.DRAFT:
            self.stdout.write(
                "It was launched before: to send it again, tick it in Campaigns and choose "
                "“Clone selected campaigns (as new drafts)”, then Launch… the copy."
            )
        if password:
            self.stdout.write(f"Admin login: admin / {password}")
        else:
            self.stdout.write(
                "Admin login: admin (existing password kept; reset it with "
                "`.venv/bin/python manage.py changepassword admin`)"
            )
        if marketer_password:
            self.stdout.write(f"Marketing login: {MARKETER} / {marketer_password}")
        else:
            self.stdout.write(
                f"Marketing login: {MARKETER} (existing password kept; reset it with "
                f"`.venv/bin/python manage.py changepassword {MARKETER}`)"
            )

    def _admin(self) -> str | None:
        """Create the ``admin`` superuser with a random password (returned), or keep the one there."""
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists():
            return None
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", "admin@example.invalid", password)
        return password

    def _marketer(self) -> str | None:
        """Create the ``marketer`` staff user in the Marketing group with a random password
        (returned), or keep the one there (its group set again)."""
        user_model = get_user_model()
        user = user_model.objects.filter(username=MARKETER).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = user_model.objects.create_user(
                MARKETER, "marketer@example.invalid", password, is_staff=True
            )
        user.groups.set([Group.objects.get(name=MARKETING)])
        return password

    def _session(self, name: str, weight: int, seed: int) -> TelegramSession:
        session, _ = TelegramSession.objects.update_or_create(
            name=name,
            defaults={
                # A user account (phones are reachable) paced like a bot, all simulated.
                "kind": SessionKind.USER,
                "backend": Backend.SIMULATOR,
                "status": SessionStatus.ACTIVE,
                "weight": weight,
                "send_delay": 0.5,
                "max_per_minute": 120,
                "daily_cap": 0,
                "simulator_config": {**SIMULATOR_CONFIG, "seed": seed},
            },
        )
        return session

    def _list(self) -> RecipientList:
        existing = RecipientList.objects.filter(name=LIST_NAME).first()
        if existing:
            return existing
        recipient_list = RecipientList(
            name=LIST_NAME,
            consent_basis=ConsentBasis.OPT_IN,
            consent_note=f"Demo data: invented recipients from {DEMO_CSV.relative_to(DEMO_CSV.parents[2])}.",
        )
        with DEMO_CSV.open("rb") as fh:
            recipient_list.file.save("basic.csv", File(fh), save=False)
        report = import_recipient_list(recipient_list, recipient_list.file)
        self.stdout.write(f"Imported {LIST_NAME}: {report.valid_count} valid of {report.total_rows} rows.")
        return recipient_list

    def _campaign(self, sessions: list[TelegramSession], recipient_list: RecipientList) -> Campaign:
        campaign, created = Campaign.objects.get_or_create(
            name=CAMPAIGN_NAME,
            defaults={
                "message": MESSAGE,
                "variants": [VARIANT_B],
                "split": SPLIT,
                "parse_mode": ParseMode.PLAIN,
                "strategy": Strategy.WEIGHTED,
            },
        )
        if created:
            campaign.sessions.set(sessions)
            campaign.lists.set([recipient_list])
        return campaign
