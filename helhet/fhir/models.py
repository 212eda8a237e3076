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


class ImportCheckpoint(models.Model):
    """How far a resumable NDJSON import got, keyed by the file's SHA-256; saved in the same transaction as each batch."""

    file_hash = models.CharField(max_length=64, unique=True)
    path = models.CharField(max_length=500)
    actor = models.CharField(max_length=150)
    lines_done = models.PositiveIntegerField(default=0)
    byte_offset = models.BigIntegerField(default=0)
    counts = models.JSONField(default=dict)  # created / updated / skipped / rejected
    rejects = models.JSONField(default=list)  # [{"line": n, "message": ...}], the first MAX_STORED_REJECTS
    finished = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"import {self.path} ({self.lines_done} lines)"
