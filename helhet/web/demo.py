"""Demo users for each role, attached to units where the synthetic population has people."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from helhet.accounts.models import Role, StaffMembership, User
from helhet.organisations.models import HealthRegion, ServiceUnit, UnitKind
from helhet.pathways.models import responsible_episodes

DEMO_PASSWORD = "helhet-demo-2026"


@dataclass
class DemoLogin:
    username: str
    role: str
    description: str


def _busiest(kinds: list[str], trust_id: int | None = None) -> ServiceUnit | None:
    active = responsible_episodes()
    units = ServiceUnit.objects.filter(kind__in=kinds)
    if trust_id is not None:
        units = units.filter(trust_id=trust_id)
    return (units.annotate(n=Count("episodes", filter=Q(episodes__in=active))).filter(n__gt=0)
            .order_by("-n", "code").first())


def _user(username: str, role: str, first: str, last: str, **extra: object) -> User:
    user, _created = User.objects.update_or_create(
        username=username, defaults={"role": role, "first_name": first, "last_name": last, **extra})
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def create_demo_users() -> list[DemoLogin]:
    team = _busiest([UnitKind.ACT, UnitKind.FACT])
    if team is None:
        raise ValueError("no ACT/FACT team has active episodes; generate a population first")
    dps = _busiest([UnitKind.DPS], trust_id=team.trust_id)
    clinician = _user("klinikar", Role.CLINICIAN, "Kari", "Klinikar")
    leader = _user("teamleder", Role.TEAM_LEADER, "Tor", "Teamleder")
    for user, units, profession in ((clinician, [team, dps], "psychologist"), (leader, [team], "team leader")):
        for unit in units:
            if unit is not None:
                StaffMembership.objects.get_or_create(user=user, unit=unit, defaults={"profession": profession})
    region = HealthRegion.objects.filter(trusts__units=team).first()
    _user("analytiker", Role.ANALYST, "Anne", "Analytiker", region=region)
    _user("admin", Role.ADMINISTRATOR, "Arne", "Administrator", is_superuser=False)
    person = (responsible_episodes().filter(unit=team).select_related("person").order_by("person__pid").first())
    assert person is not None
    _user("bruker", Role.SERVICE_USER, person.person.given_name, person.person.family_name, person=person.person)
    return [
        DemoLogin("klinikar", Role.CLINICIAN, f"clinician in {team.name}" + (f" and {dps.name}" if dps else "")),
        DemoLogin("teamleder", Role.TEAM_LEADER, f"team leader of {team.name}"),
        DemoLogin("analytiker", Role.ANALYST, f"analyst for {region.name if region else 'the country'}"),
        DemoLogin("admin", Role.ADMINISTRATOR, "administrator (no person data)"),
        DemoLogin("bruker", Role.SERVICE_USER, f"service user {person.person.display_name} ({person.person.pid})"),
    ]
