"""Test-wide environment: a throwaway encryption key and media root, set before Django loads."""

import os
import tempfile

from cryptography.fernet import Fernet

os.environ.setdefault("FIELD_ENCRYPTION_KEY", Fernet.generate_key().decode())
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="tgc-media-"))
os.environ.setdefault("TELEGRAM_API_ID", "12345")
os.environ.setdefault("TELEGRAM_API_HASH", "0123456789abcdef0123456789abcdef")
# A queue of its own on a shared Redis, so no other qcluster picks up the tests' tasks.
os.environ.setdefault("Q_CLUSTER_NAME", f"tgc-test-{os.getpid()}")
