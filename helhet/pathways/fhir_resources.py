"""FHIR R4 resources for care pathways, everything the pathway timeline shows:

- EpisodeOfCare: episodes of care;
- ServiceRequest: referrals, their assessment (status, dates, rejection reason, pakkeforløp type in `code`)
  and the pakkeforløp clinical decisions (extension `clinical-decision`, at most two);
- Encounter: contacts and admissions/discharges, and, told apart by `Encounter.type` in
  `urn:helhet:encounter-type`, responsibility-group meetings, next-of-kin contacts and evaluation points;
- CarePlan (category individual-plan): the individual plan (IP);
- CareTeam: the responsibility group and the coordinator.

Each handler reads, searches (patient, status, date, identifier, _id) and creates, and imports
whole batches for bulk exchange (`helhet.fhir.bulk`). Incoming resources are validated against
the fhir.resources R4B models, then against the pathway rules, which are the `check_*` functions of
`helhet.pathways.services` (one copy, shared with the forms). Create and import write the record
as exchanged rather than calling the form services, whose workflow side effects (a waiting-list
episode for a new referral, the end of the previous coordinator, a group established by its first
meeting) are already part of the exchanged history. Records are matched on their identifier, so
sending the same resource twice changes nothing. Units are logical references:
`{"identifier": {"system": "urn:helhet:unit", "value": <unit code>}}`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import transaction
from django.db.models import CharField, Choices, Model, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import translation
from fhir.resources.R4B.careplan import CarePlan as CarePlanModel
from fhir.resources.R4B.careteam import CareTeam as CareTeamModel
from fhir.resources.R4B.encounter import Encounter as EncounterModel
from fhir.resources.R4B.episodeofcare import EpisodeOfCare as EpisodeOfCareModel
from fhir.resources.R4B.servicerequest import ServiceRequest as ServiceRequestModel

from helhet.accounts.access import audit_person_list, open_person, visible_persons
from helhet.fhir import bulk
from helhet.fhir.bulk import (
    EXTENSION,
    ImportContext,
    ImportItem,
    Rejected,
    any_of,
    coding_code,
    extension_value,
    insert_rows,
    invalid_resource,
    parse_date,
    record_key,
    unit_code,
    unit_reference,
    validate_r4b,
)
from helhet.fhir.errors import FhirError, invalid, not_found
from helhet.fhir.registry import FhirContext, ResourceHandler, SearchResult, paginate, register
from helhet.pathways import services as rules
from helhet.pathways.models import (
    ClinicalDecision,
    ContactMode,
    Coordinator,
    Encounter,
    EncounterKind,
    EpisodeOfCare,
    EpisodeStatus,
    EvaluationPoint,
    HousingStatus,
    IndividualPlan,
    NextOfKinContact,
    PathwayDecision,
    PathwayType,
    PlanStatus,
    Referral,
    ReferralStatus,
    ResponsibilityGroup,
    ResponsibilityGroupMeeting,
)
from helhet.pathways.services import PathwayError
from helhet.persons.models import Person

assert bulk.BUNDLE_PROCESSOR  # importing bulk registers the transaction processor for POST /fhir

IDENTIFIER_SYSTEM = "urn:helhet:"  # + episode-of-care, referral, encounter, individual-plan, ...
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"
CONTACT_MODE_SYSTEM = "urn:helhet:contact-mode"
HOUSING_SYSTEM = "urn:helhet:housing-status"
PATHWAY_TYPE_SYSTEM = "urn:helhet:pathway-type"  # pakkeforløp D01, D11, D12
CARE_PLAN_CATEGORY = "urn:helhet:care-plan-category"
CARE_TEAM_CATEGORY = "urn:helhet:care-team-category"
ENCOUNTER_TYPE = "urn:helhet:encounter-type"  # the kinds of Encounter beyond contacts and admissions
CLINICAL_DECISION_SYSTEM = "urn:helhet:clinical-decision"  # pakkeforløp clinical decisions
GROUP_MEETING, NEXT_OF_KIN_CONTACT, EVALUATION_POINT = ("responsibility-group-meeting", "next-of-kin-contact",
                                                        "evaluation-point")
V3_ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
INDIVIDUAL_PLAN = "individual-plan"
RESPONSIBILITY_GROUP, COORDINATOR = "responsibility-group", "coordinator"
# Encounter.class (v3 ActCode) for each contact mode; an admission is IMP (inpatient encounter).
MODE_CLASS = {ContactMode.FACE_TO_FACE: "AMB", ContactMode.HOME_VISIT: "HH", ContactMode.PHONE: "VR",
              ContactMode.VIDEO: "VR", ContactMode.SMS: "VR"}
DATE_PREFIXES = {"eq": "", "gt": "__gt", "lt": "__lt", "ge": "__gte", "le": "__lte", "sa": "__gt", "eb": "__lt"}


@dataclass
class Row:
    """One incoming resource, parsed into model fields before the batch checks."""

    item: ImportItem
    pid: str
    key: Any  # what matches an existing record: the identifier, or a natural key
    fields: dict[str, Any]
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)  # model field -> ("pk"|"identifier", value)
    adopt_unit: int | None = None
    person: Person | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what is not a column: child records, the unit's code


@contextmanager
def refused_as(where: str = "") -> Iterator[None]:
    """A pathway rule's refusal (`services.PathwayError`) as the import's rejection of the resource."""
    try:
        yield
    except PathwayError as exc:
        raise Rejected(f"{where}: {exc.message}" if where else exc.message, code="business-rule") from None


def each_row(rows: list[Row], where: str, rule: Callable[[Row], None]) -> None:
    """A pathway rule applied to each row of a batch: a refusal rejects that row alone."""
    for row in rows:
        try:
            with refused_as(where):
                rule(row)
        except Rejected as exc:
            row.item.reject(exc)


def not_future(day: dt.date | None, where: str, ictx: ImportContext) -> None:
    try:  # as `refused_as(where)`, without a context manager per call: a batch checks thousands of dates
        rules.check_not_future(day, None, "date", today=ictx.today)
    except PathwayError as exc:
        raise Rejected(f"{where}: {exc.message}" if where else exc.message, code="business-rule") from None


def in_order(start: dt.date, end: dt.date | None, message: str) -> None:
    try:  # (as above)
        rules.check_in_order(start, end, None, message)
    except PathwayError as exc:
        raise Rejected(exc.message, code="business-rule") from None


def _pid_param(value: str) -> str:
    reference = value.rstrip("/")
    kind, sep, pid = reference.rpartition("/")
    if sep and not kind.endswith("Patient"):
        raise invalid(f"patient: {value!r} is not a Patient reference")
    return pid if sep else reference


def date_condition(field_name: str, values: Iterable[str]) -> Q:
    condition = Q()
    for value in values:
        has_prefix = value[:2] in DATE_PREFIXES or value[:2] == "ne"
        prefix, raw = (value[:2], value[2:]) if has_prefix else ("eq", value)
        try:
            day = dt.date.fromisoformat(raw[:10])
        except ValueError:
            raise invalid(f"date: {value!r} is not a date (YYYY-MM-DD, optionally prefixed ge, le, gt, lt)") from None
        condition &= ~Q(**{field_name: day}) if prefix == "ne" else Q(**{field_name + DATE_PREFIXES[prefix]: day})
    return condition


def _identifier(system: str, value: str) -> list[dict[str, str]]:
    return [{"system": IDENTIFIER_SYSTEM + system, "value": value}] if value else []


def _patient(person: Person) -> dict[str, str]:
    return {"reference": f"Patient/{person.pid}"}


def _period(start: dt.date | None, end: dt.date | None) -> dict[str, str]:
    period = {"start": start.isoformat()} if start else {}
    if end:
        period["end"] = end.isoformat()
    return period


def _extension(name: str, kind: str, value: Any) -> list[dict[str, Any]]:
    return [] if value in (None, "") else [{"url": EXTENSION + name, kind: value}]


class PathwayHandler(ResourceHandler):
    """Read, search, create and batch import for one pathway model behind one FHIR resource type."""

    model: ClassVar[type[Model]]
    r4b: ClassVar[Any]
    identifier_system: ClassVar[str] = ""
    date_field: ClassVar[str] = "start_date"
    id_prefix: ClassVar[str] = ""
    kind_code: ClassVar[str] = ""  # the code that tells this part of a shared resource type apart (PartedHandler)
    related: ClassVar[tuple[str, ...]] = ("person",)
    person_path: ClassVar[str] = "person"  # the lookup from the model to its Person
    # model field -> (model referred to, where in the resource), for references resolved by `_resolve_refs`
    ref_models: ClassVar[dict[str, tuple[type[Model], str]]] = {}
    search_params = {"patient": "reference", "status": "token", "date": "date", "identifier": "token",
                     "_id": "token"}

    # Mapping, per resource type --------------------------------------------------------------------------

    def to_resource(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        raise NotImplementedError

    def status_condition(self, status: str) -> Q:
        return Q(status=status)

    def check(self, ictx: ImportContext, rows: list[Row], existing: dict[Any, Any]) -> None:
        """Rules that need the database or the whole batch (overlaps); reject rows by `row.item.reject`."""

    def after_write(self, rows: list[tuple[Row, int, str]]) -> dict[int, str]:
        """Write what belongs to the written records (row, pk, outcome); item index -> outcome where it changed."""
        return {}

    # Shared machinery ------------------------------------------------------------------------------------

    def person_of(self, obj: Any) -> Person:
        return obj.person  # type: ignore[no-any-return]

    def person_id_of(self, obj: Any) -> int:
        return obj.person_id  # type: ignore[no-any-return]

    def queryset(self) -> QuerySet[Any]:
        return self.model._default_manager.select_related(*self.related)  # type: ignore[attr-defined,no-any-return]

    def fhir_id(self, obj: Any) -> str:
        return f"{self.id_prefix}{obj.pk}"

    def pk_of(self, resource_id: str) -> int | None:
        if not resource_id.startswith(self.id_prefix):
            return None
        rest = resource_id[len(self.id_prefix):]
        return int(rest) if rest.isdigit() else None

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        pk = self.pk_of(resource_id)
        obj = self.queryset().filter(pk=pk).first() if pk is not None else None
        if obj is None:
            raise not_found(self.resource_type, resource_id)
        open_person(ctx.user, self.person_of(obj), resource=f"{self.resource_type}/{resource_id}",
                    channel=ctx.channel)
        return self.to_resource(obj)

    def filtered(self, ctx: FhirContext, params: dict[str, list[str]]) -> QuerySet[Any]:
        unknown = set(params) - set(self.search_params)
        if unknown:
            raise invalid(f"unknown search parameter(s) {', '.join(sorted(unknown))}; "
                          f"supported: {', '.join(self.search_params)}")
        found = self.queryset().filter(**{f"{self.person_path}__in": visible_persons(ctx.user)}).order_by("pk")
        for value in params.get("patient", []):
            found = found.filter(**{f"{self.person_path}__pid": _pid_param(value)})
        for value in params.get("status", []):
            condition = Q()
            for status in value.split(","):
                condition |= self.status_condition(status.strip())
            found = found.filter(condition)
        found = found.filter(date_condition(self.date_field, params.get("date", [])))
        for value in params.get("identifier", []):
            found = found.filter(identifier=value.rpartition("|")[2])
        for value in params.get("_id", []):
            pk = self.pk_of(value)
            found = found.filter(pk=pk) if pk is not None else found.none()
        return found

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        page, total = paginate(self.filtered(ctx, params), offset=offset, count=count)
        if page:
            audit_person_list(ctx.user, sorted({self.person_of(obj).pid for obj in page}), channel=ctx.channel,
                              resource=f"{self.resource_type} search")
        return SearchResult([self.to_resource(obj) for obj in page], total)

    def create(self, ctx: FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ictx = ImportContext(user=ctx.user, channel=ctx.channel, api=True)
        # A create makes a new record: the server assigns the id and ignores one the client sent (FHIR RESTful
        # API, create), so a client's id never stands in for an identifier and never matches a stored record.
        item = ImportItem(index=1, resource={key: value for key, value in resource.items() if key != "id"})
        with transaction.atomic():
            self.import_batch(ictx, [item])
            if item.outcome == "rejected":
                raise FhirError(item.status, item.code, item.message)
            ictx.audit(detail={"interaction": "create"})
        pk = self.pk_of(item.location.split("/", 1)[1])
        return self.to_resource(self.queryset().get(pk=pk)), []

    def existing(self, rows: list[Row]) -> dict[Any, Any]:
        keys = [row.key for row in rows if row.key]
        return {obj.identifier: obj for obj in self.model._default_manager.filter(  # type: ignore[attr-defined]
            any_of(self.model, "identifier", keys))}

    def new_row(self, row: Row) -> dict[str, Any]:
        """The columns of a new record (attnames), for `bulk.insert_rows`."""
        assert row.person is not None
        return {"person_id": row.person.pk, "identifier": row.key, **row.fields}

    def import_batch(self, ictx: ImportContext, items: list[ImportItem]) -> None:
        # The rules' messages in English, as every other FHIR diagnostic (pages show them translated).
        with translation.override("en"):
            self._import_batch(ictx, items)

    def _import_batch(self, ictx: ImportContext, items: list[ImportItem]) -> None:
        rows: list[Row] = []
        for item in items:
            try:
                if not item.validated:
                    validate_r4b(item.resource, self.r4b)
                rows.append(self.parse(ictx, item))
            except Rejected as exc:
                item.reject(exc)
        persons = ictx.persons([(row.item, row.pid) for row in rows],
                               adopt_unit={row.item.index: row.adopt_unit for row in rows if row.adopt_unit})
        rows = [row for row in rows if not row.item.outcome]
        for row in rows:
            row.person = persons[row.pid]
        self._resolve_refs(rows)
        rows = [row for row in rows if not row.item.outcome]
        existing = self.existing(rows)
        self.check(ictx, rows, existing)
        to_create: list[Row] = []
        to_update: dict[int, Any] = {}
        changed_fields: set[str] = set()
        seen: dict[Any, Row] = {}
        done: list[tuple[Row, int, str]] = []
        repeated: list[tuple[Row, Row]] = []  # the same resource twice in a batch: (again, first)
        for row in rows:
            if row.item.outcome:
                continue
            if row.key in seen:
                first = seen[row.key]
                if first.fields == row.fields and first.pid == row.pid and first.extra == row.extra:
                    row.item.done("skipped", "")
                    repeated.append((row, first))
                else:
                    row.item.reject(Rejected(f"identifier {row.key!r} appears twice with different content"))
                continue
            seen[row.key] = row
            obj = existing.get(row.key)
            if obj is None:
                to_create.append(row)
                continue
            assert row.person is not None
            if self.person_id_of(obj) != row.person.pk:
                row.item.reject(Rejected(f"identifier {row.key!r} belongs to a record of another person",
                                         code="conflict", status=409))
                continue
            changes = {name: value for name, value in row.fields.items() if getattr(obj, name) != value}
            for name, value in changes.items():
                setattr(obj, name, value)
            if changes:
                to_update[obj.pk] = obj
                changed_fields |= set(changes)
            done.append((row, obj.pk, "updated" if changes else "skipped"))
        if to_update:
            self.model._default_manager.bulk_update(  # type: ignore[attr-defined]
                list(to_update.values()), sorted(changed_fields))
        created = insert_rows(self.model, [self.new_row(row) for row in to_create])
        done.extend((row, pk, "created") for row, pk in zip(to_create, created, strict=True))
        changed = self.after_write(done)
        for row, pk, outcome in done:
            row.item.done(changed.get(row.item.index, outcome), f"{self.resource_type}/{self.id_prefix}{pk}")
        for row, first in repeated:
            row.item.done("skipped", first.item.location)
        for row in [*(row for row, _pk, _outcome in done), *(again for again, _first in repeated)]:
            if row.item.full_url:
                ictx.urns[row.item.full_url] = row.item.location
            ictx.touched.add(row.pid)

    def _resolve_refs(self, rows: list[Row]) -> None:
        """References to other records of the same person (an episode of care, a group), by id or identifier."""
        for name, (model, where) in self.ref_models.items():
            wanted = [(row, row.refs[name]) for row in rows if name in row.refs]
            if not wanted:
                continue
            pks = [int(v) for _r, (k, v) in wanted if k == "pk" and v.isdigit()]
            identifiers = [v for _r, (k, v) in wanted if k == "identifier"]
            # (pk, person id) of each record, by its id and by its identifier
            manager = model._default_manager
            by_pk = {str(pk): (pk, person_id) for pk, person_id in manager.filter(
                pk__in=pks).values_list("pk", "person_id")} if pks else {}
            by_identifier = {identifier: (pk, person_id) for pk, identifier, person_id in manager.filter(
                any_of(model, "identifier", identifiers)).values_list("pk", "identifier", "person_id")
            } if identifiers else {}
            for row, (kind, value) in wanted:
                record = (by_pk if kind == "pk" else by_identifier).get(value)
                assert row.person is not None
                if record is None or record[1] != row.person.pk:
                    row.item.reject(Rejected(f"{where}: {model.__name__} {value!r} is not known for this patient",
                                             code="not-found"))
                    continue
                row.fields[name] = record[0]

    def assign_identifiers(self, persons: QuerySet[Person]) -> None:
        """Records without an exchange identifier get one (stable ids for what refers to them)."""
        if "identifier" in {f.name for f in self.model._meta.get_fields()}:
            prefix = f"{uuid.uuid4().hex[:12]}-"  # unique to this export, so never colliding with another system's
            self.model._default_manager.filter(  # type: ignore[attr-defined]
                identifier="", **{f"{self.person_path}__in": persons}).update(
                identifier=Concat(Value(prefix), Cast("pk", output_field=CharField())))

    def export_resources(self, persons: QuerySet[Person]) -> Iterator[dict[str, Any]]:
        """Every record of these persons, with an exchange identifier."""
        self.assign_identifiers(persons)
        for obj in self.queryset().filter(**{f"{self.person_path}__in": persons}).order_by("pk").iterator(
                chunk_size=2000):
            yield self.to_resource(obj)


@functools.cache
def _codes(choices: type[Choices]) -> tuple[str, ...]:
    """The codes of a choices class (`Choices.values` builds a new list on every access)."""
    return tuple(choices.values)


def _status_code(value: Any, allowed: Iterable[str], where: str) -> str:
    if value not in allowed:
        raise Rejected(f"{where}: {value!r} is not supported here; use one of {', '.join(allowed)}", code="value")
    return str(value)


@functools.cache
def _english(label: Any) -> str:
    """A choice's label as the display of a coding: in English, whatever the language of the request."""
    with translation.override("en"):
        return str(label)


