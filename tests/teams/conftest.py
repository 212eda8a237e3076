"""A hand-computed FACT team for the team tests: staff, caseload, contacts, admissions, board, somatic checks.

The figures every test checks against (today = the day the test runs):
- team staff FTE 5.0 (leader 1, nurses 2 x 1.0, substance specialist 1, case manager 1) plus a
  psychiatrist 0.5 FTE, who is not counted as team staff (DACTS H1/H11);
- 10 persons on the caseload, all started 100 days ago; one more finished 30 days ago after 400 days;
- face-to-face contacts in the last 28 days: client 0 has two (60 min each, one with 2 staff present,
  both within 14 days), client 1 one home visit (30 min, 1 staff); client 2 only a phone call;
- admissions in the last year: client 0 (50-40 days ago, a team contact 45 days ago: involved),
  client 1 (200-190 days ago, no team contact: not involved);
- somatic checks: client 0 100 days ago (GP within 6 months), client 2 10 days ago (GP over 12 months),
  client 1 400 days ago (outside the year);
- FACT board: client 3 on the board since 20 days ago (crisis); client 4 was on it and left.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from helhet.accounts.models import Role, StaffMembership, User
from helhet.organisations.models import ServiceUnit, UnitKind
from helhet.pathways.models import ContactMode, Encounter, EncounterKind, EpisodeStatus
from helhet.persons.models import Person
from helhet.teams.models import BoardPlacement, BoardReason, StaffingDetail, TeamProfile
from helhet.teams.prefill import Profession


@dataclass
class TeamWorld:
    team: ServiceUnit
    leader: User
    nurse: User
    outsider: User  # a clinician in another unit
    analyst: User
    clients: list[Person]
    today: dt.date


def add_staff(builders: Any, team: ServiceUnit, profession: Profession, fte: str, *, role: str = Role.CLINICIAN,
              username: str | None = None, detail: bool = True) -> User:
    user = builders.make_user(role, username=username, first_name=profession.value.title(), last_name="Synthetic")
    membership = StaffMembership.objects.create(user=user, unit=team, profession=profession.value.replace("_", " "),
                                                fte=Decimal(fte))
    if detail:
        StaffingDetail.objects.create(membership=membership, profession=profession.value)
    return user


def build_team_world(builders: Any, *, code: str = "fact-hand") -> TeamWorld:
    today = dt.date.today()
    days = lambda n: today - dt.timedelta(days=n)  # noqa: E731
    team = builders.make_unit(UnitKind.FACT, code=code, municipalities=["0301", "3201"])
    TeamProfile.objects.create(unit=team, catchment_adults=30_000)
    leader = add_staff(builders, team, Profession.TEAM_LEADER, "1.0", role=Role.TEAM_LEADER,
                       username=f"{code}-leader")
    nurse = add_staff(builders, team, Profession.NURSE, "1.0", username=f"{code}-nurse")
    add_staff(builders, team, Profession.NURSE, "1.0")
    add_staff(builders, team, Profession.SUBSTANCE_SPECIALIST, "1.0")
    # The free-text profession alone is read when no staffing detail exists.
    add_staff(builders, team, Profession.CASE_MANAGER, "1.0", detail=False)
    add_staff(builders, team, Profession.PSYCHIATRIST, "0.5")
    # A membership that ended is not staff today.
    gone = builders.make_user(Role.CLINICIAN)
    StaffMembership.objects.create(user=gone, unit=team, profession="nurse", fte=Decimal("1.0"),
                                   end_date=days(10))
    other_unit = builders.make_unit(UnitKind.DPS)
    outsider = builders.make_user(Role.CLINICIAN, units=[other_unit], username=f"{code}-outsider")
    analyst = builders.make_user(Role.ANALYST, username=f"{code}-analyst")

    clients = [builders.make_person(given_name=f"Klient{i}", family_name=f"Teamsen{i}") for i in range(10)]
    for person in clients:
        builders.make_episode(person, team, start=days(100))
    former = builders.make_person(given_name="Tidligere", family_name="Teamsen")
    builders.make_episode(former, team, start=days(430), end=days(30), status=EpisodeStatus.FINISHED)

    def contact(person: Person, ago: int, mode: str = ContactMode.FACE_TO_FACE, minutes: int = 60,
                staff: int = 1) -> None:
        Encounter.objects.create(person=person, unit=team, kind=EncounterKind.CONTACT, mode=mode,
                                 start_date=days(ago), minutes=minutes, staff_count=staff)

    contact(clients[0], 3, staff=2)
    contact(clients[0], 10)
    contact(clients[1], 20, mode=ContactMode.HOME_VISIT, minutes=30)
    contact(clients[2], 5, mode=ContactMode.PHONE, minutes=15)
    contact(clients[0], 45, minutes=30)  # before the 28-day window; involves the team in client 0's admission
    ward = builders.make_unit(UnitKind.WARD, inpatient=True)
    Encounter.objects.create(person=clients[0], unit=ward, kind=EncounterKind.ADMISSION, start_date=days(50),
                             end_date=days(40))
    Encounter.objects.create(person=clients[1], unit=ward, kind=EncounterKind.ADMISSION, start_date=days(200),
                             end_date=days(190))

    try:
        from helhet.assessment.models import Administration
    except ImportError:  # pragma: no cover - the assessment app is not there
        Administration = None  # type: ignore[assignment,misc]  # noqa: N806
    if Administration is not None:
        for person, ago, gp in ((clients[0], 100, "within-6-months"), (clients[2], 10, "over-12-months"),
                                (clients[1], 400, "within-6-months")):
            Administration.objects.create(person=person, instrument_id="somatic-health", instrument_version="1",
                                          administered_on=days(ago), answers={"soma-gp-contact": gp},
                                          mode="clinician")

    BoardPlacement.objects.create(team=team, person=clients[3], since=days(20), reason=BoardReason.CRISIS)
    BoardPlacement.objects.create(team=team, person=clients[4], since=days(80), until=days(60),
                                  reason=BoardReason.DISCHARGE)
    return TeamWorld(team=team, leader=leader, nurse=nurse, outsider=outsider, analyst=analyst, clients=clients,
                     today=today)


@pytest.fixture
def world(builders: Any) -> TeamWorld:
    return build_team_world(builders)


def all_scores(scale: Any, value: int = 4, **overrides: int | None) -> dict[str, int | None]:
    scores: dict[str, int | None] = {item.id: value for item in scale.items}
    scores.update(overrides)
    return scores


def needed_reasons(scale: Any, *extra: str) -> dict[str, str]:
    needed = [it.id for it in scale.items if it.justification_required] + list(extra)
    return {item_id: f"Synthetic reason for {item_id}." for item_id in needed}
