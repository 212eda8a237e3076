"""Writing and verifying the audit chain."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
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


# The hot path is plain SQL built once from the model (no ORM compilation per entry): every access to a
# person's data appends here, so this runs on every page view and API call.
_ENTRY_FIELDS = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
_MAX_ROWS_PER_INSERT = 500  # 13 parameters a row: well inside SQLite's limit on bound variables


def _lock_head() -> tuple[int, str]:
    """The chain's last seq and hash, with the head row locked until the transaction ends.

    The head row is created by a migration; locking it serialises appends across processes
    (on SQLite the write transaction itself is exclusive).
    """
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash FROM {table} WHERE id = 1{lock}")
        row = cursor.fetchone()
        if row is None:  # only after a database flush (tests) has removed it
            AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
            cursor.execute(f"SELECT seq, hash FROM {table} WHERE id = 1{lock}")
            row = cursor.fetchone()
    return int(row[0]), str(row[1])


def _insert(entries: list[AuditEntry], head: tuple[int, str], *, head_with_insert: bool) -> None:
    """INSERT the entries and move the chain head to ``head`` (seq, hash), under the head's lock.

    ``head_with_insert`` on PostgreSQL: the head's UPDATE rides along with the (last) INSERT as a
    data-modifying CTE, which PostgreSQL always runs to completion (one round trip for the usual
    single entry). SQLite has no data-modifying CTEs, so there it is always a statement of its own.
    """
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy's look-up per field adds up
    quote = db.ops.quote_name
    columns = ", ".join(quote(f.column) for f in _ENTRY_FIELDS)
    one_row = "(" + ", ".join(["%s"] * len(_ENTRY_FIELDS)) + ")"
    head_table = quote(AuditChainHead._meta.db_table)
    move_head = f"UPDATE {head_table} SET seq = %s, hash = %s WHERE id = 1"
    together = head_with_insert and db.vendor == "postgresql"
    by_seq = {entry.seq: entry for entry in entries}
    with db.cursor() as cursor:
        for start in range(0, len(entries), _MAX_ROWS_PER_INSERT):
            chunk = entries[start:start + _MAX_ROWS_PER_INSERT]
            params = [f.get_db_prep_save(getattr(e, f.attname), db) for e in chunk for f in _ENTRY_FIELDS]
            insert = (f"INSERT INTO {quote(AuditEntry._meta.db_table)} ({columns}) VALUES "
                      f"{', '.join([one_row] * len(chunk))} RETURNING {quote('id')}, {quote('seq')}")
            last = start + _MAX_ROWS_PER_INSERT >= len(entries)
            if last and together:
                cursor.execute(f"WITH inserted AS ({insert}), head AS ({move_head}) SELECT * FROM inserted",
                               [*params, *head])
            else:
                cursor.execute(insert, params)
            for pk, seq in cursor.fetchall():  # matched by seq: no reliance on the order RETURNING gives
                entry = by_seq[seq]
                entry.pk = pk
                entry._state.adding, entry._state.db = False, db.alias
        if not together:
            cursor.execute(move_head, list(head))


def record(events: Iterable[AuditEvent], *, savepoint: bool = True, head_with_insert: bool = False
           ) -> list[AuditEntry]:
    """Append events to the chain, in one transaction, in order.

    Inside a caller's transaction the entries are part of it. ``savepoint=False`` saves the two
    round trips of a savepoint for a caller whose whole transaction fails with the audit
    (an audited write appending its entry last, just before it commits). ``head_with_insert``
    saves one more on PostgreSQL: the append is then two statements, the head read under its
    lock and the entries' INSERT together with the head's UPDATE (the same rows either way). It
    is opt-in so far, taken by ``record_administration`` (the API create, the fill-in and
    self-report pages); the other pages' locked query counts assume three.
    """
    events = list(events)
    if not events:
        return []
    held = _deferred.get()
    if held is not None:
        held.extend(events)
        return [AuditEntry(actor=e.actor, action=e.action, resource=e.resource, person_pid=e.person_pid)
                for e in events]
    with transaction.atomic(savepoint=savepoint):
        seq, prev = _lock_head()
        now = timezone.now()
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
        _insert(entries, (seq, prev), head_with_insert=head_with_insert)
    return entries


def record_one(event: AuditEvent) -> AuditEntry:
    return record([event])[0]


_deferred: ContextVar[list[AuditEvent] | None] = ContextVar("audit_deferred", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold the events recorded in the block and append them when it ends well (none when it raises).

    For long work inside one transaction, such as an export: appending takes the chain head's lock until the
    transaction ends, and every audited access waits for it. Entered as the innermost part of the
    transaction, the entries are appended as its last step and the lock is held only for the commit. The
    entries returned inside the block are not stored yet (no seq).
    """
    held: list[AuditEvent] = []
    token = _deferred.set(held)
    try:
        yield
    finally:
        _deferred.reset(token)
    record(held)


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
