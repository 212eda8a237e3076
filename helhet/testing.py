"""Builders for tests and benchmarks: synthetic units, persons, users and episodes with valid defaults."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from helhet.accounts.models import Role, StaffMembership, User
from helhet.organisations.models import HealthTrust, Municipality, ServiceUnit, UnitKind
from helhet.organisations.refdata import load_reference_data
from helhet.pathways.models import EpisodeOfCare, EpisodeStatus
from helhet.persons.models import Person
from helhet.persons.nin import make_synthetic_national_id
from helhet.persons.pseudonyms import encrypt_nin, new_pseudonym, nin_lookup_hash

PASSWORD = "test-password-123"
_serial = itertools.count(1)


def ensure_reference_data() -> None:
    if not Municipality.objects.exists():
        load_reference_data()


def synthetic_national_id(birth_year: int = 1980) -> str:
    """A fresh valid synthetic (month + 80) national identity number."""
    while True:
        n = next(_serial)
        birth_date = dt.date(birth_year, 1, 1) + dt.timedelta(days=n % 365)
        individual = (n * 7) % 500 if birth_year < 2000 else 500 + (n * 7) % 500
        number = make_synthetic_national_id(birth_date, individual)
        if number is not None and not Person.objects.filter(nin_hash=nin_lookup_hash(number)).exists():
            return number


def make_unit(kind: str = UnitKind.DPS, *, code: str | None = None, trust: HealthTrust | None = None,
              inpatient: bool = False, municipalities: list[str] | None = None) -> ServiceUnit:
    ensure_reference_data()
    n = next(_serial)
    unit = ServiceUnit.objects.create(
        code=code or f"test-{kind}-{n}", name=f"Test {kind} {n}", kind=kind, inpatient=inpatient,
        trust=trust or (HealthTrust.objects.order_by("code").first() if kind != UnitKind.MUNICIPAL else None),
    )
    if municipalities:
        unit.municipalities.set(Municipality.objects.filter(number__in=municipalities))
    return unit


def make_person(*, given_name: str = "Test", family_name: str | None = None, sex: str = "female",
                birth_year: int = 1980, municipality: str = "0301", **extra: Any) -> Person:
    ensure_reference_data()
    number = synthetic_national_id(birth_year)
    return Person.objects.create(
        pid=new_pseudonym(), given_name=given_name, family_name=family_name or f"Person{next(_serial)}",
        nin_encrypted=encrypt_nin(number), nin_hash=nin_lookup_hash(number), birth_year=birth_year, sex=sex,
        municipality_id=municipality, **extra,
    )


def make_episode(person: Person, unit: ServiceUnit, *, start: dt.date | None = None, end: dt.date | None = None,
                 status: str = EpisodeStatus.ACTIVE) -> EpisodeOfCare:
    return EpisodeOfCare.objects.create(person=person, unit=unit, status=status,
                                        start_date=start or dt.date.today() - dt.timedelta(days=100), end_date=end)


def make_user(role: str = Role.CLINICIAN, *, units: list[ServiceUnit] | None = None, username: str | None = None,
              person: Person | None = None, **extra: Any) -> User:
    user = User.objects.create_user(username=username or f"{role}-{next(_serial)}", password=PASSWORD, role=role,
                                    person=person, **extra)
    for unit in units or []:
        StaffMembership.objects.create(user=user, unit=unit)
    return user
