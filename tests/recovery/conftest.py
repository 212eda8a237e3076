"""A small world for the recovery tests: a unit, a person with a care relationship, their login, and a stranger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from helhet.accounts.models import Role, User
from helhet.organisations.models import UnitKind
from helhet.persons.models import Person


@dataclass
class World:
    person: Person
    clinician: User
    service_user: User
    other: Person  # another person in the same unit, with their own login
    other_user: User


@pytest.fixture
def world(builders: Any) -> World:
    unit = builders.make_unit(UnitKind.FACT)
    person = builders.make_person(given_name="Ronja", family_name="Bedringsen")
    builders.make_episode(person, unit, start=dt.date.today() - dt.timedelta(days=400))
    other = builders.make_person(given_name="Ola", family_name="Annensen")
    builders.make_episode(other, unit)
    return World(
        person=person,
        clinician=builders.make_user(Role.CLINICIAN, units=[unit], username="kliniker", first_name="Kari",
                                     last_name="Klinikar"),
        service_user=builders.make_user(Role.SERVICE_USER, person=person, username="ronja"),
        other=other,
        other_user=builders.make_user(Role.SERVICE_USER, person=other, username="ola"),
    )