def _text(value: Any, limit: int) -> str:
    return str(value or "").strip()[:limit]


# EpisodeOfCare -------------------------------------------------------------------------------------------


@register
class EpisodeOfCareHandler(PathwayHandler):
    """A period in which a unit is responsible for the person: the care relationship itself."""

    resource_type = "EpisodeOfCare"
    model = EpisodeOfCare
    r4b = EpisodeOfCareModel
    related = ("person", "unit")

    def to_resource(self, obj: EpisodeOfCare) -> dict[str, Any]:
        return {
            "resourceType": "EpisodeOfCare", "id": self.fhir_id(obj),
            "identifier": _identifier("episode-of-care", obj.identifier),
            "status": obj.status, "patient": _patient(obj.person),
            "managingOrganization": unit_reference(obj.unit), "period": _period(obj.start_date, obj.end_date),
        }

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        status = _status_code(resource.get("status"), _codes(EpisodeStatus), "EpisodeOfCare.status")
        pid = ictx.patient_pid(resource.get("patient"), "EpisodeOfCare.patient")
        unit = ictx.unit(unit_code(resource.get("managingOrganization"), "EpisodeOfCare.managingOrganization"),
                         "EpisodeOfCare.managingOrganization")
        period = resource.get("period") or {}
        start = parse_date(period.get("start"), "EpisodeOfCare.period.start")
        end = parse_date(period["end"], "EpisodeOfCare.period.end") if period.get("end") else None
        if status != EpisodeStatus.PLANNED:
            not_future(start, "EpisodeOfCare.period.start", ictx)
        if end is not None and end > ictx.today and status in (EpisodeStatus.FINISHED, EpisodeStatus.CANCELLED):
            raise Rejected(f"a {status} episode cannot end in the future ({end.isoformat()})", code="value")
        in_order(start, end, "EpisodeOfCare.period.end is before its start")
        return Row(item=item, pid=pid, key=record_key(resource), adopt_unit=unit.pk,
                   fields={"unit_id": unit.pk, "status": status, "start_date": start, "end_date": end})


