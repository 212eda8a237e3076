"""Settings for the test suite: the production settings with test-only adjustments."""

import os
import tempfile

# Django's test flush deletes rows, which the audit triggers refuse; a test installs the triggers itself.
os.environ.setdefault("HELHET_AUDIT_DB_TRIGGERS", "false")
os.environ.setdefault("HELHET_DATA_DIR", tempfile.mkdtemp(prefix="helhet-test-data-"))
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from helhet.settings import *  # noqa: E402,F403

# Still Argon2, with test-sized cost so that building hundreds of users stays fast.
PASSWORD_HASHERS = ["helhet.accounts.hashers.TestArgon2PasswordHasher"]
