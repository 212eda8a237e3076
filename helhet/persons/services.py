"""Creating and finding persons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from helhet.organisations.models import CatchmentDistrict, Municipality, ServiceUnit
from helhet.persons.models import ImmigrantBackground, Person, Sex
from helhet.persons.nin import parse_national_id
from helhet.persons.pseudonyms import encrypt_nin, new_pseudonym, nin_lookup_hash


class PersonError(ValueError):
    """A person cannot be created or changed as asked; the message says why."""


def create_person(
    *,
    national_id: str,
    given_name: str,
    family_name: str,
    sex: str,
    municipality_number: str,
    district: str | None = None,
    immigrant_background: str | None = None,
    consent_next_of_kin: bool = False,
    consent_research: bool = False,
) -> Person:
    parsed = parse_national_id(national_id)  # raises InvalidNationalId (a ValueError) with the reason
    if sex not in Sex.values:
        raise PersonError(f"unknown sex {sex!r}; use one of {', '.join(Sex.values)}")
    if immigrant_background is not None and immigrant_background not in ImmigrantBackground.values:
        raise PersonError(f"unknown immigrant background {immigrant_background!r}")
    municipality = Municipality.objects.filter(number=municipality_number).first()
    if municipality is None:
        raise PersonError(f"unknown municipality {municipality_number!r} (a 4-digit SSB kommunenummer)")
    district_obj = None
    if district:
        district_obj = CatchmentDistrict.objects.filter(municipality=municipality, name=district).first()
        if district_obj is None:
            raise PersonError(f"unknown district {district!r} in {municipality.name}")
    if parsed.birth_date > dt.date.today():
        raise PersonError("the date of birth in the national identity number is in the future")
    lookup = nin_lookup_hash(parsed.value)
    if Person.objects.filter(nin_hash=lookup).exists():
        raise PersonError("a person with this national identity number is already registered")
    try:
        with transaction.atomic():
            return Person.objects.create(
                pid=new_pseudonym(),
                given_name=given_name.strip(),
                family_name=family_name.strip(),
                nin_encrypted=encrypt_nin(parsed.value),
                nin_hash=lookup,
                birth_year=parsed.birth_date.year,
                sex=sex,
                municipality=municipality,
                district=district_obj,
                immigrant_background=immigrant_background,
                consent_next_of_kin=consent_next_of_kin,
                consent_research=consent_research,
            )
    except IntegrityError as exc:  # a concurrent registration of the same number
        raise PersonError("a person with this national identity number is already registered") from exc


def register_person_in_unit(*, user: Any, unit: ServiceUnit, start_date: dt.date | None = None,
                            **person_fields: Any) -> Person:
    """Register a new person and start an episode of care in one of the user's units, in one transaction.

    The episode gives the registering unit its care relationship; the registration is audited.
    """
    from helhet.accounts.access import user_unit_ids
    from helhet.audit.services import AuditEvent, record_one
    from helhet.pathways.models import EpisodeOfCare, EpisodeStatus

    if unit.pk not in user_unit_ids(user):
        raise PersonError("you can only register a person in one of your own units")
    with transaction.atomic():
        person = create_person(**person_fields)
        episode = EpisodeOfCare.objects.create(person=person, unit=unit, status=EpisodeStatus.ACTIVE,
                                               start_date=start_date or dt.date.today())
        record_one(AuditEvent(actor=user.get_username(), actor_role=user.role, action="create", resource="person",
                              person_pid=person.pid, channel="web",
                              purpose=f"registered with episode {episode.pk} in {unit.code}"))
    return person


def find_by_national_id(national_id: str) -> Person | None:
    parsed = parse_national_id(national_id)
    return Person.objects.filter(nin_hash=nin_lookup_hash(parsed.value)).first()