# ServiceRequest (referral) -------------------------------------------------------------------------------

REFERRAL_FHIR_STATUS = {ReferralStatus.SENT: "active", ReferralStatus.RECEIVED: "active",
                        ReferralStatus.ACCEPTED: "active", ReferralStatus.REJECTED: "revoked",
                        ReferralStatus.WITHDRAWN: "revoked"}
FHIR_REFERRAL_STATUS = {"active": ReferralStatus.SENT, "completed": ReferralStatus.ACCEPTED,
                        "revoked": ReferralStatus.WITHDRAWN}


def _decision_extension(decision: PathwayDecision) -> dict[str, Any]:
    return {"url": EXTENSION + "clinical-decision", "extension": [
        {"url": "date", "valueDate": decision.decided_on.isoformat()},
        {"url": "decision", "valueCoding": {"system": CLINICAL_DECISION_SYSTEM, "code": decision.decision,
                                            "display": _english(ClinicalDecision(decision.decision).label)}}]}


def _decisions(resource: dict[str, Any]) -> list[tuple[dt.date, str]]:
    """The clinical decisions of a ServiceRequest (extension clinical-decision: date and decision), by date
    (decisions of one day in the order given)."""
    found = []
    for ext in resource.get("extension") or []:
        if not isinstance(ext, dict) or ext.get("url") != EXTENSION + "clinical-decision":
            continue
        parts = {part.get("url"): part for part in ext.get("extension") or [] if isinstance(part, dict)}
        day = parse_date((parts.get("date") or {}).get("valueDate"), "clinical-decision.date")
        code = ((parts.get("decision") or {}).get("valueCoding") or {}).get("code")
        if not code:
            raise invalid_resource(f"clinical-decision.decision needs a valueCoding ({CLINICAL_DECISION_SYSTEM})")
        found.append((day, str(code)))
    return sorted(found, key=lambda decision: decision[0])


