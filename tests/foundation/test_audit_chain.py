import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from helhet.audit.models import AuditEntry
from helhet.audit.services import AuditEvent, record, verify_chain


def _events(n):
    return [AuditEvent(actor="tester", action="read", person_pid=f"P-{i:08d}", purpose="test") for i in range(n)]


def _tamper(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_chain_links_every_entry_and_verifies():
    record(_events(5))
    record(_events(3))
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, 9))
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    result = verify_chain()
    assert result.ok and result.checked == 8


@pytest.mark.django_db
def test_altered_entry_is_reported_as_first_broken():
    record(_events(6))
    _tamper("UPDATE audit_auditentry SET actor = %s WHERE seq = %s", ["intruder", 4])
    result = verify_chain()
    assert result.first_broken_seq == 4 and "altered" in result.problem
    with pytest.raises(CommandError, match="broken at entry 4"):
        call_command("audit", "verify")


@pytest.mark.django_db
def test_removed_entries_are_detected():
    record(_events(5))
    _tamper("DELETE FROM audit_auditentry WHERE seq = %s", [3])
    assert verify_chain().first_broken_seq == 3
    _tamper("DELETE FROM audit_auditentry WHERE seq > %s", [2])
    result = verify_chain()
    assert result.first_broken_seq == 3 and "removed" in result.problem


@pytest.mark.django_db
def test_model_refuses_delete():
    entry = record(_events(1))[0]
    with pytest.raises(PermissionError):
        entry.delete()


@pytest.mark.django_db
def test_database_triggers_make_the_table_append_only():
    import importlib

    migration = importlib.import_module("helhet.audit.migrations.0002_append_only_triggers")
    migration.install(connection)  # the suite runs with HELHET_AUDIT_DB_TRIGGERS=false; the DDL rolls back
    record(_events(2))
    for sql in ("UPDATE audit_auditentry SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_auditentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _tamper(sql, [])
    assert AuditEntry.objects.count() == 2


@pytest.mark.django_db
def test_cli_reports_intact_chain(capsys):
    record(_events(2))
    call_command("audit", "verify")
    assert "2 entries verified" in capsys.readouterr().out
