"""Settings for the test suite: the app's settings with throwaway secrets, a media folder of its
own, a django-q2 queue name of its own (so no other qcluster on a shared Redis takes the tests'
tasks) and fast password hashing. Set in the environment first, so worker processes the fault
tests start inherit the same values."""

import os
import secrets
import tempfile

from cryptography.fernet import Fernet

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEY", Fernet.generate_key().decode())
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="tgc-test-media-"))
os.environ.setdefault("TELEGRAM_API_ID", "12345")
os.environ.setdefault("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
os.environ.setdefault("Q_CLUSTER_NAME", f"tgc-test-{os.getpid()}")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