@register
class ServiceRequestHandler(PathwayHandler):
    """A referral (henvisning): sent, received, assessed, accepted or rejected with a reason, its clinical decisions."""

    resource_type = "ServiceRequest"
    model = Referral
    r4b = ServiceRequestModel
    date_field = "sent_date"
    related = ("person", "from_unit", "to_unit")

    def queryset(self) -> QuerySet[Any]:
        return super().queryset().prefetch_related(
            Prefetch("decisions", queryset=PathwayDecision.objects.order_by("decided_on", "pk")))

    def status_condition(self, status: str) -> Q:
        fhir = [code for code, value in REFERRAL_FHIR_STATUS.items() if value == status]
        return Q(status__in=fhir) if fhir else Q(status=status)  # FHIR status, or the referral's own

    def to_resource(self, obj: Referral) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest", "id": self.fhir_id(obj),
            "identifier": _identifier("referral", obj.identifier),
            "status": REFERRAL_FHIR_STATUS[ReferralStatus(obj.status)], "intent": "order",
            "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}],
            "subject": _patient(obj.person), "authoredOn": obj.sent_date.isoformat(),
            "requester": unit_reference(obj.from_unit) if obj.from_unit else {"display": obj.from_description},
            "performer": [unit_reference(obj.to_unit)],
            "extension": [
                *_extension("referral-status", "valueCode", obj.status),
                *_extension("received-date", "valueDate", obj.received_date.isoformat() if obj.received_date
                            else None),
                *_extension("assessed-date", "valueDate", obj.assessed_date.isoformat() if obj.assessed_date
                            else None),
                *_extension("rejection-reason", "valueCode", obj.rejection_reason),
                *_extension("rejection-note", "valueString", obj.rejection_note),
                *(_decision_extension(decision) for decision in obj.decisions.all()),
            ],
        }
        if obj.pathway_type:
            resource["code"] = {"coding": [{"system": PATHWAY_TYPE_SYSTEM, "code": obj.pathway_type}]}
        return resource

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        status = extension_value(resource, "referral-status", "valueCode") or FHIR_REFERRAL_STATUS.get(
            resource.get("status", ""))
        status = _status_code(status, _codes(ReferralStatus), "ServiceRequest referral status")
        pid = ictx.patient_pid(resource.get("subject"), "ServiceRequest.subject")
        performers = resource.get("performer") or []
        if not performers:
            raise invalid_resource("ServiceRequest.performer must name the receiving unit")
        to_unit = ictx.unit(unit_code(performers[0], "ServiceRequest.performer"), "ServiceRequest.performer")
        requester = resource.get("requester") or {}
        from_unit_id, from_description = None, ""
        if requester.get("identifier") or str(requester.get("reference", "")).startswith("Organization/"):
            from_unit_id = ictx.unit(unit_code(requester, "ServiceRequest.requester"), "ServiceRequest.requester").pk
        elif requester.get("display"):
            from_description = _text(requester["display"], 100)
        else:
            raise invalid_resource("ServiceRequest.requester must be a unit or describe the sender (display)")
        sent = parse_date(resource.get("authoredOn"), "ServiceRequest.authoredOn")
        received_raw = extension_value(resource, "received-date", "valueDate")
        assessed_raw = extension_value(resource, "assessed-date", "valueDate")
        received = parse_date(received_raw, "received-date") if received_raw else None
        assessed = parse_date(assessed_raw, "assessed-date") if assessed_raw else None
        for day, where in ((sent, "ServiceRequest.authoredOn"), (received, "received-date"),
                           (assessed, "assessed-date")):
            not_future(day, where, ictx)
        reason = extension_value(resource, "rejection-reason", "valueCode") or ""
        note = _text(extension_value(resource, "rejection-note", "valueString"), 300)
        pathway = coding_code(resource.get("code"), PATHWAY_TYPE_SYSTEM) or ""
        decisions = _decisions(resource)
        with refused_as():
            rules.check_referral_units(from_unit_id, to_unit.pk)
            if received is not None:
                rules.check_received(sent, received)
            if assessed is not None:
                rules.check_assessed(received or sent, assessed)
            if status == ReferralStatus.REJECTED:
                rules.check_rejection(reason, note)
            if pathway:
                rules.check_choice(pathway, PathwayType, None, "pakkeforløp type (ServiceRequest.code)")
            rules.check_decisions(status=status, pathway_type=pathway, assessed_date=assessed, decisions=decisions,
                                  today=ictx.today)
        return Row(item=item, pid=pid, key=record_key(resource), fields={
            "from_unit_id": from_unit_id, "from_description": from_description, "to_unit_id": to_unit.pk,
            "status": status, "sent_date": sent, "received_date": received, "assessed_date": assessed,
            "rejection_reason": reason, "rejection_note": note, "pathway_type": pathway},
            extra={"decisions": decisions})

    def after_write(self, rows: list[tuple[Row, int, str]]) -> dict[int, str]:
        """The referral's clinical decisions become exactly those of the resource."""
        stored: dict[int, list[tuple[dt.date, str]]] = {}
        known = [pk for _row, pk, outcome in rows if outcome != "created"]
        for referral_id, day, decision in PathwayDecision.objects.filter(referral_id__in=known).order_by(
                "decided_on", "pk").values_list("referral_id", "decided_on", "decision"):
            stored.setdefault(referral_id, []).append((day, decision))
        replace = [(row, pk, outcome) for row, pk, outcome in rows if stored.get(pk, []) != row.extra["decisions"]]
        if not replace:
            return {}
        PathwayDecision.objects.filter(referral_id__in=[pk for _row, pk, _o in replace if pk in stored]).delete()
        insert_rows(PathwayDecision, [{"referral_id": pk, "decided_on": day, "decision": decision}
                                      for row, pk, _outcome in replace for day, decision in row.extra["decisions"]])
        return {row.item.index: "updated" for row, _pk, outcome in replace if outcome == "skipped"}


# Encounter (admission, discharge, contact) ----------------------------------------------------------------


