"""The scripting API: send one message to many recipients and get a result each.

Both functions run the same engine as the admin (a recipient list, a campaign, one MessageResult
per recipient) in this process, so scripts get the same pace, retries, suppression checks and
records as campaigns launched from the browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.files import File
from django.utils import timezone

from sessions_app.models import SessionStatus, TelegramSession

from . import engine
from .lists.normalise import normalise
from .models import Campaign, ConsentBasis, ParseMode, Recipient, RecipientList, ResultStatus, Strategy


@dataclass(frozen=True)
class BulkResult:
    """The outcome for one recipient as given: ``success`` (the message was sent), the session's
    name, Telegram's message id, the error (``CODE: text``) and the row status."""

    success: bool
    session: str | None
    error: str | None
    message_id: int | None
    status: str


class InvalidRecipients(ValueError):
    """Raised with ``skip_invalid=False`` when some recipients do not validate; ``errors`` maps
    each raw value to its reason. Nothing is sent."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{raw!r}: {why}" for raw, why in errors.items()))
        self.errors = errors


def _build_list(
    recipients: Sequence[str], *, skip_invalid: bool, default_region: str | None, consent_basis: str
) -> RecipientList:
    rows, errors, seen = [], {}, {}
    for i, raw in enumerate(recipients, start=1):
        n = normalise(str(raw), default_region or None)
        status, error = Recipient.Status.VALID, ""
        if not n.is_valid:
            status, error = Recipient.Status.INVALID, n.error
            errors[str(raw)] = n.error
        elif n.key in seen:
            status, error = Recipient.Status.DUPLICATE, f"duplicate of row {seen[n.key]}"
        else:
            seen[n.key] = i
        rows.append(
            Recipient(
                row_number=i, raw_value=str(raw)[:500], key=n.key, kind=n.kind, status=status, error=error
            )
        )
    if errors and not skip_invalid:
        raise InvalidRecipients(errors)
    rl = RecipientList.objects.create(
        name=f"API send {timezone.now():%Y-%m-%d %H:%M:%S}",
        consent_basis=consent_basis,
        default_region=default_region or "",
        total_rows=len(rows),
        valid_count=sum(r.status == Recipient.Status.VALID for r in rows),
        invalid_count=sum(r.status == Recipient.Status.INVALID for r in rows),
        duplicate_count=sum(r.status == Recipient.Status.DUPLICATE for r in rows),
    )
    for r in rows:
        r.recipient_list = rl
    Recipient.objects.bulk_create(rows)
    return rl


def _check_settings(**given: float) -> None:
    """Raise ValueError naming the first of ``given`` (``delay``, ``max_attempts``) out of the
    campaign's range for it (``Campaign.BOUNDS``), as the admin and the REST API refuse it."""
    for name, value in given.items():
        bounds = Campaign.BOUNDS["delay_seconds" if name == "delay" else name]
        if value not in bounds:
            raise ValueError(f"{name}: {bounds.message}")


