"""Typed helpers for reading settings from environment variables.

Every setting has a safe default for the embedded (SQLite, single machine) mode;
production sets the variables explicitly and `helhet check --deploy` verifies them.
"""

from __future__ import annotations

import os
from pathlib import Path


class ConfigError(ValueError):
    """An environment variable holds a value that cannot be used."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def database_from_url(url: str) -> dict[str, object]:
    """Translate a DATABASE_URL (sqlite:///path or postgres://user:pw@host:port/db) to Django's form."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif path.startswith("/"):
            path = path[1:]
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or ":memory:",
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                        "transaction_mode": "IMMEDIATE"},
        }
    if parsed.scheme in {"postgres", "postgresql"}:
        options: dict[str, object] = {}
        if env_bool("HELHET_PG_PREPARED", True):
            # Server-side parameter binding, and psycopg prepares a statement on the server once a connection
            # has run it `prepare_threshold` times: the API's few hot statements are then neither quoted by
            # psycopg nor parsed and planned by PostgreSQL on every request (about half of PostgreSQL's CPU
            # per API create). On by default, so the test suite's PostgreSQL run tests what production runs;
            # HELHET_PG_PREPARED=false behind a transaction-pooling proxy (pgbouncer before 1.21), which
            # cannot keep prepared statements.
            options = {"server_side_binding": True, "prepare_threshold": env_int("HELHET_PG_PREPARE_THRESHOLD", 2)}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            "OPTIONS": options,
        }
    raise ConfigError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use sqlite or postgres)")
