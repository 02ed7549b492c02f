"""Test settings: the real settings with a fast password hasher."""

from __future__ import annotations

import os
import secrets

from .settings import *  # noqa: F403

# One id per test run, inherited by the processes it starts: two runs on one machine use their own SQLite file,
# Celery queue and Redis key prefix (tests/workers.py), so neither takes or deletes the other's work.
TEST_RUN = os.environ.setdefault("PORTAL_TEST_RUN", f"{os.getpid()}-{secrets.token_hex(3)}")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = None
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: worker and live-server threads then wait on locks (busy timeout)
    # instead of failing with "database table is locked".
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{TEST_RUN}.sqlite3")}  # noqa: F405

# Most tests sign as approvers and admins with a password alone; the second-factor tests turn the requirement on
# (tests/accounts/test_mfa.py), as production does by default.
PORTAL_MFA_REQUIRED_ROLES = ()
