"""`helhet alerts [--unit CODE] [--as USERNAME]`: the alert worklist on the command line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Exists, OuterRef

from helhet.accounts.access import audit_person_list, system_event, user_unit_ids, visible_persons
from helhet.accounts.models import STAFF_ROLES, User
from helhet.audit.services import record_one
from helhet.organisations.models import ServiceUnit
from helhet.pathways.alerts import compute_alerts
from helhet.pathways.models import responsible_episodes
from helhet.persons.models import Person


class Command(BaseCommand):
    help = ("Print the alerts (persons falling between two chairs): as a user (--as) for the persons they may "
            "see, or as a system command for one unit (--unit).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--unit", help="unit or team code")
        parser.add_argument("--as", dest="username", help="act as this clinician or team leader")

    def handle(self, *args: Any, **options: Any) -> None:
        code, username = options.get("unit"), options.get("username")
        unit, user = None, None
        if code:
            unit = ServiceUnit.objects.filter(code=code).first()
            if unit is None:
                raise CommandError(f"unknown unit {code!r}")
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"unknown user {username!r}")
            if user.role not in STAFF_ROLES:
                raise CommandError(f"{username} is not a clinician or team leader and sees no persons")
            if unit is not None and unit.pk not in user_unit_ids(user):
                raise CommandError(f"{username} does not work in {unit.code}")
            persons = visible_persons(user, unit_ids=[unit.pk] if unit else None)
        elif unit is not None:
            persons = Person.objects.filter(Exists(responsible_episodes().filter(person=OuterRef("pk"), unit=unit)))
        else:
            raise CommandError("give --unit CODE, or --as USERNAME (optionally with --unit)")
        alerts = compute_alerts(persons)
        pids = sorted({alert.pid for alert in alerts})
        if user is not None:
            audit_person_list(user, pids, channel="cli", resource="alerts", detail={"unit": code or ""})
        else:
            record_one(system_event("alerts", "list", resource="alerts", detail={"unit": code, "persons": pids}))
        for alert in alerts:
            self.stdout.write(f"{alert.since.isoformat()}  {alert.pid}  {alert.person_name:<28}  {alert.title}: "
                              f"{alert.why}  -> {alert.action_url}")
        self.stdout.write(f"{len(alerts)} alert(s) for {len(pids)} person(s)")