class ContactPart(PathwayHandler):
    """A contact (class AMB / HH / VR) or an admission (class IMP) whose period ends at discharge."""

    resource_type = "Encounter"
    model = Encounter
    r4b = EncounterModel
    related = ("person", "unit", "episode")
    ref_models = {"episode_id": (EpisodeOfCare, "Encounter.episodeOfCare")}

    def status_condition(self, status: str) -> Q:
        if status == "in-progress":
            return Q(kind=EncounterKind.ADMISSION, end_date__isnull=True)
        if status == "finished":
            return Q(kind=EncounterKind.CONTACT) | Q(end_date__isnull=False)
        return Q(pk__in=[])

    def to_resource(self, obj: Encounter) -> dict[str, Any]:
        admission = obj.kind == EncounterKind.ADMISSION
        resource: dict[str, Any] = {
            "resourceType": "Encounter", "id": self.fhir_id(obj),
            "identifier": _identifier("encounter", obj.identifier),
            "status": "in-progress" if admission and obj.end_date is None else "finished",
            "class": {"system": ACT_CODE, "code": "IMP" if admission else MODE_CLASS[ContactMode(obj.mode)]},
            "type": [{"coding": [{"system": CONTACT_MODE_SYSTEM, "code": obj.mode}]}],
            "subject": _patient(obj.person), "serviceProvider": unit_reference(obj.unit),
            "period": _period(obj.start_date, obj.end_date),
            "extension": _extension("staff-count", "valueInteger", obj.staff_count),
        }
        if obj.episode is not None:
            resource["episodeOfCare"] = [_episode_reference(obj.episode)]
        if obj.minutes is not None:
            resource["length"] = {"value": obj.minutes, "unit": "min", "system": "http://unitsofmeasure.org",
                                  "code": "min"}
        if obj.housing_at_discharge:
            resource["hospitalization"] = {"dischargeDisposition": {"coding": [
                {"system": HOUSING_SYSTEM, "code": obj.housing_at_discharge}]}}
        return resource

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        _status_code(resource.get("status"), ("in-progress", "onleave", "finished"), "Encounter.status")
        klass = (resource.get("class") or {}).get("code")
        kind = EncounterKind.ADMISSION if klass == "IMP" else EncounterKind.CONTACT
        pid = ictx.patient_pid(resource.get("subject"), "Encounter.subject")
        unit = ictx.unit(unit_code(resource.get("serviceProvider"), "Encounter.serviceProvider"),
                         "Encounter.serviceProvider")
        period = resource.get("period") or {}
        start = parse_date(period.get("start"), "Encounter.period.start")
        end = parse_date(period["end"], "Encounter.period.end") if period.get("end") else None
        not_future(start, "Encounter.period.start", ictx)
        mode = coding_code(resource.get("type"), CONTACT_MODE_SYSTEM) or {
            "HH": ContactMode.HOME_VISIT, "VR": ContactMode.VIDEO}.get(str(klass), ContactMode.FACE_TO_FACE)
        staff = extension_value(resource, "staff-count", "valueInteger") or 1
        length = (resource.get("length") or {}).get("value")
        minutes = int(length) if length is not None else None
        housing = coding_code((resource.get("hospitalization") or {}).get("dischargeDisposition"),
                              HOUSING_SYSTEM) or ""
        with refused_as("Encounter.serviceProvider"):
            if kind == EncounterKind.ADMISSION:
                rules.check_inpatient(unit)
        with refused_as():
            if kind == EncounterKind.ADMISSION and end is not None:
                rules.check_discharge(start, end, today=ictx.today)
            else:
                rules.check_not_future(end, None, "end date", today=ictx.today)
                rules.check_in_order(start, end, None, "Encounter.period.end is before its start")
            rules.check_contact(mode, int(staff), minutes)
            if housing:
                rules.check_choice(housing, HousingStatus, None, "housing at discharge")
        refs: dict[str, tuple[str, str]] = {}
        episodes = resource.get("episodeOfCare") or []
        fields: dict[str, Any] = {"unit_id": unit.pk, "kind": kind, "mode": mode, "start_date": start,
                                  "end_date": end, "staff_count": int(staff), "minutes": minutes,
                                  "housing_at_discharge": housing, "episode_id": None}
        if episodes:
            ref = ictx.local_reference(episodes[0], "EpisodeOfCare", "Encounter.episodeOfCare")
            if ref is not None:
                refs["episode_id"] = ref
        return Row(item=item, pid=pid, key=record_key(resource), fields=fields, refs=refs,
                   extra={"unit": unit.code})

    def check(self, ictx: ImportContext, rows: list[Row], existing: dict[Any, Any]) -> None:
        """Two admissions of one person to the same ward cannot overlap (the same rule as the pathway forms)."""
        admissions = [row for row in rows if row.fields["kind"] == EncounterKind.ADMISSION and not row.item.outcome]
        if not admissions:
            return
        stays: dict[tuple[int, int], list[tuple[str, dt.date, dt.date | None]]] = {}
        for other in Encounter.objects.filter(
                kind=EncounterKind.ADMISSION, person_id__in={row.person.pk for row in admissions if row.person},
                unit_id__in={row.fields["unit_id"] for row in admissions}).values_list(
                "person_id", "unit_id", "identifier", "pk", "start_date", "end_date"):
            person_id, unit_id, identifier, pk, start, end = other
            stays.setdefault((person_id, unit_id), []).append((identifier or f"#{pk}", start, end))
        for row in admissions:
            assert row.person is not None
            place = (row.person.pk, row.fields["unit_id"])
            start, end = row.fields["start_date"], row.fields["end_date"]
            others = [(s, e) for identifier, s, e in stays.get(place, []) if identifier != row.key]  # not itself
            try:
                with refused_as():
                    rules.check_no_overlap(others, start, end, row.extra["unit"])
            except Rejected as exc:
                row.item.reject(exc)
                continue
            stays.setdefault(place, []).append((row.key, start, end))


def _episode_reference(episode: EpisodeOfCare) -> dict[str, Any]:
    reference: dict[str, Any] = {"reference": f"EpisodeOfCare/{episode.pk}"}
    if episode.identifier:
        reference["identifier"] = {"system": IDENTIFIER_SYSTEM + "episode-of-care", "value": episode.identifier}
    return reference


def _typed_encounter(part: PathwayHandler, obj: Any, person: Person, day: dt.date, display: str,
                     identifier: str) -> dict[str, Any]:
    """The common frame of the encounters told apart by their type: a finished, one-day encounter."""
    return {"resourceType": "Encounter", "id": part.fhir_id(obj),
            "identifier": _identifier(part.kind_code, identifier), "status": "finished",
            "class": {"system": ACT_CODE, "code": "AMB"},
            "type": [{"coding": [{"system": ENCOUNTER_TYPE, "code": part.kind_code, "display": display}]}],
            "subject": _patient(person), "period": _period(day, day)}


def _encounter_day(resource: dict[str, Any], ictx: ImportContext) -> dt.date:
    _status_code(resource.get("status"), ("finished",), "Encounter.status")
    day = parse_date((resource.get("period") or {}).get("start"), "Encounter.period.start")
    not_future(day, "Encounter.period.start", ictx)
    return day


class TypedEncounterPart(PathwayHandler):
    """An Encounter told apart by its type (urn:helhet:encounter-type): always finished, on one day."""

    resource_type = "Encounter"
    r4b = EncounterModel

    def status_condition(self, status: str) -> Q:
        return Q() if status == "finished" else Q(pk__in=[])


