"""Writing and verifying the audit chain."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from helhet.audit.chain import GENESIS_HASH, entry_hash
from helhet.audit.models import AuditChainHead, AuditEntry


@dataclass
class AuditEvent:
    actor: str
    action: str
    outcome: str = "allowed"
    actor_role: str = ""
    resource: str = ""
    person_pid: str = ""
    purpose: str = ""
    channel: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _head() -> AuditChainHead:
    # The head row is created by a migration; locking it serialises appends across processes.
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # only after a database flush (tests) has removed it
        AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def record(events: Iterable[AuditEvent]) -> list[AuditEntry]:
    """Append events to the chain, in one transaction, in order."""
    events = list(events)
    if not events:
        return []
    with transaction.atomic():
        head = _head()
        now = timezone.now()
        seq, prev = head.seq, head.hash
        entries = []
        for event in events:
            seq += 1
            entry = AuditEntry(
                seq=seq, at=now, actor=event.actor[:150], actor_role=event.actor_role, action=event.action,
                resource=event.resource[:120], person_pid=event.person_pid, purpose=event.purpose[:200],
                outcome=event.outcome, channel=event.channel, detail=event.detail, prev_hash=prev,
            )
            entry.hash = entry_hash(prev, entry.hashed_content())
            prev = entry.hash
            entries.append(entry)
        AuditEntry.objects.bulk_create(entries)
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return entries


def record_one(event: AuditEvent) -> AuditEntry:
    return record([event])[0]


@dataclass
class VerifyResult:
    checked: int
    first_broken_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def verify_chain(chunk_size: int = 5000) -> VerifyResult:
    """Recompute every hash in order; report the first entry whose hash or link does not hold."""
    prev, expected_seq, checked = GENESIS_HASH, 1, 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if entry.seq != expected_seq:
            return VerifyResult(checked, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return VerifyResult(checked, entry.seq, "its link to the previous entry does not match")
        if entry_hash(prev, entry.hashed_content()) != entry.hash:
            return VerifyResult(checked, entry.seq, "its content does not match its hash (altered)")
        prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != checked or head.hash != prev):
        return VerifyResult(checked, checked + 1, "entries after this point were removed (the head records more)")
    return VerifyResult(checked)
