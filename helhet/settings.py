"""Django settings, read from the environment with safe embedded defaults.

Embedded mode (the default): SQLite in the data directory, keys generated once
and kept in `<data dir>/secrets.json`. Production: set HELHET_PRODUCTION=true,
DATABASE_URL, HELHET_SECRET_KEY, HELHET_NIN_KEY, HELHET_NIN_HASH_KEY and
HELHET_ALLOWED_HOSTS; `helhet check --deploy` must then be clean.
"""

from __future__ import annotations

from pathlib import Path

from helhet import secrets as embedded_secrets
from helhet.env import database_from_url, env_bool, env_int, env_list, env_path, env_str

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = env_path("HELHET_DATA_DIR", PACKAGE_DIR.parent / "var")
PRODUCTION = env_bool("HELHET_PRODUCTION", False)
DEBUG = env_bool("HELHET_DEBUG", False)

_keys = embedded_secrets.load_keys(DATA_DIR, production=PRODUCTION)
SECRET_KEY = _keys.secret_key
# Fernet key for national identity numbers at rest, and a separate key for the look-up hash.
HELHET_NIN_KEY = _keys.nin_key
HELHET_NIN_HASH_KEY = _keys.nin_hash_key

ALLOWED_HOSTS = env_list("HELHET_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("HELHET_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "helhet.audit",
    "helhet.organisations",
    "helhet.persons",
    "helhet.accounts",
    "helhet.pathways",
    "helhet.fhir",
    "helhet.assessment",
    "helhet.recovery",
    "helhet.teams",
    "helhet.indicators",
    "helhet.synth",
    "helhet.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "helhet.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "helhet.accounts.middleware.SelfReportLockMiddleware",
]

ROOT_URLCONF = "helhet.urls"
WSGI_APPLICATION = "helhet.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helhet.web.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'helhet.sqlite3'}")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "worklist"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
# Login throttling: this many failures for one username (or one client address)
# within the window lock further attempts until the window has passed.
HELHET_LOGIN_MAX_FAILURES = env_int("HELHET_LOGIN_MAX_FAILURES", 5)
HELHET_LOGIN_WINDOW_SECONDS = env_int("HELHET_LOGIN_WINDOW_SECONDS", 15 * 60)

# Sessions expire after 30 minutes of inactivity and when the browser closes.
SESSION_COOKIE_AGE = env_int("HELHET_SESSION_SECONDS", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "nb"
LANGUAGES = [("nb", "Norsk bokmål"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Europe/Oslo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves static files from the app directories in every mode, so the demo needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Database triggers that refuse UPDATE/DELETE on the audit table (off only in the test suite).
HELHET_AUDIT_DB_TRIGGERS = env_bool("HELHET_AUDIT_DB_TRIGGERS", True)

# Process-local on purpose: the indicator dashboards' L1 (helhet/indicators/dashboard.py), keyed by a
# cache generation kept in the database; what workers share is the snapshot table (the L2).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Indicator results older than this are computed again (clinical edits do not invalidate them).
HELHET_INDICATOR_MAX_AGE_HOURS = env_int("HELHET_INDICATOR_MAX_AGE_HOURS", 24)

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("HELHET_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("HELHET_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("HELHET_LOG_LEVEL", "WARNING")},
}