class GroupMeetingPart(TypedEncounterPart):
    """A responsibility-group (ansvarsgruppe) meeting, with a logical reference to the group's CareTeam."""

    model = ResponsibilityGroupMeeting
    id_prefix = "meeting-"
    kind_code = GROUP_MEETING
    date_field = "held_on"
    related = ("group__person",)
    person_path = "group__person"
    ref_models = {"group_id": (ResponsibilityGroup, "responsibility-group")}

    def person_of(self, obj: Any) -> Person:
        return obj.group.person  # type: ignore[no-any-return]

    def person_id_of(self, obj: Any) -> int:
        return obj.group.person_id  # type: ignore[no-any-return]

    def existing(self, rows: list[Row]) -> dict[Any, Any]:
        keys = [row.key for row in rows if row.key]
        return {obj.identifier: obj for obj in ResponsibilityGroupMeeting.objects.select_related("group").filter(
            identifier__in=keys)} if keys else {}

    def new_row(self, row: Row) -> dict[str, Any]:
        return {"identifier": row.key, **row.fields}

    def export_resources(self, persons: QuerySet[Person]) -> Iterator[dict[str, Any]]:
        ResponsibilityGroupPart().assign_identifiers(persons)  # the meetings refer to their group by it
        yield from super().export_resources(persons)

    def to_resource(self, obj: ResponsibilityGroupMeeting) -> dict[str, Any]:
        resource = _typed_encounter(self, obj, obj.group.person, obj.held_on, "Responsibility group meeting",
                                    obj.identifier)
        group: dict[str, Any] = {"reference": f"CareTeam/{ResponsibilityGroupPart.id_prefix}{obj.group.pk}"}
        if obj.group.identifier:
            group["identifier"] = {"system": IDENTIFIER_SYSTEM + RESPONSIBILITY_GROUP, "value": obj.group.identifier}
        resource["extension"] = [{"url": EXTENSION + "responsibility-group", "valueReference": group},
                                 *_extension("summary", "valueString", obj.summary)]
        return resource

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        pid = ictx.patient_pid(resource.get("subject"), "Encounter.subject")
        day = _encounter_day(resource, ictx)
        reference = extension_value(resource, "responsibility-group", "valueReference")
        if reference is None:
            raise invalid_resource("a responsibility-group meeting needs the extension responsibility-group: a "
                                   "reference to the group's CareTeam")
        ref = ictx.local_reference(reference, "CareTeam", "responsibility-group")
        assert ref is not None
        if ref[0] == "pk":
            ref = ("pk", ref[1].removeprefix(ResponsibilityGroupPart.id_prefix))
        return Row(item=item, pid=pid, key=record_key(resource), refs={"group_id": ref},
                   fields={"held_on": day, "summary": str(extension_value(resource, "summary", "valueString") or "")
                           .strip()})

    def check(self, ictx: ImportContext, rows: list[Row], existing: dict[Any, Any]) -> None:
        established = dict(ResponsibilityGroup.objects.filter(
            pk__in={row.fields["group_id"] for row in rows}).values_list("pk", "established_on"))
        each_row(rows, "Encounter.period.start", lambda row: rules.check_meeting(
            row.fields["held_on"], established.get(row.fields["group_id"])))


class NextOfKinPart(TypedEncounterPart):
    """A contact with the person's next of kin (pårørende): the relation as the participant, the unit as provider."""

    model = NextOfKinContact
    id_prefix = "nok-"
    kind_code = NEXT_OF_KIN_CONTACT
    date_field = "contact_date"
    related = ("person", "unit")

    def to_resource(self, obj: NextOfKinContact) -> dict[str, Any]:
        resource = _typed_encounter(self, obj, obj.person, obj.contact_date, "Next-of-kin contact", obj.identifier)
        resource["participant"] = [{"type": [{"coding": [{"system": V3_ROLE_CLASS, "code": "NOK",
                                                          "display": "next of kin"}]}],
                                    "individual": {"display": obj.relation}}]
        if obj.unit is not None:
            resource["serviceProvider"] = unit_reference(obj.unit)
        if obj.note:
            resource["extension"] = _extension("note", "valueString", obj.note)
        return resource

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        pid = ictx.patient_pid(resource.get("subject"), "Encounter.subject")
        day = _encounter_day(resource, ictx)
        relation = ""
        for participant in resource.get("participant") or []:
            if coding_code(participant.get("type"), V3_ROLE_CLASS) == "NOK":
                relation = _text((participant.get("individual") or {}).get("display"), 60)
        provider = resource.get("serviceProvider")
        unit_id = ictx.unit(unit_code(provider, "Encounter.serviceProvider"), "Encounter.serviceProvider").pk \
            if provider else None
        return Row(item=item, pid=pid, key=record_key(resource), fields={
            "contact_date": day, "relation": relation, "unit_id": unit_id,
            "note": _text(extension_value(resource, "note", "valueString"), 300)})

    def check(self, ictx: ImportContext, rows: list[Row], existing: dict[Any, Any]) -> None:
        """A new contact through the API needs the person's consent, as on the page. A bulk import brings the
        history of another system of record: a contact that took place is imported even if the person has
        withdrawn consent since (an export of ours carries today's consent with last year's contacts)."""
        consent = dict(Person.objects.filter(pk__in={row.person.pk for row in rows if row.person}).values_list(
            "pk", "consent_next_of_kin"))

        def given(row: Row) -> bool:
            assert row.person is not None
            return consent.get(row.person.pk, False) or not ictx.api or row.key in existing

        each_row(rows, "Encounter.participant", lambda row: rules.check_next_of_kin(given(row), row.fields["relation"]))


class EvaluationPart(TypedEncounterPart):
    """An evaluation point: benefit (1-5), status, further needs and whether the plan needs updating."""

    model = EvaluationPoint
    id_prefix = "evaluation-"
    kind_code = EVALUATION_POINT
    date_field = "evaluated_on"
    related = ("person", "episode")
    ref_models = {"episode_id": (EpisodeOfCare, "Encounter.episodeOfCare")}

    def to_resource(self, obj: EvaluationPoint) -> dict[str, Any]:
        resource = _typed_encounter(self, obj, obj.person, obj.evaluated_on, "Evaluation point", obj.identifier)
        if obj.episode is not None:
            resource["episodeOfCare"] = [_episode_reference(obj.episode)]
        resource["extension"] = [*_extension("benefit", "valueInteger", obj.benefit),
                                 *_extension("status-note", "valueString", obj.status_note),
                                 *_extension("further-needs", "valueString", obj.further_needs),
                                 {"url": EXTENSION + "plan-update-needed", "valueBoolean": obj.plan_update_needed}]
        return resource

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        pid = ictx.patient_pid(resource.get("subject"), "Encounter.subject")
        day = _encounter_day(resource, ictx)
        benefit = extension_value(resource, "benefit", "valueInteger")
        with refused_as("benefit"):
            rules.check_evaluation(day, benefit, None)
        refs: dict[str, tuple[str, str]] = {}
        episodes = resource.get("episodeOfCare") or []
        if episodes:
            ref = ictx.local_reference(episodes[0], "EpisodeOfCare", "Encounter.episodeOfCare")
            if ref is not None:
                refs["episode_id"] = ref
        return Row(item=item, pid=pid, key=record_key(resource), refs=refs, fields={
            "evaluated_on": day, "benefit": benefit, "episode_id": None,
            "status_note": _text(extension_value(resource, "status-note", "valueString"), 300),
            "further_needs": _text(extension_value(resource, "further-needs", "valueString"), 300),
            "plan_update_needed": bool(extension_value(resource, "plan-update-needed", "valueBoolean"))})

    def check(self, ictx: ImportContext, rows: list[Row], existing: dict[Any, Any]) -> None:
        starts = dict(EpisodeOfCare.objects.filter(
            pk__in={row.fields["episode_id"] for row in rows if row.fields["episode_id"]}).values_list(
            "pk", "start_date"))
        each_row(rows, "Encounter.period.start", lambda row: rules.check_evaluation(
            row.fields["evaluated_on"], row.fields["benefit"], starts.get(row.fields["episode_id"])))


