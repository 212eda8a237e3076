"""The audit append: the entries and the chain head are written as before, in fewer statements on PostgreSQL.

``record(head_with_insert=True)`` reads the head under its lock, then (PostgreSQL) inserts the entries and
moves the head in one statement, a data-modifying CTE; SQLite keeps the head's UPDATE as a statement of its
own, as does the default form everywhere. Every test runs both forms.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from helhet.audit.chain import GENESIS_HASH, entry_hash
from helhet.audit.models import AuditChainHead, AuditEntry
from helhet.audit.services import AuditEvent, record, verify_chain

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("together", [False, True])]


def _events(n, tag="t"):
    return [AuditEvent(actor="tester", action="read", person_pid=f"P-{i:08d}", purpose=f"{tag} {i}",
                       detail={"n": i, "text": "æøå ✓"}) for i in range(n)]


def _head():
    head = AuditChainHead.objects.get(pk=1)
    return head.seq, head.hash


def test_appended_entries_are_the_rows_and_the_head_moves_to_the_last(together):
    # 1 entry, then more than one INSERT's worth (500 rows a statement): the head follows the last chunk.
    for n in (1, 1203, 2):
        before_seq, before_hash = _head() if AuditChainHead.objects.filter(pk=1).exists() else (0, GENESIS_HASH)
        entries = record(_events(n), head_with_insert=together)
        assert [e.seq for e in entries] == list(range(before_seq + 1, before_seq + n + 1))
        assert entries[0].prev_hash == before_hash
        stored = {row.pk: row for row in AuditEntry.objects.filter(seq__gt=before_seq)}
        assert len(stored) == n and all(not e._state.adding for e in entries)
        prev = before_hash
        for entry in entries:
            row = stored[entry.pk]  # the key set on the entry is its row's: matched by seq, not by order
            assert (row.seq, row.hash, row.prev_hash, row.purpose, row.detail) == (
                entry.seq, entry.hash, entry.prev_hash, entry.purpose, entry.detail)
            assert row.hash == entry_hash(prev, row.hashed_content())
            prev = row.hash
        assert _head() == (entries[-1].seq, entries[-1].hash)
    result = verify_chain()
    assert result.ok and result.checked == 1206


def test_a_rollback_takes_the_entries_and_the_head_back(together):
    record(_events(2))
    head = _head()
    with pytest.raises(RuntimeError), transaction.atomic():
        record(_events(3, "rolled back"), savepoint=False, head_with_insert=together)
        assert _head()[0] == head[0] + 3  # moved inside the transaction
        raise RuntimeError("the write failed after its audit entry was appended")
    assert _head() == head
    assert not AuditEntry.objects.filter(purpose__startswith="rolled back").exists()
    record(_events(1, "after"))
    assert verify_chain().ok and AuditEntry.objects.count() == 3


def test_an_append_is_two_statements_on_postgresql_when_asked_three_otherwise(together):
    record(_events(1))
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        record(_events(1), savepoint=False, head_with_insert=together)
    statements = [q["sql"] for q in captured.captured_queries]
    if together and connection.vendor == "postgresql":
        assert len(statements) == 2 and "FOR UPDATE" in statements[0]
        assert statements[1].startswith("WITH inserted AS (INSERT INTO") and "UPDATE" in statements[1]
    else:
        assert len(statements) == 3 and statements[2].startswith("UPDATE")
    assert verify_chain().ok
