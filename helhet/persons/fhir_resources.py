"""FHIR Patient: the persons a caller may see, identified by pseudonymous id or national identity number.

The API's Patient carries the pseudonymous id only (data minimisation: a client that knows the number can
still search by it); the Patient of a bulk exchange (`helhet export`) also carries the national identity
number, so that the receiving system can register the person under it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from helhet.accounts.access import audit_person_list, open_person, visible_persons
from helhet.fhir.errors import invalid
from helhet.fhir.registry import FhirContext, ResourceHandler, SearchResult, paginate, register
from helhet.persons.models import Person
from helhet.persons.nin import InvalidNationalId, NationalIdKind, parse_national_id
from helhet.persons.pseudonyms import decrypt_nin, nin_lookup_hash

PSEUDONYM_SYSTEM = "urn:helhet:pid"
# Norwegian identifier OIDs (Volven / HL7 Norway no-basis): fødselsnummer, D-number, H-number.
FNR_SYSTEM, DNR_SYSTEM, HNR_SYSTEM = ("urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2",
                                      "urn:oid:2.16.578.1.12.4.1.4.3")
NIN_SYSTEMS = {FNR_SYSTEM, DNR_SYSTEM, HNR_SYSTEM}


def national_id_system(value: str) -> str:
    """The identifier system of a (valid) national identity number.

    Skatteetaten's synthetic test numbers (month + 80) are fødselsnummer or D-numbers in form: their day
    (+ 40 for a D-number) says which.
    """
    kind = parse_national_id(value).kind
    if kind == NationalIdKind.D_NUMBER or (kind == NationalIdKind.SYNTHETIC and int(value[:2]) > 40):
        return DNR_SYSTEM
    return HNR_SYSTEM if kind == NationalIdKind.H_NUMBER else FNR_SYSTEM


def national_id_identifiers(person: Person) -> list[dict[str, str]]:
    """The person's national identity number as a Patient.identifier (none when it is not recorded)."""
    if not person.nin_encrypted:
        return []
    value = decrypt_nin(person.nin_encrypted)
    return [{"use": "official", "system": national_id_system(value), "value": value}]


def patient_resource(person: Person, *, national_id: bool = False) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.pid,
        "identifier": [{"system": PSEUDONYM_SYSTEM, "value": person.pid},
                       *(national_id_identifiers(person) if national_id else [])],
        "name": [{"family": person.family_name, "given": [person.given_name]}],
        "gender": person.sex,
        "address": [{"district": person.municipality_id, "country": "NO"}],
    }
    return resource


@register
class PatientHandler(ResourceHandler):
    resource_type = "Patient"
    search_params = {"identifier": "token", "name": "string", "_id": "token"}

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        person, _rel = open_person(ctx.user, resource_id, resource=f"Patient/{resource_id}", channel=ctx.channel)
        return patient_resource(person)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        unknown = set(params) - set(self.search_params)
        if unknown:
            raise invalid(f"unknown search parameter(s) {', '.join(sorted(unknown))}; "
                          f"supported: {', '.join(self.search_params)}")
        persons = visible_persons(ctx.user).select_related("municipality").order_by("pk")
        for value in params.get("_id", []):
            persons = persons.filter(pid=value)
        for value in params.get("name", []):
            persons = persons.filter(Q(given_name__icontains=value) | Q(family_name__icontains=value))
        for value in params.get("identifier", []):
            system, sep, code = value.rpartition("|")
            if sep and system in NIN_SYSTEMS:
                try:
                    persons = persons.filter(nin_hash=nin_lookup_hash(parse_national_id(code).value))
                except InvalidNationalId as exc:
                    raise invalid(f"identifier: {exc}") from exc
            else:
                persons = persons.filter(pid=code)
        page, total = paginate(persons, offset=offset, count=count)
        if page:
            audit_person_list(ctx.user, [p.pid for p in page], channel=ctx.channel, resource="Patient search")
        return SearchResult([patient_resource(p) for p in page], total)
