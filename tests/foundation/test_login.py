import pytest
from django.conf import settings
from django.test import Client

from helhet import settings as production_settings
from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.testing import PASSWORD


def _attempt(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_login_and_audit(builders):
    user = builders.make_user(Role.CLINICIAN, username="kari")
    response = _attempt(Client(), "kari", PASSWORD)
    assert response.status_code == 302
    assert AuditEntry.objects.filter(actor="kari", action="login", outcome="allowed").exists()
    assert user.password.startswith("argon2")


def test_repeated_failures_lock_the_username(builders, settings):
    settings.HELHET_LOGIN_MAX_FAILURES = 3
    builders.make_user(Role.CLINICIAN, username="ola")
    client = Client()
    for _ in range(3):
        assert _attempt(client, "ola", "wrong-password").status_code == 200
    locked = _attempt(client, "ola", PASSWORD)  # even the right password is refused while locked
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode() or "For mange" in locked.content.decode()
    assert AuditEntry.objects.filter(actor="ola", outcome="denied", purpose="throttled").exists()


def test_production_hashes_passwords_with_argon2_and_sessions_expire():
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert settings.SESSION_COOKIE_AGE <= 60 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE and settings.SESSION_SAVE_EVERY_REQUEST


@pytest.mark.django_db
def test_pages_require_login():
    response = Client().get("/worklist/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
