"""Append-only, hash-chained audit log of every access to a person's data."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AuditEntry(models.Model):
    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)  # username, or "system:<command>"
    actor_role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=30)  # read, list, create, update, export, deny, login ...
    resource = models.CharField(max_length=120, blank=True)  # what was touched: "person", "Observation/42"
    person_pid = models.CharField(max_length=12, blank=True, db_index=True)
    purpose = models.CharField(max_length=200, blank=True)  # the care relationship used, or why it was refused
    outcome = models.CharField(max_length=10)  # allowed | denied
    channel = models.CharField(max_length=10, blank=True)  # web | fhir | cli
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor} {self.action} {self.person_pid} {self.outcome}"

    def hashed_content(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "actor_role": self.actor_role,
            "action": self.action,
            "resource": self.resource,
            "person_pid": self.person_pid,
            "purpose": self.purpose,
            "outcome": self.outcome,
            "channel": self.channel,
            "detail": self.detail,
        }

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError("audit entries are append-only")


class AuditChainHead(models.Model):
    """A single row holding the chain's last seq and hash; locking it serialises appends."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit head at #{self.seq}"
