"""Protecting national identity numbers at rest, and pseudonymous ids.

The number itself is encrypted (Fernet, key HELHET_NIN_KEY); a keyed hash
(HMAC-SHA256, key HELHET_NIN_HASH_KEY) lets us find a person by number and
refuse duplicates without decrypting anything.
"""

from __future__ import annotations

import hashlib
import hmac
import random as random_module
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# Crockford's base32 without I, L, O, U: easy to read aloud and type.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt_nin(value: str) -> str:
    return _fernet(settings.HELHET_NIN_KEY).encrypt(value.encode()).decode()


def decrypt_nin(token: str) -> str:
    try:
        return _fernet(settings.HELHET_NIN_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("national identity number cannot be decrypted with the configured key") from exc


def nin_lookup_hash(value: str) -> str:
    return hmac.new(settings.HELHET_NIN_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def new_pseudonym(random: random_module.Random | None = None) -> str:
    """A pseudonymous internal id such as P-7K3QD9MX (40 bits)."""
    chooser = random or secrets.SystemRandom()
    return "P-" + "".join(chooser.choice(_ALPHABET) for _ in range(8))
