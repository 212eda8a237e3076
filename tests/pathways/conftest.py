"""A small world for pathway tests: a municipal service, DPS, TSB and a ward, one clinician in each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from helhet.accounts.models import Role, User
from helhet.organisations.models import ServiceUnit, UnitKind
from helhet.persons.models import Person

TODAY = dt.date.today()


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@dataclass
class World:
    municipal: ServiceUnit
    dps: ServiceUnit
    tsb: ServiceUnit
    ward: ServiceUnit
    kommune: User  # clinician in the municipal service
    dps_user: User
    tsb_user: User
    ward_user: User
    person: Person
    builders: Any

    def new_person(self, *, unit: ServiceUnit | None = None, start: dt.date | None = None, **extra: Any) -> Person:
        person = self.builders.make_person(**extra)
        self.builders.make_episode(person, unit or self.municipal, start=start or days_ago(200))
        return person


@pytest.fixture(autouse=True)
def english_messages() -> Iterator[None]:
    """Service messages in English for the assertions (pages switch to Norwegian per request)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def world(builders: Any) -> World:
    municipal = builders.make_unit(UnitKind.MUNICIPAL, code="k-test")
    dps = builders.make_unit(UnitKind.DPS, code="dps-test")
    tsb = builders.make_unit(UnitKind.TSB, code="tsb-test")
    ward = builders.make_unit(UnitKind.WARD, code="ward-test", inpatient=True)
    person = builders.make_person(given_name="Kari", family_name="Forløpsen", consent_next_of_kin=True)
    builders.make_episode(person, municipal, start=days_ago(200))
    return World(
        municipal=municipal, dps=dps, tsb=tsb, ward=ward,
        kommune=builders.make_user(Role.CLINICIAN, units=[municipal], username="kommune", first_name="Kim",
                                   last_name="Kommune"),
        dps_user=builders.make_user(Role.CLINICIAN, units=[dps], username="dps"),
        tsb_user=builders.make_user(Role.CLINICIAN, units=[tsb], username="tsb"),
        ward_user=builders.make_user(Role.CLINICIAN, units=[ward], username="ward"),
        person=person, builders=builders,
    )
