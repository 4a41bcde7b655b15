"""Why a session sends or not, in staff's words: the reason behind each status that cannot send
(:data:`STATUS_REASONS`, "… is quarantined: …") and what holds its lease when it is not sending
(:data:`PURPOSES`; the send loop's is :data:`DRIVE_PURPOSE`). The forecast, the home page and the
test sends say the same sentence."""

from __future__ import annotations

from sessions_app.models import SessionStatus

# The send loop's lease owners are named "drive:host:pid:…" (sessions_app.leases.owner_name).
DRIVE_PURPOSE = "drive"
# What a lease owner's purpose (sessions_app.leases.owner_name) means to staff.
PURPOSES = {
    "drive": "sending",
    "testsend": "a test send",
    "health": "a health check",
    "optout": "the opt-out listener",
    "contacts": "a contact clean-up",
}
STATUS_REASONS = {
    SessionStatus.NEW: "is not logged in (an operator logs it in on its page)",
    SessionStatus.AWAITING_CODE: "is half-way through its login (waiting for the code)",
    SessionStatus.AWAITING_PASSWORD: "is half-way through its login (waiting for the 2FA password)",
    SessionStatus.DISABLED: "is disabled after a session error",
    SessionStatus.QUARANTINED: "is quarantined: Telegram spam-limited it, and an operator must review it",
    SessionStatus.PAUSED: "was disabled by an operator",
}