# CarePlan (individual plan) ------------------------------------------------------------------------------

PLAN_FHIR_STATUS = {PlanStatus.OFFERED: "draft", PlanStatus.DECLINED: "revoked", PlanStatus.ACTIVE: "active",
                    PlanStatus.REVISED: "active"}
FHIR_PLAN_STATUS = {"draft": PlanStatus.OFFERED, "revoked": PlanStatus.DECLINED, "active": PlanStatus.ACTIVE}


@register
class CarePlanHandler(PathwayHandler):
    """Individuell plan (IP): offered, declined, active or revised, and the unit responsible for it."""

    resource_type = "CarePlan"
    category = INDIVIDUAL_PLAN  # the recovery app serves the recovery plan's CarePlan (see registry)
    model = IndividualPlan
    r4b = CarePlanModel
    date_field = "status_date"
    related = ("person", "responsible_unit")

    def status_condition(self, status: str) -> Q:
        fhir = [code for code, value in PLAN_FHIR_STATUS.items() if value == status]
        return Q(status__in=fhir) if fhir else Q(status=status)

    def to_resource(self, obj: IndividualPlan) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "CarePlan", "id": self.fhir_id(obj),
            "identifier": _identifier("individual-plan", obj.identifier),
            "status": PLAN_FHIR_STATUS[PlanStatus(obj.status)], "intent": "plan",
            "category": [{"coding": [{"system": CARE_PLAN_CATEGORY, "code": INDIVIDUAL_PLAN}]}],
            "title": "Individual plan", "subject": _patient(obj.person), "created": obj.status_date.isoformat(),
            "extension": _extension("plan-status", "valueCode", obj.status),
        }
        if obj.responsible_unit is not None:
            resource["author"] = unit_reference(obj.responsible_unit)
        return resource

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        if coding_code(resource.get("category"), CARE_PLAN_CATEGORY) != INDIVIDUAL_PLAN:
            raise Rejected(f"only the individual plan is a CarePlan here (category {CARE_PLAN_CATEGORY}|"
                           f"{INDIVIDUAL_PLAN})", code="not-supported", status=400)
        status = extension_value(resource, "plan-status", "valueCode") or FHIR_PLAN_STATUS.get(
            resource.get("status", ""))
        status = _status_code(status, _codes(PlanStatus), "CarePlan plan-status")
        pid = ictx.patient_pid(resource.get("subject"), "CarePlan.subject")
        day = parse_date(resource.get("created"), "CarePlan.created")
        not_future(day, "CarePlan.created", ictx)
        author = resource.get("author")
        unit_id = ictx.unit(unit_code(author, "CarePlan.author"), "CarePlan.author").pk if author else None
        return Row(item=item, pid=pid, key=record_key(resource),
                   fields={"status": status, "status_date": day, "responsible_unit_id": unit_id})


# CareTeam (responsibility group, coordinator) ------------------------------------------------------------


def _care_team(obj: Any, category: str, team_id: str, participants: list[dict[str, Any]], status: str,
               period: dict[str, str], identifier: list[dict[str, str]]) -> dict[str, Any]:
    return {"resourceType": "CareTeam", "id": team_id, "identifier": identifier, "status": status,
            "category": [{"coding": [{"system": CARE_TEAM_CATEGORY, "code": category}]}],
            "subject": _patient(obj.person), "period": period, "participant": participants}


class ResponsibilityGroupPart(PathwayHandler):
    """Ansvarsgruppe: its members as participants (name, role, unit); its meetings are Encounters."""

    resource_type = "CareTeam"
    model = ResponsibilityGroup
    r4b = CareTeamModel
    date_field = "established_on"
    id_prefix = "group-"
    kind_code = RESPONSIBILITY_GROUP

    def status_condition(self, status: str) -> Q:
        return Q() if status == "active" else Q(pk__in=[])

    def to_resource(self, obj: ResponsibilityGroup) -> dict[str, Any]:
        participants = []
        for member in obj.members or []:
            participant: dict[str, Any] = {"member": {"display": member.get("name", "")}}
            if member.get("role"):
                participant["role"] = [{"text": member["role"]}]
            if member.get("unit"):
                participant["onBehalfOf"] = {"identifier": {"system": bulk.UNIT_SYSTEM, "value": member["unit"]}}
            participants.append(participant)
        return _care_team(obj, RESPONSIBILITY_GROUP, self.fhir_id(obj), participants, "active",
                          _period(obj.established_on, None), _identifier("responsibility-group", obj.identifier))

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        pid = ictx.patient_pid(resource.get("subject"), "CareTeam.subject")
        established = parse_date((resource.get("period") or {}).get("start"), "CareTeam.period.start")
        not_future(established, "CareTeam.period.start", ictx)
        members = []
        for participant in resource.get("participant") or []:
            name = str((participant.get("member") or {}).get("display") or "").strip()
            if not name:
                raise invalid_resource("every CareTeam.participant needs member.display (the member's name)")
            roles = participant.get("role") or [{}]
            unit = ((participant.get("onBehalfOf") or {}).get("identifier") or {}).get("value")
            members.append({"name": name[:150], "role": str(roles[0].get("text") or "")[:100], "unit": unit or ""})
        return Row(item=item, pid=pid, key=record_key(resource),
                   fields={"established_on": established, "members": members})


def _coordinator_identifier(pid: str, start: dt.date, name: str) -> str:
    """Coordinators have no stored identifier: a deterministic one from the natural key (person, start, name)."""
    return f"{pid}-{start.isoformat()}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


