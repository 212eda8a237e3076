"""FHIR Questionnaire, QuestionnaireResponse and Observation for the assessment app.

- ``Questionnaire``: our instruments (``questionnaire_resource``; id = instrument id) and
  the external Questionnaires an administrator registered (id ``ext-<pk>``). Read; search
  by url and code (the panel code or an item code). No person data, so no access check.
- ``QuestionnaireResponse`` create: validated against the R4B model (fhir.resources),
  the subject opened through ``open_person`` (channel fhir), the instrument recognised
  from the ``questionnaire`` canonical (ours or registered), answers read by linkId, LOINC
  item code or the registered mapping, scored and stored by ``services.record_administration``.
  The answer is **201 Created with Location: QuestionnaireResponse/qr-<pk> and a
  collection Bundle**: the stored response, the scored Observations and — when there is
  something to say (a declared total that disagrees with ours, items we ignored, no
  authored date) — an OperationOutcome with warnings. A Bundle rather than Location +
  OperationOutcome alone because the caller wants the scores in the same round trip.
  Errors: 400 (not a valid R4 QuestionnaireResponse), 403 (subject the caller may not
  see), 409 (identifier already stored for the person), 422 (unknown questionnaire,
  answers the instrument does not have, values out of range, incomplete response);
  nothing is stored on any of them.
- ``Observation``: read and search (patient, code, date, category) over the stored
  ``ScoreObservation`` rows that are published as resources (``fhir_resource``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse, QuestionnaireResponseItem
from pydantic import ValidationError

from helhet.accounts.access import audit_person_list, authorize_write, open_person, visible_persons
from helhet.assessment.fhir_mapping import (
    CATEGORY_SYSTEM,
    SCORE_SYSTEM,
    FhirMappingError,
    ResponseExtractionError,
    _answer_coding,
    observations_for,
    questionnaire_resource,
)
from helhet.assessment.library import LOINC_SYSTEM, Instrument, UnknownInstrument, default_library
from helhet.assessment.models import (
    FLAGS_PART,
    TOTAL_PART,
    Administration,
    Mode,
    RegisteredQuestionnaire,
    ScoreObservation,
)
from helhet.assessment.scoring import ScoreResult, ScoringError
from helhet.assessment.services import (
    DuplicateSubmission,
    instrument_for,
    record_administration,
    result_of,
    score_questionnaire_response,
)
from helhet.fhir import validation as fhir_validation
from helhet.fhir.errors import FhirError, Issue, invalid, not_found
from helhet.fhir.registry import (
    FhirContext,
    ResourceHandler,
    SearchResult,
    paginate,
    register,
)
from helhet.persons.fhir_resources import PSEUDONYM_SYSTEM
from helhet.persons.models import Person

ACCEPTED_STATUSES = ("completed", "amended")
_QR_ID = re.compile(r"^qr-(\d{1,18})$")
_OBS_ID = re.compile(r"^obs-(\d{1,18})$")
_EXT_ID = re.compile(r"^ext-(\d{1,18})$")
_DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def _check_params(handler: ResourceHandler, params: dict[str, list[str]]) -> None:
    unknown = set(params) - set(handler.search_params)
    if unknown:
        raise invalid(f"unknown search parameter(s) {', '.join(sorted(unknown))}; "
                      f"supported: {', '.join(handler.search_params)}")


def _unprocessable(code: str, diagnostics: str, expression: list[str] | None = None) -> FhirError:
    return FhirError(422, code, diagnostics, expression=expression)


def _pid_from_reference(value: str, param: str) -> str:
    """`Patient/<pid>`, a full URL ending in it, or a bare pid."""
    reference = value.rstrip("/")
    if "/" in reference:
        kind, _sep, pid = reference.rpartition("/")
        if not kind.endswith("Patient"):
            raise invalid(f"{param}: {value!r} is not a Patient reference")
        return pid
    return reference


def _date_filter(field: str, values: Iterable[str], param: str) -> Q:
    """FHIR date search on a date column: eq/ne/gt/lt/ge/le with a date or the date part of a dateTime."""
    condition = Q()
    for value in values:
        prefix = value[:2] if value[:2] in _DATE_PREFIXES else "eq"
        raw = value[2:] if value[:2] in _DATE_PREFIXES else value
        try:
            day = dt.date.fromisoformat(raw[:10])
        except ValueError:
            raise invalid(f"{param}: {value!r} is not a date (YYYY-MM-DD, optionally prefixed ge, le ...)") from None
        lookups = {"eq": "", "ap": "", "gt": "__gt", "sa": "__gt", "lt": "__lt", "eb": "__lt", "ge": "__gte",
                   "le": "__lte"}
        if prefix == "ne":
            condition &= ~Q(**{field: day})
        else:
            condition &= Q(**{field + lookups[prefix]: day})
    return condition


# ---------------------------------------------------------------------------
# Questionnaire


def _registered_resource(registered: RegisteredQuestionnaire) -> dict[str, Any]:
    return {**registered.resource, "id": f"ext-{registered.pk}"}


@register
class QuestionnaireHandler(ResourceHandler):
    resource_type = "Questionnaire"
    search_params = {"url": "uri", "code": "token", "_id": "token"}

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        match = _EXT_ID.match(resource_id)
        if match:
            registered = RegisteredQuestionnaire.objects.filter(pk=int(match.group(1))).first()
            if registered is None:
                raise not_found("Questionnaire", resource_id)
            return _registered_resource(registered)
        try:
            return questionnaire_resource(default_library().get(resource_id))
        except UnknownInstrument:
            raise not_found("Questionnaire", resource_id) from None

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        _check_params(self, params)
        resources: list[dict[str, Any]] = []
        for instrument in default_library():
            if self._matches(instrument, params):
                resources.append(questionnaire_resource(instrument))
        registered = RegisteredQuestionnaire.objects.all()
        for url in params.get("url", []):
            registered = registered.filter(url=url.split("|", 1)[0])
        for value in params.get("_id", []):
            match = _EXT_ID.match(value)
            registered = registered.filter(pk=int(match.group(1))) if match else registered.none()
        for resource in (_registered_resource(r) for r in registered):
            if all(self._has_code(resource, value) for value in params.get("code", [])):
                resources.append(resource)
        return SearchResult(resources[offset: offset + count], len(resources))

    @staticmethod
    def _has_code(resource: dict[str, Any], token: str) -> bool:
        system, sep, code = token.rpartition("|")
        codings = list(resource.get("code") or [])
        stack = list(resource.get("item") or [])
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                codings.extend(item.get("code") or [])
                stack.extend(item.get("item") or [])
        return any(isinstance(c, dict) and c.get("code") == code and (not sep or c.get("system") == (system or None))
                   for c in codings)

    def _matches(self, instrument: Instrument, params: dict[str, list[str]]) -> bool:
        if any(url.split("|", 1)[0] != instrument.url for url in params.get("url", [])):
            return False
        if any(value != instrument.id for value in params.get("_id", [])):
            return False
        for token in params.get("code", []):
            system, sep, code = token.rpartition("|")
            if sep and system not in ("", LOINC_SYSTEM):
                return False
            if code != instrument.loinc_panel and code not in instrument.item_by_loinc:
                return False
        return True


# ---------------------------------------------------------------------------
# QuestionnaireResponse


def validate_r4(resource: dict[str, Any]) -> None:
    try:
        fhir_validation.model_validate(QuestionnaireResponse, resource, {"item": QuestionnaireResponseItem})
    except ValidationError as exc:
        issues = []
        for error in exc.errors()[:10]:
            where = ".".join(str(part) for part in error.get("loc", ()) if not str(part).startswith("function-"))
            issues.append(Issue("error", "structure", f"{where or 'QuestionnaireResponse'}: {error.get('msg')}",
                                [f"QuestionnaireResponse.{where}"] if where else []))
        raise FhirError(400, "structure", "not a valid FHIR R4 QuestionnaireResponse", issues=issues) from None
    except (RecursionError, TypeError, ValueError) as exc:
        raise FhirError(400, "structure", f"not a valid FHIR R4 QuestionnaireResponse: {exc}") from None


def _subject_pid(resource: dict[str, Any]) -> str:
    subject = resource.get("subject")
    if not isinstance(subject, dict):
        raise FhirError(400, "required", "subject is required: a reference to the Patient the answers are about",
                        expression=["QuestionnaireResponse.subject"])
    reference = subject.get("reference")
    if isinstance(reference, str) and reference:
        return _pid_from_reference(reference, "subject")
    identifier = subject.get("identifier")
    if isinstance(identifier, dict) and identifier.get("system") == PSEUDONYM_SYSTEM and identifier.get("value"):
        return str(identifier["value"])
    raise invalid("subject must reference a Patient (Patient/<id>, or identifier system " + PSEUDONYM_SYSTEM + ")",
                  expression=["QuestionnaireResponse.subject"])


def source_identifier(resource: dict[str, Any]) -> str:
    identifier = resource.get("identifier")
    if not isinstance(identifier, dict) or not identifier.get("value"):
        return ""
    return f"{identifier.get('system') or ''}|{identifier['value']}"[:255]


def authored_date(resource: dict[str, Any], warnings: list[Issue]) -> dt.date:
    authored = resource.get("authored")
    if not authored:
        warnings.append(Issue("warning", "incomplete", "no authored date; the date of receipt is recorded",
                              ["QuestionnaireResponse.authored"]))
        return dt.date.today()
    # Validated as a FHIR dateTime already: YYYY, YYYY-MM or YYYY-MM-DD[Thh:mm:ss...]
    if len(authored) < 10:
        raise _unprocessable("value", f"authored {authored!r} must give the day the answers were given",
                             ["QuestionnaireResponse.authored"])
    try:
        return dt.date.fromisoformat(authored[:10])
    except ValueError:
        raise _unprocessable("value", f"authored {authored!r} is not a calendar date",
                             ["QuestionnaireResponse.authored"]) from None


def questionnaire_response_resource(administration: Administration, person: Person) -> dict[str, Any]:
    """The stored response as received, or one built from the stored answers, with our id and subject."""
    if administration.source_resource:
        resource = dict(administration.source_resource)
    else:
        instrument = instrument_for(administration.instrument_id)
        resource = {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": f"{instrument.url}|{administration.instrument_version}",
            "status": "completed",
            "authored": administration.administered_on.isoformat(),
            "item": [_response_item(instrument, link_id, answer)
                     for link_id, answer in administration.answers.items()],
        }
    resource["id"] = administration.fhir_id
    resource["subject"] = {"reference": f"Patient/{person.pid}"}
    return resource


def _response_item(instrument: Instrument, link_id: str, answer: Any) -> dict[str, Any]:
    item = instrument.item_by_link.get(link_id)
    if item is not None and item.type == "choice":
        value: dict[str, Any] = {"valueCoding": _answer_coding(instrument, item, str(answer), "en")}
    elif isinstance(answer, bool) or not isinstance(answer, int | float):
        value = {"valueString": str(answer)}
    elif item is not None and item.type == "integer":
        value = {"valueInteger": int(answer)}
    else:
        value = {"valueDecimal": answer}
    return {"linkId": link_id, "answer": [value]}


def _fhir_part(instrument: Instrument, part: str) -> str:
    return "mean" if part == TOTAL_PART and instrument.scoring.method == "mean" else part


def observation_resources(administration: Administration, rows: Iterable[ScoreObservation], person: Person,
                          result: ScoreResult | None = None) -> list[dict[str, Any]]:
    """The administration's Observations (``fhir_mapping.observations_for``) with the ids of their rows."""
    instrument = instrument_for(administration.instrument_id)
    result = result or result_of(administration)
    by_code = {f"{instrument.id}-{_fhir_part(instrument, row.part)}": row for row in rows if row.fhir_resource}
    out = []
    for observation in observations_for(result, instrument, subject_ref=f"Patient/{person.pid}",
                                        qr_ref=f"QuestionnaireResponse/{administration.fhir_id}",
                                        effective=administration.administered_on):
        code = next(c["code"] for c in observation["code"]["coding"] if c["system"] == SCORE_SYSTEM)
        row = by_code.get(code)
        if row is not None:
            out.append({"resourceType": "Observation", "id": row.fhir_id,
                        **{k: v for k, v in observation.items() if k != "resourceType"}})
    return out


