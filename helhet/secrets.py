"""Keys for the embedded mode, and the production rule that keys come from the environment."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from helhet.env import ConfigError


@dataclass(frozen=True)
class Keys:
    secret_key: str
    nin_key: str
    nin_hash_key: str


_ENV = {"secret_key": "HELHET_SECRET_KEY", "nin_key": "HELHET_NIN_KEY", "nin_hash_key": "HELHET_NIN_HASH_KEY"}


def _generate() -> dict[str, str]:
    return {
        "secret_key": secrets.token_urlsafe(50),
        "nin_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "nin_hash_key": secrets.token_urlsafe(32),
    }


def load_keys(data_dir: Path, *, production: bool) -> Keys:
    """Keys from the environment; in embedded mode, missing ones come from (or go to) secrets.json."""
    from_env = {name: os.environ.get(var, "") for name, var in _ENV.items()}
    if production:
        missing = [_ENV[name] for name, value in from_env.items() if not value]
        if missing:
            raise ConfigError("production mode needs these environment variables: " + ", ".join(missing))
        return Keys(**from_env)
    if all(from_env.values()):
        return Keys(**from_env)
    path = data_dir / "secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        stored = _generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
    return Keys(**{name: from_env[name] or stored[name] for name in _ENV})
