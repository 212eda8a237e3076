"""A small world for bulk exchange tests: units, a clinician with an API client, a person in care, a stranger."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from helhet.accounts.models import Role
from helhet.fhir.models import ApiClient
from helhet.organisations.models import UnitKind

UNIT = "urn:helhet:unit"
TODAY = dt.date.today()


def day(days_ago: int) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).isoformat()


def unit_ref(code: str) -> dict[str, Any]:
    return {"identifier": {"system": UNIT, "value": code}}


def episode(pid: str, unit: str, *, ident: str, start: int = 200, end: int | None = None,
            status: str = "active") -> dict[str, Any]:
    period = {"start": day(start)} | ({"end": day(end)} if end is not None else {})
    return {"resourceType": "EpisodeOfCare", "identifier": [{"system": "urn:test", "value": ident}],
            "status": status, "patient": {"reference": pid if pid.startswith("urn:") else f"Patient/{pid}"},
            "managingOrganization": unit_ref(unit), "period": period}


def admission(pid: str, unit: str, *, ident: str, start: int, end: int | None = None,
              housing: str | None = None, episode_ref: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter", "identifier": [{"system": "urn:test", "value": ident}],
        "status": "finished" if end is not None else "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": pid if pid.startswith("urn:") else f"Patient/{pid}"},
        "serviceProvider": unit_ref(unit),
        "period": {"start": day(start)} | ({"end": day(end)} if end is not None else {}),
    }
    if housing:
        resource["hospitalization"] = {"dischargeDisposition": {"coding": [
            {"system": "urn:helhet:housing-status", "code": housing}]}}
    if episode_ref:
        resource["episodeOfCare"] = [{"reference": episode_ref}]
    return resource


def contact(pid: str, unit: str, *, ident: str, start: int, mode: str = "home_visit") -> dict[str, Any]:
    return {"resourceType": "Encounter", "identifier": [{"system": "urn:test", "value": ident}],
            "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                            "code": "HH"},
            "type": [{"coding": [{"system": "urn:helhet:contact-mode", "code": mode}]}],
            "subject": {"reference": f"Patient/{pid}"}, "serviceProvider": unit_ref(unit),
            "period": {"start": day(start)}, "length": {"value": 45, "unit": "min",
                                                       "system": "http://unitsofmeasure.org", "code": "min"}}


def referral(pid: str, *, ident: str, to: str, sent: int, status: str = "sent", reason: str = "",
             from_unit: str | None = None) -> dict[str, Any]:
    extension = [{"url": "urn:helhet:fhir:referral-status", "valueCode": status}]
    if reason:
        extension.append({"url": "urn:helhet:fhir:rejection-reason", "valueCode": reason})
        extension.append({"url": "urn:helhet:fhir:assessed-date", "valueDate": day(sent - 3)})
    return {"resourceType": "ServiceRequest", "identifier": [{"system": "urn:test", "value": ident}],
            "status": "revoked" if status == "rejected" else "active", "intent": "order",
            "subject": {"reference": f"Patient/{pid}"}, "authoredOn": day(sent),
            "requester": unit_ref(from_unit) if from_unit else {"display": "GP"},
            "performer": [unit_ref(to)], "extension": extension}


def patient(nin: str, *, family: str, given: str = "Test", birth: str = "1980-01-01",
            municipality: str = "0301") -> dict[str, Any]:
    return {"resourceType": "Patient",
            "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": nin}],
            "name": [{"family": family, "given": [given]}], "gender": "female", "birthDate": birth,
            "address": [{"district": municipality, "country": "NO"}]}


@pytest.fixture
def world(builders: Any) -> SimpleNamespace:
    dps = builders.make_unit(UnitKind.DPS, code="dps-a")
    ward = builders.make_unit(UnitKind.WARD, code="ward-a", inpatient=True)
    tsb = builders.make_unit(UnitKind.TSB, code="tsb-b")
    clinician = builders.make_user(Role.CLINICIAN, units=[dps, ward], username="kari")
    outsider = builders.make_user(Role.CLINICIAN, units=[tsb], username="per")
    person = builders.make_person(given_name="Ola", family_name="Nordmann")
    builders.make_episode(person, dps)
    stranger = builders.make_person(given_name="Ukjent", family_name="Fremmedsen")
    builders.make_episode(stranger, tsb)
    _client, token = ApiClient.issue(name="ehr", user=clinician)
    return SimpleNamespace(dps=dps, ward=ward, tsb=tsb, clinician=clinician, outsider=outsider, person=person,
                           stranger=stranger, api=Client(HTTP_AUTHORIZATION=f"Bearer {token}"))


@pytest.fixture
def fhir() -> SimpleNamespace:
    """Builders of FHIR JSON for the tests."""
    return SimpleNamespace(day=day, unit_ref=unit_ref, episode=episode, admission=admission, contact=contact,
                           referral=referral, patient=patient)


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=body, content_type="application/fhir+json")


@pytest.fixture
def post_json() -> Any:
    return post
