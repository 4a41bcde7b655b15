"""``manage.py exportresults CAMPAIGN_ID [-o FILE] [--format csv|xlsx]``: a campaign's results as
CSV for machines (values exactly as stored) or XLSX for people (text cells, no formula runs)."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Campaign
from campaigns.reporting.exports import write_campaign_export


class Command(BaseCommand):
    help = (
        "Export one campaign's results: CSV for machines (values exactly as stored, UTF-8 with BOM) "
        "or XLSX for people (text cells, no formula runs)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("-o", "--output", help="File to write (default: standard output; CSV only).")
        parser.add_argument(
            "--format", choices=["csv", "xlsx"], default=None, help="Default: by the file's suffix, else csv."
        )

    def handle(self, *args, campaign_id: int, output: str | None = None, **options) -> None:
        try:
            campaign = Campaign.objects.get(pk=campaign_id)
        except Campaign.DoesNotExist:
            raise CommandError(f"No campaign with id {campaign_id}.") from None
        file_format = options.get("format") or ("xlsx" if (output or "").lower().endswith(".xlsx") else "csv")
        if file_format == "xlsx":
            if not output:
                raise CommandError("An XLSX export needs a file: -o results.xlsx")
            with open(output, "wb") as out:
                rows = write_campaign_export(campaign, out, "xlsx")
            self.stderr.write(f"Wrote {rows} results of '{campaign}' to {output}.")
        elif output:
            # newline="": the csv module writes its own \r\n line ends.
            with open(output, "w", encoding="utf-8", newline="") as out:
                rows = write_campaign_export(campaign, out)
            self.stderr.write(f"Wrote {rows} results of '{campaign}' to {output}.")
        else:
            try:
                rows = write_campaign_export(campaign, _Unterminated(self.stdout))
            except BrokenPipeError:  # `exportresults 1 | head`: the reader had enough
                # Point stdout at /dev/null so the interpreter's final flush does not fail again.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return
            self.stderr.write(f"Wrote {rows} results of '{campaign}'.")


class _Unterminated:
    """Writes through a command's OutputWrapper without the newline it appends to each write
    (the BOM must stay glued to the header)."""

    def __init__(self, wrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")
