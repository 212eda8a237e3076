"""Bulk exchange of QuestionnaireResponses (`helhet import` / `helhet export`, see `helhet.fhir.bulk`).

Import, batch by batch: every response is checked as `QuestionnaireResponseHandler.create` checks
it, in the same order and with the same messages (valid R4, completed or amended, a Patient subject, a
day in `authored`, a questionnaire we recognise with answers it has; then the person's scores with
their sex), and the whole batch is then written with a few statements: its administrations and their
ScoreObservation rows (the parts `services.score_parts` gives, as `record_administration` stores them).
A response whose identifier is already stored for the person is skipped (the same answer as the
create path's 409, which the bulk import reports as skipped), so importing a file twice stores
nothing twice.

Scoring is pure work: in an import with worker processes, `prepare_response` runs in the worker that
validated the line and sends back what the writer would compute (the rejection, or the stored answers
and score parts for each sex the person may have); the writer then only checks what needs the database
and inserts. Without a worker (or when it declines: a questionnaire not in our library may be a
registered external one, which needs the database) the writer scores as before; both store the same.

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
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import Cast, Concat

from helhet.assessment.fhir_mapping import (
    FhirMappingError,
    ResponseExtractionError,
    extract_answers,
    resolve_questionnaire,
)
from helhet.assessment.fhir_resources import (
    ACCEPTED_STATUSES,
    authored_date,
    questionnaire_response_resource,
    source_identifier,
    validate_r4,
)
from helhet.assessment.library import Instrument
from helhet.assessment.models import Administration, Mode, ScoreObservation
from helhet.assessment.scoring import ScoringError, score_response
from helhet.assessment.services import (
    ScorePart,
    check_administration,
    instrument_for,
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


def _scoring_rejection(exc: Exception) -> Rejected:
    """How `create` answers an error of reading or scoring a response (see `_checked`)."""
    if isinstance(exc, FhirError):
        return Rejected.from_fhir_error(exc)
    if isinstance(exc, ResponseExtractionError):
        return _unprocessable("code-invalid", str(exc))
    if isinstance(exc, FhirMappingError):
        return _unprocessable("not-found", f"{exc}; register another system's Questionnaire with "
                              "`helhet instruments register FILE`")
    if isinstance(exc, ScoringError):
        return _unprocessable("value", str(exc))
    raise exc


# What is stored for one scoring: the administration's answers and its ScoreObservation parts (as tuples), or
# the message of the ScoringError that refused it.
Stored = tuple[dict[str, Any], tuple[tuple[Any, ...], ...]] | str
SEXES = (None, "male", "female")  # what `scoring_sex` gives


@dataclass(frozen=True)
class Prepared:
    """A response scored ahead (by an import worker): the instrument, the declared total and, per scoring sex,
    what `_row` stores; or the rejection (message, status, code) of the scoring step."""

    instrument_id: str = ""
    declared_total: Any = None
    by_sex: tuple[tuple[str | None, Stored], ...] = ()
    rejection: tuple[str, int, str] | None = None


def _stored(instrument: Instrument, answers: Any, sex: str | None) -> Stored:
    try:
        result = score_response(instrument, answers, sex=sex)
    except ScoringError as exc:
        return str(exc)
    return dict(result.answers), tuple(tuple(part) for part in score_parts(instrument, result))


@cache
def _depends_on_sex(instrument_id: str) -> bool:
    """Whether `score_response` can give another result for another sex: a cut-off with thresholds per sex, a
    flag read per sex, or a condition (of a flag or a skip rule) for one sex only; else one scoring serves all."""
    scoring = instrument_for(instrument_id).scoring
    conditions = [rule.when for rule in scoring.skip_rules]
    conditions += [cond for rule in scoring.flags for group in rule.when_any for cond in group]
    return (any("any" not in cutoff.thresholds for cutoff in scoring.cutoffs)
            or any(rule.by_sex for rule in scoring.flags) or any(cond.sex is not None for cond in conditions))


def prepare_response(resource: dict[str, Any]) -> Prepared | None:
    """The scoring step of `_checked` and `_row` for a validated response, without the database (in a worker).

    None when it cannot say: a questionnaire not in our library may be registered here (the writer looks).
    """
    try:
        authored_date(resource, [])
        instrument, mapping = resolve_questionnaire(resource, ())
    except FhirMappingError:
        return None
    except FhirError as exc:
        rejected = _scoring_rejection(exc)
        return Prepared(rejection=(rejected.message, rejected.status, rejected.code))
    try:
        extracted = extract_answers(instrument, resource, mapping)
        result = score_response(instrument, extracted.answers, sex=None)
    except (FhirMappingError, ScoringError) as exc:
        rejected = _scoring_rejection(exc)
        return Prepared(rejection=(rejected.message, rejected.status, rejected.code))
    # As `_row`: the stored answers are scored again with the person's sex, which only the writer knows.
    # Only the readings that differ from the one without a sex are sent (`_row` falls back to it): less to send
    # and to hold in the writer's read-ahead.
    unknown = _stored(instrument, result.answers, None)
    variants = [(sex, _stored(instrument, result.answers, sex)) for sex in SEXES[1:]] if _depends_on_sex(
        instrument.id) else []
    return Prepared(instrument.id, extracted.declared_total,
                    ((None, unknown), *((sex, stored) for sex, stored in variants if stored != unknown)))


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
    new: list[tuple[ImportItem, dict[str, Any], Instrument, tuple[tuple[Any, ...], ...]]] = []  # row, parts
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
            row, instrument, parts = _row(person, resource, scored)
        except Rejected as exc:
            item.reject(exc)
            continue
        if identifier:
            first[(person.pk, identifier)] = item
        new.append((item, row, instrument, parts))
    ids = insert_rows(Administration, [row for _item, row, _instrument, _parts in new])
    observations: list[dict[str, Any]] = []
    for (item, row, instrument, parts), pk in zip(new, ids, strict=True):
        head = {"administration_id": pk, "person_id": row["person_id"], "instrument_id": instrument.id,
                "effective": row["administered_on"]}
        observations.extend({**head, **dict(zip(ScorePart._fields, part, strict=True))} for part in parts)
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
    """The checks of `create` that need no database: (pid, the resource as stored, the scored response, or what
    a worker prepared)."""
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
    prepared = item.prepared
    if isinstance(prepared, Prepared):  # scored ahead by the worker that validated the line
        if prepared.rejection is not None:
            message, status, code = prepared.rejection
            raise Rejected(message, status=status, code=code)
        return pid, resource, prepared
    try:
        authored_date(resource, [])
        scored = score_questionnaire_response(resource, sex=None)
    except (FhirError, FhirMappingError, ScoringError) as exc:
        raise _scoring_rejection(exc) from None
    return pid, resource, scored


def _row(person: Person, resource: dict[str, Any], scored: Any
         ) -> tuple[dict[str, Any], Instrument, tuple[tuple[Any, ...], ...]]:
    """The administration's columns, its instrument and its score parts, scored with the person's sex (as
    record_administration)."""
    administered_on = authored_date(resource, [])
    sex = scoring_sex(person)
    if isinstance(scored, Prepared):
        instrument, declared_total = instrument_for(scored.instrument_id), scored.declared_total
        by_sex = dict(scored.by_sex)
        stored = by_sex[sex] if sex in by_sex else by_sex[None]  # one scoring serves every sex (_depends_on_sex)
    else:
        instrument, declared_total = scored.instrument, scored.extracted.declared_total
        stored = None
    try:
        check_administration(Mode.FHIR, administered_on, instrument.id)
        if stored is None:
            stored = _stored(instrument, scored.result.answers, sex)
    except ScoringError as exc:
        raise _unprocessable("value", str(exc)) from None
    if isinstance(stored, str):
        raise _unprocessable("value", stored)
    answers, parts = stored
    questionnaire = resource.get("questionnaire")
    return {
        "person_id": person.pk, "instrument_id": instrument.id, "instrument_version": instrument.version,
        "administered_on": administered_on, "answers": answers, "mode": Mode.FHIR,
        "scored_sex": sex or "", "recorded_by_id": None, "unit_id": None,
        "source_identifier": source_identifier(resource),
        "questionnaire_url": (questionnaire.split("|", 1)[0] if isinstance(questionnaire, str) else "")
        or instrument.url,
        "declared_total": declared_total, "source_resource": resource,
    }, instrument, parts


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