class CoordinatorPart(PathwayHandler):
    """The coordinator (koordinator) as a one-participant CareTeam; matched on person, start date and name."""

    resource_type = "CareTeam"
    model = Coordinator
    r4b = CareTeamModel
    id_prefix = "coordinator-"
    kind_code = COORDINATOR
    related = ("person", "unit")

    def status_condition(self, status: str) -> Q:
        current = Q(end_date__isnull=True) | Q(end_date__gte=dt.date.today())
        return current if status == "active" else ~current if status == "inactive" else Q(pk__in=[])

    def filtered(self, ctx: FhirContext, params: dict[str, list[str]]) -> QuerySet[Any]:
        identifiers = params.pop("identifier", [])
        found = super().filtered(ctx, params)
        for value in identifiers:  # the derived identifier: compare after computing it
            wanted = value.rpartition("|")[2]
            found = found.filter(pk__in=[c.pk for c in found if
                                         _coordinator_identifier(c.person.pid, c.start_date, c.name) == wanted])
        return found

    def to_resource(self, obj: Coordinator) -> dict[str, Any]:
        participant: dict[str, Any] = {"role": [{"coding": [{"system": CARE_TEAM_CATEGORY, "code": COORDINATOR}]}],
                                       "member": {"display": obj.name}}
        if obj.unit is not None:
            participant["onBehalfOf"] = unit_reference(obj.unit)
        active = obj.end_date is None or obj.end_date >= dt.date.today()
        return _care_team(obj, COORDINATOR, self.fhir_id(obj), [participant], "active" if active else "inactive",
                          _period(obj.start_date, obj.end_date),
                          _identifier(COORDINATOR, _coordinator_identifier(obj.person.pid, obj.start_date, obj.name)))

    def parse(self, ictx: ImportContext, item: ImportItem) -> Row:
        resource = item.resource
        pid = ictx.patient_pid(resource.get("subject"), "CareTeam.subject")
        participants = resource.get("participant") or []
        if len(participants) != 1:
            raise invalid_resource("a coordinator CareTeam has exactly one participant: the coordinator")
        name = str((participants[0].get("member") or {}).get("display") or "").strip()[:150]
        if not name:  # the same rule as the form's, with the FHIR element named
            raise invalid_resource("CareTeam.participant.member.display must give the coordinator's name")
        behalf = participants[0].get("onBehalfOf")
        unit_id = ictx.unit(unit_code(behalf, "CareTeam.participant.onBehalfOf"),
                            "CareTeam.participant.onBehalfOf").pk if behalf else None
        period = resource.get("period") or {}
        start = parse_date(period.get("start"), "CareTeam.period.start")
        end = parse_date(period["end"], "CareTeam.period.end") if period.get("end") else None
        not_future(start, "CareTeam.period.start", ictx)
        in_order(start, end, "CareTeam.period.end is before its start")
        return Row(item=item, pid=pid, key=(pid, start, name),
                   fields={"unit_id": unit_id, "end_date": end})

    def existing(self, rows: list[Row]) -> dict[Any, Any]:
        if not rows:
            return {}
        found = Coordinator.objects.filter(person__pid__in={row.pid for row in rows},
                                           start_date__in={row.key[1] for row in rows}).select_related("person")
        return {(c.person.pid, c.start_date, c.name): c for c in found}

    def new_row(self, row: Row) -> dict[str, Any]:
        assert row.person is not None
        return {"person_id": row.person.pk, "name": row.key[2], "start_date": row.key[1], **row.fields}

    def export_resources(self, persons: QuerySet[Person]) -> Iterator[dict[str, Any]]:
        for obj in self.queryset().filter(person__in=persons).order_by("pk").iterator(chunk_size=2000):
            yield self.to_resource(obj)


class PartedHandler(ResourceHandler):
    """One FHIR resource type served by several pathway models ("parts").

    A resource goes to the part whose `kind_code` its coding in `kind_system` (at `kind_element`) carries,
    or to the part without a code when it carries none; ids carry the part's prefix.
    """

    kind_element: ClassVar[str]
    kind_system: ClassVar[str]
    parts: ClassVar[tuple[PathwayHandler, ...]]

    def _by_id(self, resource_id: str) -> PathwayHandler:
        for part in sorted(self.parts, key=lambda p: -len(p.id_prefix)):
            if resource_id.startswith(part.id_prefix) and part.pk_of(resource_id) is not None:
                return part
        raise not_found(self.resource_type, resource_id)

    def _part_index(self, resource: dict[str, Any]) -> int:
        code = coding_code(resource.get(self.kind_element), self.kind_system) or ""
        for index, part in enumerate(self.parts):
            if part.kind_code == code:
                return index
        known = ", ".join(f"{self.kind_system}|{part.kind_code}" for part in self.parts if part.kind_code)
        raise Rejected(f"{self.resource_type}.{self.kind_element} must carry one of {known}" +
                       (" (or none)" if any(not part.kind_code for part in self.parts) else ""),
                       status=400, code="not-supported")

    def _split(self, items: list[ImportItem]) -> dict[int, list[ImportItem]]:
        groups: dict[int, list[ImportItem]] = {}
        for item in items:
            try:
                groups.setdefault(self._part_index(item.resource), []).append(item)
            except Rejected as exc:
                item.reject(exc)
        return dict(sorted(groups.items()))

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        return self._by_id(resource_id).read(ctx, resource_id)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        parts: Iterable[PathwayHandler] = self.parts
        params = {k: list(v) for k, v in params.items()}
        if self.kind_element in params:  # e.g. type=urn:helhet:encounter-type|evaluation-point
            codes = {value.rpartition("|")[2] for raw in params.pop(self.kind_element) for value in raw.split(",")}
            parts = [part for part in self.parts if part.kind_code in codes]
        resources: list[dict[str, Any]] = []
        total = 0
        for part in parts:
            found = part.filtered(ctx, {k: list(v) for k, v in params.items()})
            part_total = found.count()
            start = max(0, offset - total)
            wanted = max(0, count - len(resources))
            page = list(found[start:start + wanted]) if wanted and start < part_total else []
            if page:
                audit_person_list(ctx.user, sorted({part.person_of(obj).pid for obj in page}), channel=ctx.channel,
                                  resource=f"{self.resource_type} search")
            resources.extend(part.to_resource(obj) for obj in page)
            total += part_total
        return SearchResult(resources, total)

    def create(self, ctx: FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        try:
            index = self._part_index(resource)
        except Rejected as exc:
            raise FhirError(exc.status, exc.code, exc.message, expression=[f"{self.resource_type}."
                                                                           f"{self.kind_element}"]) from None
        return self.parts[index].create(ctx, resource)

    def import_batch(self, ictx: ImportContext, items: list[ImportItem]) -> None:
        for index, group in self._split(items).items():
            self.parts[index].import_batch(ictx, group)

    def export_resources(self, persons: QuerySet[Person]) -> Iterator[dict[str, Any]]:
        for part in self.parts:
            yield from part.export_resources(persons)


@register
class EncounterHandler(PartedHandler):
    """Encounter: contacts and admissions (numeric ids), responsibility-group meetings (meeting-N), next-of-kin
    contacts (nok-N) and evaluation points (evaluation-N), told apart by Encounter.type (urn:helhet:encounter-type).
    """

    resource_type = "Encounter"
    kind_element = "type"
    kind_system = ENCOUNTER_TYPE
    search_params = {**PathwayHandler.search_params, "type": "token"}
    parts = (ContactPart(), GroupMeetingPart(), NextOfKinPart(), EvaluationPart())


@register
class CareTeamHandler(PartedHandler):
    """CareTeam: the responsibility group (ids group-N) and the coordinator (ids coordinator-N)."""

    resource_type = "CareTeam"
    kind_element = "category"
    kind_system = CARE_TEAM_CATEGORY
    search_params = {**PathwayHandler.search_params, "category": "token"}
    parts = (ResponsibilityGroupPart(), CoordinatorPart())