@register
class QuestionnaireResponseHandler(ResourceHandler):
    resource_type = "QuestionnaireResponse"
    search_params = {"patient": "reference", "subject": "reference", "questionnaire": "reference",
                     "authored": "date", "_id": "token"}

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        match = _QR_ID.match(resource_id)
        administration = (Administration.objects.select_related("person").filter(pk=int(match.group(1))).first()
                          if match else None)
        if administration is None:
            raise not_found("QuestionnaireResponse", resource_id)
        person, _rel = open_person(ctx.user, administration.person, resource=f"QuestionnaireResponse/{resource_id}",
                                   channel=ctx.channel)
        return questionnaire_response_resource(administration, person)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        _check_params(self, params)
        administrations: QuerySet[Administration] = Administration.objects.filter(
            person__in=visible_persons(ctx.user)).select_related("person").order_by("-administered_on", "-pk")
        for value in params.get("patient", []) + params.get("subject", []):
            administrations = administrations.filter(person__pid=_pid_from_reference(value, "patient"))
        for value in params.get("questionnaire", []):
            administrations = administrations.filter(questionnaire_url=value.split("|", 1)[0])
        for value in params.get("_id", []):
            match = _QR_ID.match(value)
            administrations = administrations.filter(pk=int(match.group(1))) if match else administrations.none()
        administrations = administrations.filter(_date_filter("administered_on", params.get("authored", []),
                                                              "authored"))
        page, total = paginate(administrations, offset=offset, count=count)
        if page:
            audit_person_list(ctx.user, sorted({a.person.pid for a in page}), channel=ctx.channel,
                              resource="QuestionnaireResponse search")
        return SearchResult([questionnaire_response_resource(a, a.person) for a in page], total)

    def create(self, ctx: FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        validate_r4(resource)
        if resource.get("status") not in ACCEPTED_STATUSES:
            raise _unprocessable("business-rule", f"status {resource.get('status')!r}: only a completed (or "
                                 "amended) response is scored", ["QuestionnaireResponse.status"])
        pid = _subject_pid(resource)
        warnings: list[Issue] = []
        administered_on = authored_date(resource, warnings)
        # The content is checked before the subject is looked up, so a refusal for bad content
        # never depends on (and so never reveals) whether the person exists. The sex does not
        # change what is accepted; the stored result is scored again with the person's sex.
        try:
            scored = score_questionnaire_response(resource, sex=None)
        except ResponseExtractionError as exc:
            where = [f"QuestionnaireResponse.item.where(linkId='{exc.link_id}')"] if exc.link_id else []
            raise _unprocessable("code-invalid", str(exc), where) from None
        except FhirMappingError as exc:
            raise _unprocessable("not-found", f"{exc}; register another system's Questionnaire with "
                                 "`helhet instruments register FILE`", ["QuestionnaireResponse.questionnaire"]) from None
        except ScoringError as exc:
            raise _unprocessable("value", str(exc)) from None
        result, extracted = scored.result, scored.extracted
        if scored.declared_total_disagrees:
            warnings.append(Issue(
                "warning", "business-rule",
                f"the response declares a total of {extracted.declared_total:g} (item "
                f"{extracted.declared_total_link_id!r}), but the answers give "
                f"{'no total' if result.score is None else format(result.score, 'g')}"
                f"{' (' + result.missing_reason + ')' if result.missing_reason else ''}; our computed value is stored",
                [f"QuestionnaireResponse.item.where(linkId='{extracted.declared_total_link_id}')"]))
        if extracted.ignored_link_ids:
            warnings.append(Issue("information", "informational",
                                  f"items without a counterpart in {scored.instrument.id} were stored but not "
                                  f"scored: {', '.join(extracted.ignored_link_ids)}"))
        # The person and the care relationship in one query; an unknown pid is refused (and audited) exactly
        # like a person without a care relationship.
        person, relationship, event = authorize_write(ctx.user, pid, resource="QuestionnaireResponse",
                                                      channel=ctx.channel)
        questionnaire = resource.get("questionnaire")
        try:
            administration = record_administration(
                user=ctx.user, person=person, instrument_id=scored.instrument.id, answers=result.answers,
                administered_on=administered_on, mode=Mode.FHIR, source_identifier=source_identifier(resource),
                questionnaire_url=questionnaire.split("|", 1)[0] if isinstance(questionnaire, str) else "",
                channel=ctx.channel, declared_total=extracted.declared_total, source_resource=resource,
                authorization=(relationship, event),
            )
        except DuplicateSubmission as exc:
            existing = f" as QuestionnaireResponse/{exc.existing.fhir_id}" if exc.existing is not None else ""
            raise FhirError(409, "duplicate", f"{exc}{existing}; nothing was stored",
                            expression=["QuestionnaireResponse.identifier"]) from None
        except ScoringError as exc:
            raise _unprocessable("value", str(exc)) from None
        ctx.warnings.extend(warnings)
        return (questionnaire_response_resource(administration, person),
                observation_resources(administration, administration.observations.all(), person))

    # Bulk exchange (`helhet import` / `helhet export`): see helhet/assessment/bulk_import.py.

    def import_batch(self, ictx: Any, items: list[Any]) -> None:
        from helhet.assessment.bulk_import import import_questionnaire_responses

        import_questionnaire_responses(self, ictx, items)

    def prepare_import(self, resource: dict[str, Any]) -> Any:
        """Scoring ahead, in an import worker process (no database): see bulk_import.prepare_response."""
        from helhet.assessment.bulk_import import prepare_response

        return prepare_response(resource)

    def export_resources(self, persons: QuerySet[Person]) -> Any:
        from helhet.assessment.bulk_import import export_questionnaire_responses

        return export_questionnaire_responses(persons)


# ---------------------------------------------------------------------------
# Observation


def _code_index() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(system, code) → [(instrument id, part)] for every published Observation code."""
    index: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for instrument in default_library():
        scoring = instrument.scoring
        entries: list[tuple[str, str, str | None]] = []  # (part, fhir part, loinc)
        if scoring.method != "none":
            entries.append((TOTAL_PART, _fhir_part(instrument, TOTAL_PART), scoring.total_loinc))
        elif scoring.flags:
            entries.append((FLAGS_PART, FLAGS_PART, None))
        entries.extend((d.code, d.code, d.loinc) for d in scoring.derived)
        for part, fhir_part, loinc in entries:
            index.setdefault((SCORE_SYSTEM, f"{instrument.id}-{fhir_part}"), []).append((instrument.id, part))
            if loinc:
                index.setdefault((LOINC_SYSTEM, loinc), []).append((instrument.id, part))
    return index


_CODES = _code_index()


def _code_filter(tokens: list[str]) -> Q:
    condition = Q()
    for token in tokens:
        system, sep, code = token.rpartition("|")
        matches = [pair for (sys, c), pairs in _CODES.items() for pair in pairs
                   if c == code and (not sep or sys == system)]
        either = Q(pk__in=[])
        for instrument_id, part in matches:
            either |= Q(instrument_id=instrument_id, part=part)
        condition &= either
    return condition


@register
class ObservationHandler(ResourceHandler):
    resource_type = "Observation"
    search_params = {"patient": "reference", "subject": "reference", "code": "token", "date": "date",
                     "category": "token", "derived-from": "reference", "_id": "token"}

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        match = _OBS_ID.match(resource_id)
        row = (ScoreObservation.objects.select_related("administration", "person")
               .filter(pk=int(match.group(1)), fhir_resource=True).first() if match else None)
        if row is None:
            raise not_found("Observation", resource_id)
        person, _rel = open_person(ctx.user, row.person, resource=f"Observation/{resource_id}", channel=ctx.channel)
        return next(o for o in observation_resources(row.administration, [row], person) if o["id"] == resource_id)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        _check_params(self, params)
        rows: QuerySet[ScoreObservation] = ScoreObservation.objects.filter(
            fhir_resource=True, person__in=visible_persons(ctx.user),
        ).select_related("administration", "person").order_by("-effective", "-pk")
        for value in params.get("patient", []) + params.get("subject", []):
            rows = rows.filter(person__pid=_pid_from_reference(value, "patient"))
        for token in params.get("category", []):
            system, sep, code = token.rpartition("|")
            if code != "survey" or (sep and system not in ("", CATEGORY_SYSTEM)):
                rows = rows.none()  # every Observation here is a survey score
        if params.get("code"):
            rows = rows.filter(_code_filter(params["code"]))
        for value in params.get("derived-from", []):
            match = _QR_ID.match(value.rpartition("/")[2])
            rows = rows.filter(administration_id=int(match.group(1))) if match else rows.none()
        for value in params.get("_id", []):
            match = _OBS_ID.match(value)
            rows = rows.filter(pk=int(match.group(1))) if match else rows.none()
        rows = rows.filter(_date_filter("effective", params.get("date", []), "date"))
        page, total = paginate(rows, offset=offset, count=count)
        if page:
            audit_person_list(ctx.user, sorted({r.person.pid for r in page}), channel=ctx.channel,
                              resource="Observation search")
        resources: list[dict[str, Any]] = []
        for row in page:
            resources.extend(o for o in observation_resources(row.administration, [row], row.person)
                             if o["id"] == row.fhir_id)
        return SearchResult(resources, total)
