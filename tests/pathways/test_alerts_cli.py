"""`helhet alerts [--unit X] [--as USER]`: the worklist on the command line, audited, with clear errors."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from helhet.audit.models import AuditEntry
from helhet.pathways.models import Encounter, EncounterKind

from .conftest import days_ago


@pytest.fixture
def gap(world):
    person = world.new_person(family_name="Glippsen")
    Encounter.objects.create(person=person, unit=world.ward, kind=EncounterKind.ADMISSION, start_date=days_ago(40),
                             end_date=days_ago(20), housing_at_discharge="none")
    stranger = world.new_person(unit=world.tsb, family_name="Utenforsen")
    world.builders.make_episode(stranger, world.dps)
    return person


def run(*args):
    out = StringIO()
    call_command("alerts", *args, stdout=out)
    return out.getvalue()


def test_alerts_for_a_unit_as_a_system_command(world, gap):
    output = run("--unit", "k-test")
    assert gap.pid in output and "Utenforsen" not in output
    assert f"/pathways/{gap.pid}/contact/" in output
    entry = AuditEntry.objects.filter(actor="system:alerts").latest("seq")
    assert gap.pid in entry.detail["persons"]


def test_alerts_as_a_user_see_only_their_persons(world, gap):
    output = run("--as", "kommune")
    assert gap.pid in output and "Utenforsen" not in output
    assert AuditEntry.objects.filter(actor="kommune", action="list", channel="cli").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("--unit", "nowhere"), "unknown unit"),
    (("--as", "nobody"), "unknown user"),
    (("--as", "kommune", "--unit", "tsb-test"), "does not work in"),
    ((), "give --unit"),
])
def test_bad_arguments_are_clear_errors(world, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
