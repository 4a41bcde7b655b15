"""Encryption of secrets at rest with Fernet: sessions' StringSession, bot token and API hash,
webhook subscriptions' signing secrets; any model declaring ``ENCRYPTED_FIELDS`` (the names of its
text columns holding :func:`encrypt`'s tokens) is one of them (:func:`encrypted_models`).

``FIELD_ENCRYPTION_KEY`` holds one or more Fernet keys, comma-separated, newest first. Encryption
uses the first; decryption tries each (``MultiFernet``), so a key is rotated by prepending a new
one, running ``manage.py rotatesecrets`` and then dropping the old key.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def get_keys() -> list[str]:
    """The configured Fernet keys, newest first (read at call time for ``override_settings``)."""
    return [k.strip() for k in settings.FIELD_ENCRYPTION_KEY.split(",") if k.strip()]


def _fernet() -> MultiFernet:
    keys = get_keys()
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set: secrets cannot be stored.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEY is not a valid Fernet key: {exc}") from exc


def require_key() -> None:
    """Raise ImproperlyConfigured unless a usable key is configured: call it before work whose
    result must be stored encrypted (a login creates an auth key that is lost if it cannot be)."""
    _fernet()


def encrypt(plain: str) -> str:
    """Encrypt ``plain`` (empty stays empty); raises ImproperlyConfigured without a key."""
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt`.

    Raises ImproperlyConfigured without a key, ``InvalidToken`` when no configured key opens it.
    """
    if not token:
        return ""
    return _fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the newest key."""
    return _fernet().rotate(token.encode()).decode() if token else ""


def encrypted_models() -> list[tuple[type, tuple[str, ...]]]:
    """``(model, ENCRYPTED_FIELDS)`` of every installed model holding secrets, in app order."""
    return [
        (model, tuple(model.ENCRYPTED_FIELDS))
        for model in apps.get_models()
        if getattr(model, "ENCRYPTED_FIELDS", ())
    ]


__all__ = ["InvalidToken", "decrypt", "encrypt", "encrypted_models", "get_keys", "require_key", "rotate"]
