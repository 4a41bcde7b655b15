"""The delivery engine (stub signatures; being implemented)."""

from __future__ import annotations


class LaunchError(Exception):
    """A campaign cannot be launched; the message says why, for staff."""


def launch(campaign, *, enqueue: bool = True) -> dict:
    """Validate, materialise one MessageResult per recipient, assign sessions, set running and
    enqueue ``drive_campaign``. Returns counts. Raises LaunchError."""
    raise NotImplementedError


def pause(campaign, reason: str = "") -> bool: raise NotImplementedError
def resume(campaign) -> bool: raise NotImplementedError
def cancel(campaign) -> int: raise NotImplementedError
def retry_failed(campaign) -> int: raise NotImplementedError
def resend_unknown(campaign) -> int: raise NotImplementedError
def reap() -> dict: return {}
