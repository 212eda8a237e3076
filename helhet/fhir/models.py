from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiClient(models.Model):
    """Another system that calls the FHIR API. It acts with the role and units of its service account."""

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_clients")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def issue(cls, *, name: str, user: models.Model) -> tuple[ApiClient, str]:
        """Create a client and return it with its bearer token (shown once, stored only as a hash)."""
        token = "hh_" + secrets.token_urlsafe(32)
        client = cls.objects.create(name=name, token_hash=hash_token(token), user=user)
        return client, token
