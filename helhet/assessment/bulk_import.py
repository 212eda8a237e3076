"""Bulk exchange of QuestionnaireResponses (`helhet import` / `helhet export`, see `helhet.fhir.bulk`).

Import, batch by batch: every response is checked as `QuestionnaireResponseHandler.create` checks
it, in the same order and with the same messages (valid R4, completed or amended, a Patient subject, a
day in `authored`, a questionnaire we recognise with answers it has; then the person's scores with
their sex), and the whole batch is then written with a few statements: its administrations and their
ScoreObservation rows (the parts `services.score_parts` gives, as `record_administration` stores them).
A response whose identifier is already stored for the person is skipped (the same answer as the
create path's 409, which the bulk import reports as skipped), so importing a file twice stores
nothing twice.

Who: a system import (no user) writes in one batch, audited once per batch by the bulk machinery as
a system event naming the persons. An import as a user, or a transaction Bundle on the API, still goes
through `create` per response, which checks the care relationship, records the responsible unit and
audits each write, exactly as before.

Export: every administration of the persons, as `questionnaire_response_resource` shows it, with an
identifier; administrations that have none get one first (unique to the export), so that importing
the exported file twice finds the same responses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import Cast, Concat

from helhet.assessment.fhir_mapping import FhirMappingError, ResponseExtractionError
from helhet.assessment.fhir_resources import (
    ACCEPTED_STATUSES,
    authored_date,
    questionnaire_response_resource,
    source_identifier,
    validate_r4,
)
from helhet.assessment.models import Administration, Mode, ScoreObservation
from helhet.assessment.scoring import ScoringError, score_response
from helhet.assessment.services import (
    check_administration,
    score_parts,
    score_questionnaire_response,
    scoring_sex,
)
from helhet.fhir.bulk import ImportContext, ImportItem, Rejected, any_of, create_one, insert_rows
from helhet.fhir.errors import FhirError
from helhet.persons.models import Person

EXPORT_IDENTIFIER_SYSTEM = "urn:helhet:questionnaire-response"


def _unprocessable(code: str, message: str) -> Rejected:
    return Rejected(message, status=422, code=code)


def import_questionnaire_responses(handler: Any, ictx: ImportContext, items: list[ImportItem]) -> None:
    """Write a batch of QuestionnaireResponses (in the caller's transaction); every item gets an outcome."""
    if ictx.user is not None:
        for item in items:  # the care relationship, the unit and the audit per write: the create path
            create_one(ictx, handler, item)
        return
    parsed: list[tuple[ImportItem, str, dict[str, Any], Any]] = []
    for item in items:
        try:
            parsed.append((item, *_checked(ictx, item)))
        except Rejected as exc:
            item.reject(exc)
    persons = ictx.persons([(item, pid) for item, pid, _resource, _scored in parsed])
    parsed = [entry for entry in parsed if not entry[0].outcome]
    if not parsed:
        return
    identifiers = {source_identifier(resource) for _item, _pid, resource, _scored in parsed} - {""}
    stored: dict[tuple[int, str], Administration] = {}
    if identifiers:
        for administration in Administration.objects.filter(
                any_of(Administration, "source_identifier", identifiers),
                person_id__in={persons[pid].pk for _item, pid, _resource, _scored in parsed}).only(
                "pk", "person_id", "source_identifier"):
            stored[(administration.person_id, administration.source_identifier)] = administration
    new: list[tuple[ImportItem, dict[str, Any], Any, Any]] = []  # item, row, instrument, result
    first: dict[tuple[int, str], ImportItem] = {}
    for item, pid, resource, scored in parsed:
        person = persons[pid]
        identifier = source_identifier(resource)
        if identifier and (person.pk, identifier) in stored:
            item.done("skipped", f"QuestionnaireResponse/{stored[(person.pk, identifier)].fhir_id}")
            ictx.touched.add(pid)
            continue
        if identifier and (person.pk, identifier) in first:
            item.done("skipped", "")  # the same response twice in the batch: located below
            continue
        try:
            row, result = _row(person, resource, scored)
        except Rejected as exc:
            item.reject(exc)
            continue
        if identifier:
            first[(person.pk, identifier)] = item
        new.append((item, row, scored.instrument, result))
    ids = insert_rows(Administration, [row for _item, row, _instrument, _result in new])
    observations: list[dict[str, Any]] = []
    for (item, row, instrument, result), pk in zip(new, ids, strict=True):
        head = {"administration_id": pk, "person_id": row["person_id"], "instrument_id": instrument.id,
                "effective": row["administered_on"]}
        observations.extend({**head, **part._asdict()} for part in score_parts(instrument, result))
        item.done("created", f"QuestionnaireResponse/qr-{pk}")
    insert_rows(ScoreObservation, observations)
    for item, pid, resource, _scored in parsed:
        if item.outcome == "skipped" and not item.location:
            item.location = first[(persons[pid].pk, source_identifier(resource))].location
        if item.outcome in ("created", "skipped"):
            ictx.touched.add(pid)
            if item.full_url:
                ictx.urns[item.full_url] = item.location


def _checked(ictx: ImportContext, item: ImportItem) -> tuple[str, dict[str, Any], Any]:
    """The checks of `create` that need no database: (pid, the resource as stored, the scored response)."""
    resource = dict(item.resource)
    if not item.validated:  # else already checked against the same R4B model by an import worker
        try:
            validate_r4(resource)
        except FhirError as exc:
            raise Rejected.from_fhir_error(exc) from None
    if resource.get("status") not in ACCEPTED_STATUSES:
        raise _unprocessable("business-rule", f"status {resource.get('status')!r}: only a completed (or amended) "
                             "response is scored")
    pid = ictx.patient_pid(resource.get("subject"), "QuestionnaireResponse.subject")
    resource["subject"] = {**resource["subject"], "reference": f"Patient/{pid}"} if isinstance(
        resource["subject"].get("reference"), str) else resource["subject"]
    resource.pop("id", None)
    try:
        authored_date(resource, [])
        scored = score_questionnaire_response(resource, sex=None)
    except FhirError as exc:
        raise Rejected.from_fhir_error(exc) from None
    except ResponseExtractionError as exc:
        raise _unprocessable("code-invalid", str(exc)) from None
    except FhirMappingError as exc:
        raise _unprocessable("not-found", f"{exc}; register another system's Questionnaire with "
                             "`helhet instruments register FILE`") from None
    except ScoringError as exc:
        raise _unprocessable("value", str(exc)) from None
    return pid, resource, scored


def _row(person: Person, resource: dict[str, Any], scored: Any) -> tuple[dict[str, Any], Any]:
    """The administration's columns and its result, scored with the person's sex (as record_administration)."""
    instrument, extracted = scored.instrument, scored.extracted
    administered_on = authored_date(resource, [])
    sex = scoring_sex(person)
    try:
        check_administration(Mode.FHIR, administered_on, instrument.id)
        result = score_response(instrument, scored.result.answers, sex=sex)
    except ScoringError as exc:
        raise _unprocessable("value", str(exc)) from None
    questionnaire = resource.get("questionnaire")
    return {
        "person_id": person.pk, "instrument_id": instrument.id, "instrument_version": instrument.version,
        "administered_on": administered_on, "answers": dict(result.answers), "mode": Mode.FHIR,
        "scored_sex": sex or "", "recorded_by_id": None, "unit_id": None,
        "source_identifier": source_identifier(resource),
        "questionnaire_url": (questionnaire.split("|", 1)[0] if isinstance(questionnaire, str) else "")
        or instrument.url,
        "declared_total": extracted.declared_total, "source_resource": resource,
    }, result


def export_questionnaire_responses(persons: QuerySet[Person]) -> Iterator[dict[str, Any]]:
    """Every administration of these persons as a QuestionnaireResponse with an identifier (see above)."""
    prefix = f"{uuid.uuid4().hex[:12]}-"
    Administration.objects.filter(source_identifier="", person__in=persons).update(
        source_identifier=Concat(Value(f"{EXPORT_IDENTIFIER_SYSTEM}|{prefix}"), Cast("pk", output_field=CharField())))
    for administration in (Administration.objects.filter(person__in=persons).select_related("person")
                           .order_by("pk").iterator(chunk_size=2000)):
        resource = questionnaire_response_resource(administration, administration.person)
        if not resource.get("identifier"):
            system, _sep, value = administration.source_identifier.rpartition("|")
            resource["identifier"] = {"system": system, "value": value} if system else {"value": value}
        yield resource