def _send_bulk(
    recipients: Iterable[str],
    campaign_fields: dict,
    *,
    delay: float,
    skip_invalid: bool,
    sessions: Sequence[TelegramSession] | None,
    strategy: str,
    max_attempts: int,
    default_region: str | None,
    consent_basis: str,
    max_seconds: float,
    media_path: str | None = None,
) -> dict[str, BulkResult]:
    _check_settings(delay=delay, max_attempts=max_attempts)
    recipients = [str(r) for r in recipients]
    chosen = (
        list(sessions)
        if sessions is not None
        else list(TelegramSession.objects.filter(status=SessionStatus.ACTIVE))
    )
    if not any(s.status == SessionStatus.ACTIVE for s in chosen):
        raise engine.NoUsableSession("No usable session: log in at least one session (or pass active ones).")
    rl = _build_list(
        recipients, skip_invalid=skip_invalid, default_region=default_region, consent_basis=consent_basis
    )
    campaign = Campaign.objects.create(
        name=rl.name, delay_seconds=delay, strategy=strategy, max_attempts=max_attempts, **campaign_fields
    )
    if media_path:
        campaign.media_name = media_path.rsplit("/", 1)[-1][:255]
        with open(media_path, "rb") as fh:
            campaign.media.save(campaign.media_name, File(fh), save=True)
    campaign.lists.set([rl])
    campaign.sessions.set(chosen)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=max_seconds)
    results = list(campaign.results.select_related("recipient", "session").exclude(recipient=None))
    by_row = {r.recipient.row_number: r for r in results}
    # Another spelling of a recipient already in the list shares the outcome of the one row that
    # was sent for it (its own row is a skipped duplicate).
    by_key = {r.dedupe_key: r for r in results if r.dedupe_key}
    out: dict[str, BulkResult] = {}
    for i, raw in enumerate(recipients, start=1):
        row = by_row.get(i)
        if row is None or raw in out:
            continue
        row = by_key.get(row.key, row)
        error = f"{row.error_code}: {row.error_text}" if row.error_code else None
        out[raw] = BulkResult(
            success=row.status == ResultStatus.SENT,
            session=row.session.name if row.session else None,
            error=error,
            message_id=row.telegram_message_id,
            status=row.status,
        )
    return out


def send_text_messages_bulk(
    recipients: Iterable[str],
    message: str,
    *,
    delay: float = 0.0,
    skip_invalid: bool = True,
    sessions: Sequence[TelegramSession] | None = None,
    strategy: str = Strategy.ROUND_ROBIN,
    parse_mode: str = ParseMode.PLAIN,
    max_attempts: int = 3,
    default_region: str | None = None,
    consent_basis: str = ConsentBasis.OPT_IN,
    max_seconds: float = 3600.0,
) -> dict[str, BulkResult]:
    """Send ``message`` (a template; plain, HTML or Markdown) to every recipient.

    ``recipients``: raw ``@usernames``, t.me links, phones, user ids; ``delay``: minimum seconds
    between two sends of one session; ``sessions``: default every active session. Returns
    raw recipient → :class:`BulkResult` (invalid ones with their reason when ``skip_invalid``).
    Raises :class:`InvalidRecipients` (``skip_invalid=False``), ``engine.NoUsableSession``,
    ``engine.LaunchError`` for a message Telegram would refuse, or ValueError for a ``delay`` or
    ``max_attempts`` out of the campaign's range (``Campaign.BOUNDS``); then nothing is sent.
    """
    return _send_bulk(
        recipients,
        {"message": message, "parse_mode": parse_mode},
        delay=delay,
        skip_invalid=skip_invalid,
        sessions=sessions,
        strategy=strategy,
        max_attempts=max_attempts,
        default_region=default_region,
        consent_basis=consent_basis,
        max_seconds=max_seconds,
    )


def send_media_messages_bulk(
    recipients: Iterable[str],
    media_path: str,
    media_type: str | None = None,
    *,
    caption: str = "",
    delay: float = 0.0,
    skip_invalid: bool = True,
    sessions: Sequence[TelegramSession] | None = None,
    strategy: str = Strategy.ROUND_ROBIN,
    parse_mode: str = ParseMode.PLAIN,
    max_attempts: int = 3,
    default_region: str | None = None,
    consent_basis: str = ConsentBasis.OPT_IN,
    max_seconds: float = 3600.0,
) -> dict[str, BulkResult]:
    """Send a media file (``photo`` | ``video`` | ``document`` | ``audio`` | ``voice``; None: from
    the content) with ``caption`` to every recipient. Same contract as
    :func:`send_text_messages_bulk`; an unusable file raises ``engine.LaunchError`` with the reason
    (e.g. "aspect ratio 40 > 20") before anything is sent."""
    return _send_bulk(
        recipients,
        {"message": caption, "parse_mode": parse_mode, "media_type": media_type or ""},
        delay=delay,
        skip_invalid=skip_invalid,
        sessions=sessions,
        strategy=strategy,
        max_attempts=max_attempts,
        default_region=default_region,
        consent_basis=consent_basis,
        max_seconds=max_seconds,
        media_path=media_path,
    )
