"""Bulk exchange: transaction Bundles (POST /fhir, `helhet import`) and resumable FHIR NDJSON import and export.

One batch machinery serves both. Resources of a batch are handled type by type in dependency
order (Patient before the resources that point to it), each type by its registered handler:
handlers with an `import_batch(ictx, items)` method validate and write a whole batch with a
few queries (on PostgreSQL new rows go through COPY, see `insert_rows`); any other handler gets
its own `create` call per resource. Records are matched on their identifiers, so importing the
same data twice creates nothing new. QuestionnaireResponse (assessment) imports in batches for a
system import and per resource through `create` for an import as a user (see
`helhet.assessment.bulk_import`).

Structural validation against the R4B models, the costliest step, runs in worker processes ahead
of the writer (`--workers`), which receives only a verdict per line; nested elements met before in
the file are not validated twice (`_memoized_elements`), and the library's per-model checks run from
lists of fields made once per class (`_listed_null_check`). The import runs with the cyclic garbage
collector set aside for its start-up heap (`_import_gc`).

- A transaction Bundle is all-or-nothing: any rejected entry rolls the whole Bundle back.
- An NDJSON file is imported in batches, each committed with its checkpoint (keyed by the
  file's SHA-256) in one transaction; a killed import resumes after the last committed batch.
  A bad line is rejected with its line number and the rest proceeds.

Access: a named user (`--as`, or the API client's user) touches only persons they may see
(`helhet.accounts.access`), and every batch is audited; without a user the import is a
system command, audited with `system_event`.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import gc
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Exists, JSONField, Model, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from helhet.accounts.access import (
    AccessDenied,
    audit_person_list,
    open_person,
    system_event,
    user_unit_ids,
    visible_persons,
)
from helhet.accounts.models import STAFF_ROLES, User
from helhet.audit.services import record_one
from helhet.fhir.errors import FhirError, Issue
from helhet.fhir.registry import BUNDLE_PROCESSOR, HANDLERS, FhirContext, ResourceHandler, SharedTypeHandler
from helhet.organisations.models import Municipality, ServiceUnit
from helhet.pathways.models import EpisodeOfCare
from helhet.pathways.services import PathwayError, usable_unit
from helhet.persons.fhir_resources import NIN_SYSTEMS, PSEUDONYM_SYSTEM, patient_resource
from helhet.persons.models import Person, Sex
from helhet.persons.nin import InvalidNationalId, parse_national_id
from helhet.persons.pseudonyms import encrypt_nin, new_pseudonym, nin_lookup_hash

# The order in which a batch is written: a resource only points to types before it.
TYPE_ORDER = ("Patient", "EpisodeOfCare", "ServiceRequest", "CareTeam", "Encounter", "CarePlan",
              "QuestionnaireResponse")  # CareTeam before Encounter: a responsibility-group meeting names its group
UNIT_SYSTEM = "urn:helhet:unit"
EXTENSION = "urn:helhet:fhir:"  # + name, for Helhet's own extensions
CONSENT_NEXT_OF_KIN = EXTENSION + "consent-next-of-kin"
CONSENT_RESEARCH = EXTENSION + "consent-research"
PID_PATTERN = re.compile(r"^P-[0-9A-Z]{8}$")
DEFAULT_BATCH = 2000
# A batch also ends when its lines reach this many bytes: what the writer holds for a batch (parsed resources,
# rows, handler state) grows with the size of its resources, not only their number (a recovery plan's line is
# three times an encounter's), so a file of large resources cannot raise the peak memory.
BATCH_BYTES = 4 << 20
MAX_STORED_REJECTS = 1000


class Rejected(Exception):
    """One resource cannot be imported; the message says why."""

    def __init__(self, message: str, *, status: int = 422, code: str = "business-rule") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @classmethod
    def from_fhir_error(cls, exc: FhirError) -> Rejected:
        """A handler's refusal (its OperationOutcome issues) as the import reports it."""
        return cls("; ".join(issue.diagnostics for issue in exc.issues), status=exc.status,
                   code=exc.issues[0].code if exc.issues else "invalid")


def invalid_resource(message: str) -> Rejected:
    return Rejected(message, status=400, code="invalid")


@dataclass
class ImportItem:
    index: int  # the line number in a file, or the entry number in a Bundle (from 1)
    resource: dict[str, Any]
    full_url: str = ""
    outcome: str = ""  # created | updated | skipped | rejected
    message: str = ""
    status: int = 0
    code: str = ""
    location: str = ""  # Type/id on this server
    validated: bool = False  # already checked against the R4B model (by an import worker process)
    prepared: Any = None  # what a worker computed ahead for the handler (its `prepare_import`), or None

    @property
    def resource_type(self) -> str:
        return str(self.resource.get("resourceType", ""))

    def reject(self, exc: Rejected) -> None:
        self.outcome, self.message, self.status, self.code = "rejected", exc.message, exc.status, exc.code

    def done(self, outcome: str, location: str) -> None:
        self.outcome, self.location = outcome, location


@dataclass
class ImportContext:
    """Who imports, and what a batch has learnt so far (units, bundle-local references)."""

    user: User | None  # None: a system import
    channel: str  # "fhir" | "cli"
    api: bool  # references Type/id are this server's ids (API), or the source's (files)
    urns: dict[str, str] = field(default_factory=dict)  # Bundle fullUrl -> Type/id here
    source_patients: dict[str, str] = field(default_factory=dict)  # a file's Patient id -> pid here
    touched: set[str] = field(default_factory=set)  # pids written in this batch, for the audit
    today: dt.date = field(default_factory=dt.date.today)
    _units: dict[str, ServiceUnit | None] = field(default_factory=dict)
    _all_units: bool = False

    # Units --------------------------------------------------------------------------------------------

    def preload_units(self, codes: Iterable[str]) -> None:
        missing = {c for c in codes if c and c not in self._units}
        if missing and not self._all_units and not self.api:
            # A file import: the first unknown code loads the unit register (reference data: hundreds of rows)
            # in one query rather than one query per code; codes missing from it are still looked up (a unit
            # created since). The API's few resources per request look up their own codes only.
            self._all_units = True
            for unit in ServiceUnit.objects.order_by():
                self._units.setdefault(unit.code, unit)
            missing = {c for c in missing if c not in self._units}
        if missing:
            found = {u.code: u for u in ServiceUnit.objects.filter(code__in=missing)}
            for code in missing:
                self._units[code] = found.get(code)

    def unit(self, code: str, where: str) -> ServiceUnit:
        if code not in self._units:
            self.preload_units([code])
        unit = self._units.get(code)
        try:  # the pathway rule (one copy): the unit is registered and active
            return usable_unit(unit, code, None)
        except PathwayError as exc:
            raise Rejected(f"{where}: {exc.message}", code="not-found" if unit is None else "business-rule") from None

    def own_unit_ids(self) -> set[int]:
        return set(user_unit_ids(self.user)) if self.user is not None else set()

    # References ---------------------------------------------------------------------------------------

    def patient_pid(self, reference: Any, where: str) -> str:
        """The pid of the Patient a Reference points to: bundle urn, Patient/<pid>, or the pid identifier."""
        if not isinstance(reference, dict):
            raise invalid_resource(f"{where} is required: a reference to the Patient")
        ref = reference.get("reference")
        identifier = reference.get("identifier")
        if isinstance(ref, str) and ref:
            if ref.startswith("urn:"):
                local = self.urns.get(ref)
                if local is None or not local.startswith("Patient/"):
                    raise Rejected(f"{where}: {ref} is not a Patient entry of this Bundle", code="not-found")
                return local.split("/", 1)[1]
            kind, _sep, rid = ref.rstrip("/").rpartition("/")
            if not kind.endswith("Patient") or not rid:
                raise invalid_resource(f"{where}: {ref!r} is not a Patient reference")
            return self.source_patients.get(rid, rid)
        if isinstance(identifier, dict) and identifier.get("system") == PSEUDONYM_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
        raise invalid_resource(f"{where} must reference a Patient (Patient/<id>, a Bundle urn, or the identifier "
                               f"system {PSEUDONYM_SYSTEM})")

    def local_reference(self, reference: Any, resource_type: str, where: str) -> tuple[str, str] | None:
        """A reference to one of our records: ("pk", value) for this server's id, ("identifier", value) otherwise."""
        if reference is None:
            return None
        if not isinstance(reference, dict):
            raise invalid_resource(f"{where} must be a Reference")
        identifier = reference.get("identifier")
        if isinstance(identifier, dict) and identifier.get("value"):
            return "identifier", str(identifier["value"])
        ref = reference.get("reference")
        if not isinstance(ref, str) or not ref:
            raise invalid_resource(f"{where} must have a reference or an identifier")
        if ref.startswith("urn:"):
            local = self.urns.get(ref)
            if local is None or not local.startswith(resource_type + "/"):
                raise Rejected(f"{where}: {ref} is not a {resource_type} entry of this Bundle", code="not-found")
            return "pk", local.split("/", 1)[1]
        kind, _sep, rid = ref.rstrip("/").rpartition("/")
        if not kind.endswith(resource_type) or not rid:
            raise invalid_resource(f"{where}: {ref!r} is not a {resource_type} reference")
        # A file's ids are the source system's: they match the identifier we stored for them.
        return ("pk", rid) if self.api else ("identifier", rid)

    # Persons and access -------------------------------------------------------------------------------

    def persons(self, items: list[tuple[ImportItem, str]], *, adopt_unit: dict[int, int] | None = None
                ) -> dict[str, Person]:
        """Authorize the persons of a batch; items whose person may not be touched are rejected.

        `adopt_unit` maps an item's index to a unit id: an EpisodeOfCare in one of the user's own
        units may be created for a person who has no episode of care anywhere yet (a person just
        registered by this import), which is how the registering unit gets its care relationship.
        """
        pids = {pid for _item, pid in items}
        # Handlers need the person's key, and the sex for scoring (any other field loads on first access)
        found = {p.pid: p for p in Person.objects.filter(any_of(Person, "pid", pids)).only("pk", "pid", "sex")
                 .order_by()}
        allowed: set[str] = set(found)
        if self.user is not None:
            if self.user.role not in STAFF_ROLES:
                allowed = set()
            else:
                allowed = set(visible_persons(self.user).filter(pid__in=found).values_list("pid", flat=True))
                own = self.own_unit_ids()
                candidates = {pid for item, pid in items if pid in found and pid not in allowed
                              and adopt_unit and adopt_unit.get(item.index) in own}
                if candidates:
                    episodes = EpisodeOfCare.objects.filter(person=OuterRef("pk"))
                    allowed |= set(Person.objects.filter(pid__in=candidates).exclude(Exists(episodes))
                                   .values_list("pid", flat=True))
        result: dict[str, Person] = {}
        for item, pid in items:
            if pid in allowed:
                result[pid] = found[pid]
                continue
            if self.user is None:
                item.reject(Rejected(f"Patient {pid} is not known here; import the Patient first",
                                     code="not-found"))
                continue
            denial = self._denial(pid, item.resource_type)
            if self.api:
                raise denial  # the API edge records it after the rollback and answers 403
            denial.record()
            item.reject(Rejected(denial.message, status=403, code="forbidden"))
        return result

    def _denial(self, pid: str, resource_type: str) -> AccessDenied:
        assert self.user is not None
        try:
            open_person(self.user, pid, action="create", resource=f"FHIR import {resource_type}",
                        channel=self.channel)
        except AccessDenied as exc:
            return exc
        # Visible after all (a concurrent change): still refuse this batch's write, consistently.
        return AccessDenied("You have no care relationship with this person, or the person does not exist.")

    def audit(self, *, detail: dict[str, Any]) -> None:
        """One audit entry per batch naming every person written (open_person per person for the API)."""
        pids = sorted(self.touched)
        self.touched = set()
        if not pids:
            return
        if self.user is None:
            record_one(system_event("import", "create", resource="FHIR import",
                                    detail={"persons": pids, **detail}))
        elif self.api:
            for pid in pids:  # also checks that the caller may now see each person it wrote
                open_person(self.user, pid, action="create", resource="FHIR transaction", channel=self.channel,
                            detail=detail)
        else:
            audit_person_list(self.user, pids, channel=self.channel, resource="FHIR import", detail=detail)


def any_of(model: type[Model], column: str, values: Iterable[str]) -> Q | RawSQL:
    """A filter `column IN values` for a batch's thousands of strings: one array parameter on PostgreSQL.

    Django's `__in` sends one parameter per value, which psycopg splits into the query text and
    PostgreSQL parses anew for every batch; `= ANY(%s)` is one parameter. The condition names the
    model's table: use it in a query evaluated on its own, not as a subquery (whose aliases are renamed).
    """
    values = list(values)
    if connection.vendor != "postgresql" or not values:
        return Q(**{f"{column}__in": values})
    quote = connection.ops.quote_name
    return RawSQL(f"{quote(model._meta.db_table)}.{quote(column)} = ANY(%s::text[])", ([str(v) for v in values],),
                  output_field=BooleanField())


# Small parsing helpers shared by the handlers -------------------------------------------------------------


def parse_date(value: Any, where: str) -> dt.date:
    """A FHIR date or dateTime (already validated) as a calendar day; partial dates are refused."""
    if not isinstance(value, str) or len(value) < 10:
        raise invalid_resource(f"{where} must give a full date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise invalid_resource(f"{where}: {value!r} is not a calendar date") from None


def unit_code(reference: Any, where: str) -> str:
    """The unit code from a logical reference {"identifier": {"system": urn:helhet:unit, "value": code}}."""
    if not isinstance(reference, dict):
        raise invalid_resource(f"{where} is required: a reference to a unit (identifier system {UNIT_SYSTEM})")
    identifier = reference.get("identifier")
    if isinstance(identifier, dict) and identifier.get("value"):
        return str(identifier["value"])
    ref = reference.get("reference")
    if isinstance(ref, str) and ref.startswith("Organization/"):
        return ref.split("/", 1)[1]
    raise invalid_resource(f"{where} must identify a unit (identifier system {UNIT_SYSTEM})")


def unit_reference(unit: ServiceUnit) -> dict[str, Any]:
    return {"identifier": {"system": UNIT_SYSTEM, "value": unit.code}, "display": unit.name}


def extension_value(resource: dict[str, Any], name: str, kind: str) -> Any:
    for ext in resource.get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") == EXTENSION + name:
            return ext.get(kind)
    return None


def coding_code(concepts: Any, system: str) -> str | None:
    """The first code of `system` in a CodeableConcept or a list of them."""
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if isinstance(concept, dict):
            for coding in concept.get("coding", []) or []:
                if isinstance(coding, dict) and coding.get("system") == system and coding.get("code"):
                    return str(coding["code"])
    return None


def first_identifier(resource: dict[str, Any]) -> str:
    """The record's exchange identifier: the first identifier's value, else the source's resource id."""
    identifiers = resource.get("identifier")
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    for identifier in identifiers or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            return str(identifier["value"])[:64]
    rid = resource.get("id")
    return str(rid)[:64] if rid else ""


def record_key(resource: dict[str, Any]) -> str:
    """The identifier a record is stored under: its exchange identifier (`first_identifier`), else a new one (a
    resource that names none is a new record every time it comes)."""
    return first_identifier(resource) or str(uuid.uuid4())


def validate_r4b(resource: dict[str, Any], model: Any) -> None:
    """Structural validation against the FHIR R4B model; the first errors become the message."""
    try:
        model.model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError, or a fhir.resources type error
        errors = getattr(exc, "errors", None)
        if callable(errors):
            parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors()[:3]]
            message = "; ".join(parts)
        else:
            message = str(exc).splitlines()[0]
        raise invalid_resource(f"not a valid FHIR R4 {resource.get('resourceType')}: {message}") from None


# Writing ----------------------------------------------------------------------------------------------------


def _column_defaults(model: type[Model]) -> list[tuple[str, str, Any, bool]]:
    """(column, "now" | "call" | "value", default, is a JSON column) for every column of the model but its id."""
    columns = []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key:
            continue
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            kind, default = "now", None
        elif model_field.has_default() and callable(model_field.default):
            kind, default = "call", model_field.get_default
        else:  # a constant default, or what the field gives without one ("" for text, else None)
            kind, default = "value", model_field.get_default()
        columns.append((model_field.attname, kind, default, isinstance(model_field, JSONField)))
    return columns


def insert_rows(model: type[Model], rows: list[dict[str, Any]]) -> list[int]:
    """Insert new records (column attname -> value) and return their ids, in order.

    Columns not given take their field default (auto_now fields: now), as bulk_create gives them. On
    PostgreSQL the ids are taken from the sequence and the rows go through COPY: about a fifth of
    bulk_create's per-field work for a batch of thousands; elsewhere bulk_create. Call it in a transaction.
    """
    if not rows:
        return []
    manager = model._default_manager
    if connection.vendor != "postgresql":
        created = manager.bulk_create([model(**row) for row in rows])
        return [int(obj.pk) for obj in created]
    from psycopg import errors as pg_errors
    from psycopg.types.json import Jsonb

    columns = _column_defaults(model)
    table = model._meta.db_table
    quoted = connection.ops.quote_name
    now = timezone.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [table, model._meta.pk.column, len(rows)])  # type: ignore[union-attr]
            ids = [int(row[0]) for row in cursor.fetchall()]
            names = ", ".join(quoted(name) for name in (model._meta.pk.column, *(c[0] for c in columns)))  # type: ignore[union-attr]
            with cursor.cursor.copy(f"COPY {quoted(table)} ({names}) FROM STDIN") as copy:
                for pk, row in zip(ids, rows, strict=True):
                    values: list[Any] = [pk]
                    for name, kind, default, is_json in columns:
                        if name in row:
                            value = row[name]
                        else:
                            value = now if kind == "now" else default() if kind == "call" else default
                        if is_json and value is not None:
                            value = Jsonb(value)
                        elif isinstance(value, enum.Enum):
                            value = value.value
                        values.append(value)
                    copy.write_row(values)
    except pg_errors.IntegrityError as exc:  # the raw cursor bypasses Django's error translation
        raise IntegrityError(str(exc)) from exc
    return ids


# Patient --------------------------------------------------------------------------------------------------


def patient_for_exchange(person: Person) -> dict[str, Any]:
    """The Patient as exchanged in bulk: the API's Patient plus what a receiving system needs to register it."""
    resource = patient_resource(person, national_id=True)
    resource["birthDate"] = f"{person.birth_year:04d}"
    resource["extension"] = [{"url": CONSENT_NEXT_OF_KIN, "valueBoolean": person.consent_next_of_kin},
                             {"url": CONSENT_RESEARCH, "valueBoolean": person.consent_research}]
    return resource


class PatientImporter:
    """Registers or updates persons from Patient resources, matched on the pid or the national identity number."""

    def import_batch(self, ictx: ImportContext, items: list[ImportItem]) -> None:
        from fhir.resources.R4B.patient import Patient as PatientModel

        parsed: list[tuple[ImportItem, dict[str, Any]]] = []
        for item in items:
            try:
                if not item.validated:
                    validate_r4b(item.resource, PatientModel)
                parsed.append((item, self._fields(item.resource)))
            except Rejected as exc:
                item.reject(exc)
        if ictx.user is not None and ictx.user.role not in STAFF_ROLES:
            for item, _fields in parsed:
                item.reject(Rejected("Your role does not give access to this.", status=403, code="forbidden"))
            return
        by_pid = {p.pid: p for p in Person.objects.filter(pid__in=[f["pid"] for _i, f in parsed if f["pid"]])}
        by_nin = {p.nin_hash: p for p in Person.objects.filter(
            nin_hash__in=[f["nin_hash"] for _i, f in parsed if f["nin_hash"]])}
        municipalities = set(Municipality.objects.filter(
            number__in={f["municipality_id"] for _i, f in parsed}).values_list("number", flat=True))
        existing = [by_pid.get(f["pid"]) or by_nin.get(f["nin_hash"]) for _i, f in parsed]
        visible: set[str] = set()
        if ictx.user is not None:
            visible = set(visible_persons(ictx.user).filter(
                pid__in=[p.pid for p in existing if p is not None]).values_list("pid", flat=True))
        to_create: list[tuple[ImportItem, Person]] = []
        to_update: list[tuple[ImportItem, Person]] = []
        seen: dict[str, dict[str, Any]] = {}
        for (item, fields), person in zip(parsed, existing, strict=True):
            key = fields["pid"] or fields["nin_hash"]
            if key in seen:
                if seen[key] == fields:
                    item.done("skipped", f"Patient/{key}")
                else:
                    item.reject(Rejected(f"the Patient {key} appears twice with different content"))
                continue
            seen[key] = fields
            if fields["municipality_id"] not in municipalities:
                item.reject(Rejected(f"address.district: unknown municipality {fields['municipality_id']!r} "
                                     "(a 4-digit SSB kommunenummer)", code="not-found"))
                continue
            if person is None:
                if fields["birth_year"] is None:
                    item.reject(invalid_resource("birthDate is required to register a new Patient"))
                    continue
                if fields["birth_year"] > ictx.today.year:
                    item.reject(Rejected(f"birthDate {fields['birth_year']} is in the future", code="value"))
                    continue
                person = Person(pid=fields["pid"] or new_pseudonym(), nin_hash=fields["nin_hash"],
                                nin_encrypted=fields.pop("nin_encrypted"),
                                **{k: v for k, v in fields.items() if k not in ("pid", "nin_hash")
                                   and not k.startswith("consent_")},
                                consent_next_of_kin=bool(fields["consent_next_of_kin"]),
                                consent_research=bool(fields["consent_research"]))
                to_create.append((item, person))
                continue
            if ictx.user is not None and person.pid not in visible:
                ictx.persons([(item, person.pid)])  # rejects and records the denial (raises it for the API)
                continue
            changes = {k: v for k, v in fields.items()
                       if k not in ("pid", "nin_hash", "nin_encrypted") and v is not None and getattr(person, k) != v}
            if changes:
                for name, value in changes.items():
                    setattr(person, name, value)
                to_update.append((item, person))
            else:
                item.done("skipped", f"Patient/{person.pid}")
                self._remember(ictx, item, person)
        if to_create:
            ids = insert_rows(Person, [{name: getattr(p, name) for name in PERSON_COLUMNS}
                                       for _i, p in to_create])
            for (_item, person), pk in zip(to_create, ids, strict=True):
                person.pk = pk
        if to_update:
            Person.objects.bulk_update([p for _i, p in to_update], ["given_name", "family_name", "sex",
                                                                     "municipality_id", "birth_year",
                                                                     "consent_next_of_kin", "consent_research"])
        for outcome, group in (("created", to_create), ("updated", to_update)):
            for item, person in group:
                item.done(outcome, f"Patient/{person.pid}")
                self._remember(ictx, item, person)

    @staticmethod
    def _remember(ictx: ImportContext, item: ImportItem, person: Person) -> None:
        if item.full_url:
            ictx.urns[item.full_url] = f"Patient/{person.pid}"
        rid = item.resource.get("id")
        if rid and rid != person.pid:
            ictx.source_patients[str(rid)] = person.pid
        ictx.touched.add(person.pid)

    @staticmethod
    def _fields(resource: dict[str, Any]) -> dict[str, Any]:
        pid, nin = "", ""
        for identifier in resource.get("identifier", []) or []:
            system, value = identifier.get("system"), str(identifier.get("value") or "")
            if system == PSEUDONYM_SYSTEM:
                pid = value
            elif system in NIN_SYSTEMS:
                nin = value
        if not pid and not nin:
            raise invalid_resource(f"a Patient needs an identifier: {PSEUDONYM_SYSTEM} or a national identity "
                                   "number, so that importing it again finds the same person")
        if pid and not PID_PATTERN.match(pid):
            raise invalid_resource(f"identifier {pid!r} is not a Helhet pseudonymous id (P-XXXXXXXX)")
        nin_hash, nin_encrypted = None, ""
        if nin:
            try:
                parsed = parse_national_id(nin)
            except InvalidNationalId as exc:
                raise invalid_resource(f"identifier: {exc}") from None
            nin_hash, nin_encrypted = nin_lookup_hash(parsed.value), encrypt_nin(parsed.value)
        names = resource.get("name") or [{}]
        family = str(names[0].get("family") or "").strip()
        given = " ".join(names[0].get("given") or []).strip()
        if not family or not given:
            raise invalid_resource("name must have a family and a given name")
        sex = resource.get("gender") or Sex.UNKNOWN
        birth = resource.get("birthDate")
        addresses = resource.get("address") or [{}]
        municipality = str(addresses[0].get("district") or "")
        return {
            "pid": pid, "nin_hash": nin_hash, "nin_encrypted": nin_encrypted,
            "given_name": given[:100], "family_name": family[:100], "sex": sex,
            "birth_year": int(birth[:4]) if isinstance(birth, str) and birth[:4].isdigit() else None,
            "municipality_id": municipality,
            # A consent the resource does not state is left as it is (None); a new person has not consented.
            "consent_next_of_kin": _stated(extension_value(resource, "consent-next-of-kin", "valueBoolean")),
            "consent_research": _stated(extension_value(resource, "consent-research", "valueBoolean")),
        }


def _stated(value: Any) -> bool | None:
    return None if value is None else bool(value)


PATIENTS = PatientImporter()
# What an import sets on a new Person; the rest (created_at, district, ...) takes its default.
PERSON_COLUMNS = ("pid", "nin_hash", "nin_encrypted", "given_name", "family_name", "sex", "municipality_id",
                  "birth_year", "consent_next_of_kin", "consent_research")


# One batch ------------------------------------------------------------------------------------------------


def _importer(resource_type: str) -> Any:
    if resource_type == "Patient":
        handler = HANDLERS.get("Patient")
        return handler if hasattr(handler, "import_batch") else PATIENTS
    return HANDLERS.get(resource_type)


def _handlers(handler: Any) -> list[Any]:
    return list(handler.handlers) if isinstance(handler, SharedTypeHandler) else [handler]


def _split_by_category(handler: SharedTypeHandler, items: list[ImportItem]) -> list[tuple[Any, list[ImportItem]]]:
    """A type served by several apps (CarePlan): each resource to the handler of its category."""
    groups: dict[int, list[ImportItem]] = {}
    fallback = [h for h in handler.handlers if not h.category]
    for item in items:
        codes = {str(coding.get("code", "")) for concept in item.resource.get("category") or []
                 if isinstance(concept, dict) for coding in concept.get("coding") or [] if isinstance(coding, dict)}
        chosen = [h for h in handler.handlers if h.category and h.category in codes] or fallback
        if not chosen:
            known = ", ".join(h.category for h in handler.handlers if h.category)
            item.reject(invalid_resource(f"{item.resource_type}.category must carry one of: {known}"))
            continue
        groups.setdefault(handler.handlers.index(chosen[0]), []).append(item)
    return [(handler.handlers[index], group) for index, group in sorted(groups.items())]


def create_one(ictx: ImportContext, handler: Any, item: ImportItem) -> None:
    """A resource whose handler has no batch import: its own `create`, in a savepoint."""
    if ictx.user is None:
        item.reject(Rejected(f"{item.resource_type} is imported through its handler, which checks the care "
                             "relationship: import it as a user (--as USERNAME)", status=403, code="forbidden"))
        return
    resource = dict(item.resource)
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            try:
                resource[key] = {**ref, "reference": f"Patient/{ictx.patient_pid(ref, key)}"}
            except Rejected as exc:
                item.reject(exc)
                return
    resource.pop("id", None)
    fctx = FhirContext(user=ictx.user, base_url="", channel=ictx.channel)
    try:
        with transaction.atomic():
            stored, _derived = handler.create(fctx, resource)
    except FhirError as exc:
        if exc.status == 409:  # already stored: matched on its identifier
            item.done("skipped", "")
            return
        item.reject(Rejected.from_fhir_error(exc))
        return
    except AccessDenied as exc:
        if ictx.api:
            raise
        exc.record()
        item.reject(Rejected(exc.message, status=403, code="forbidden"))
        return
    item.done("created", f"{item.resource_type}/{stored['id']}")
    if item.full_url:
        ictx.urns[item.full_url] = item.location


def process_batch(ictx: ImportContext, items: list[ImportItem]) -> None:
    """Validate and write one batch (call inside a transaction); every item ends with an outcome."""
    by_type: dict[str, list[ImportItem]] = {}
    for item in items:
        kind = item.resource_type
        if kind not in TYPE_ORDER:
            item.reject(invalid_resource(f"resourceType {kind!r} cannot be imported; supported: "
                                         f"{', '.join(TYPE_ORDER)}"))
            continue
        by_type.setdefault(kind, []).append(item)
    for kind in TYPE_ORDER:
        group = by_type.get(kind)
        if not group:
            continue
        importer = _importer(kind)
        if importer is None:
            for item in group:
                item.reject(Rejected(f"no handler is registered for {kind}", status=400, code="not-supported"))
            continue
        parts = _split_by_category(importer, group) if isinstance(importer, SharedTypeHandler) else [
            (importer, group)]
        for handler, part in parts:
            if hasattr(handler, "import_batch"):
                handler.import_batch(ictx, part)
            else:
                for item in part:
                    create_one(ictx, handler, item)
    for item in items:
        if not item.outcome:  # a handler that forgot an item must not let it pass silently
            item.reject(Rejected("not processed", status=500, code="exception"))


# Transaction Bundles --------------------------------------------------------------------------------------


def bundle_items(bundle: dict[str, Any]) -> list[ImportItem]:
    if bundle.get("resourceType") != "Bundle":
        raise FhirError(400, "invalid", "expected a Bundle", expression=["resourceType"])
    if bundle.get("type") != "transaction":
        raise FhirError(400, "invalid", f"Bundle.type is {bundle.get('type')!r}; only 'transaction' is supported "
                        "here (all entries are written, or none)", expression=["Bundle.type"])
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError(400, "structure", "Bundle.entry must be a list", expression=["Bundle.entry"])
    items: list[ImportItem] = []
    issues: list[Issue] = []
    for number, entry in enumerate(entries, start=1):
        where = f"Bundle.entry[{number - 1}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            issues.append(Issue("error", "structure", f"entry {number}: no resource", [where]))
            continue
        method = ((entry.get("request") or {}).get("method") or "POST").upper()
        if method not in ("POST", "PUT"):
            issues.append(Issue("error", "not-supported", f"entry {number}: {method} is not supported in a "
                                "transaction here (POST or PUT: create, or update when the identifier matches)",
                                [f"{where}.request.method"]))
            continue
        items.append(ImportItem(index=number, resource=resource, full_url=str(entry.get("fullUrl") or "")))
    if issues:
        raise FhirError(400, "invalid", issues[0].diagnostics, issues=issues)
    return items


def apply_transaction(ictx: ImportContext, bundle: dict[str, Any]) -> list[ImportItem]:
    """Write a transaction Bundle all-or-nothing; a rejected entry raises FhirError after the rollback."""
    items = bundle_items(bundle)
    with transaction.atomic():
        process_batch(ictx, items)
        rejected = [item for item in items if item.outcome == "rejected"]
        if rejected:
            forbidden = [item for item in rejected if item.status == 403]
            status = 403 if forbidden else max(item.status for item in rejected)
            issues = [Issue("error", item.code or "invalid", f"entry {item.index} ({item.resource_type}): "
                            f"{item.message}", [f"Bundle.entry[{item.index - 1}]"]) for item in rejected]
            issues.append(Issue("information", "informational", "the transaction was rolled back: nothing was "
                                "written"))
            raise FhirError(status if status < 500 else 400, issues[0].code, issues[0].diagnostics, issues=issues)
        ictx.audit(detail={"entries": len(items)})
    return items


STATUS_LINE = {"created": "201 Created", "updated": "200 OK", "skipped": "200 OK"}


def transaction_response(ctx: FhirContext, bundle: dict[str, Any]) -> dict[str, Any]:
    """POST /fhir with a transaction Bundle: the transaction-response Bundle, one entry per request entry."""
    ictx = ImportContext(user=ctx.user, channel=ctx.channel, api=True)
    items = apply_transaction(ictx, bundle)
    entries = []
    for item in items:
        response: dict[str, Any] = {"status": STATUS_LINE[item.outcome]}
        if item.location:
            response["location"] = item.location
        if item.outcome == "skipped":
            response["outcome"] = {"resourceType": "OperationOutcome", "issue": [
                {"severity": "information", "code": "duplicate",
                 "diagnostics": "already stored with the same identifier and content; nothing changed"}]}
        entries.append({"fullUrl": f"{ctx.base_url}/{item.location}" if item.location else item.full_url,
                        "response": response})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


if transaction_response not in BUNDLE_PROCESSOR:
    BUNDLE_PROCESSOR.append(transaction_response)


# Files ----------------------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    counts: dict[str, int]
    rejects: list[dict[str, Any]]  # {"line": n, "message": ...} (the first MAX_STORED_REJECTS)
    lines: int
    resumed_from: int = 0
    kind: str = "ndjson"

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _empty_counts() -> dict[str, int]:
    return {"created": 0, "updated": 0, "skipped": 0, "rejected": 0}


def file_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sniff_kind(path: str) -> str:
    """"bundle" when the file is one JSON document of resourceType Bundle, else "ndjson"."""
    with open(path, "rb") as handle:
        head = [handle.readline() for _ in range(5)]
        rest = handle.read(1)
    lines = [line for line in head if line.strip()]
    if not lines:
        return "ndjson"

    def resource(line: bytes) -> dict[str, Any] | None:
        try:
            document = loads_json(line)
        except ValueError:
            return None
        return document if isinstance(document, dict) and "resourceType" in document else None

    first = resource(lines[0])
    if first is not None:
        only_line = len(lines) == 1 and not rest.strip()
        return "bundle" if first.get("resourceType") == "Bundle" and only_line else "ndjson"
    # A first line that is not a resource: a pretty-printed Bundle, unless later lines are resources
    # (NDJSON with a malformed first line, which is then rejected with its line number).
    return "ndjson" if any(resource(line) for line in lines[1:]) else "bundle"


def import_bundle_file(path: str, *, user: User | None) -> ImportSummary:
    with open(path, "rb") as handle:
        try:
            bundle = loads_json(handle.read())
        except ValueError as exc:
            raise FhirError(400, "structure", f"the file is neither NDJSON nor a JSON Bundle: {exc}") from None
    ictx = ImportContext(user=user, channel="cli", api=False)
    counts = _empty_counts()
    try:
        items = apply_transaction(ictx, bundle)
    except FhirError as exc:
        rejects = [{"line": None, "message": issue.diagnostics} for issue in exc.issues if issue.severity == "error"]
        counts["rejected"] = len(rejects)
        return ImportSummary(counts=counts, rejects=rejects, lines=len(bundle.get("entry") or []), kind="bundle")
    for item in items:
        counts[item.outcome] += 1
    return ImportSummary(counts=counts, rejects=[], lines=len(items), kind="bundle")


# orjson parses a line in about half the json module's time and gives the same objects, except that it refuses
# some documents json accepts (NaN, a byte-order mark, lone surrogates: then json decides, with its message) and
# reads an integer beyond 64 bits as a float (json: an int), so a line with a run of 19 digits goes to json
# (found by mapping digits to "0" and the rest to " ": two C passes, a tenth of a regular expression's time).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= code <= 0x39 else 0x20 for code in range(256))
_LONG_RUN = b"0" * 19


def loads_json(raw: bytes | str) -> Any:
    """`json.loads` of one document, faster (see above); raises ValueError, also for absurdly deep nesting."""
    if isinstance(raw, bytes) and _LONG_RUN not in raw.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _parse_line(number: int, raw: bytes) -> ImportItem:
    try:
        resource = loads_json(raw)
    except ValueError as exc:
        item = ImportItem(index=number, resource={})
        item.reject(invalid_resource(f"not valid JSON: {exc}"))
        return item
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        item = ImportItem(index=number, resource={})
        item.reject(invalid_resource("a line must be one FHIR resource (a JSON object with a resourceType)"))
        return item
    return ImportItem(index=number, resource=resource)


# Structural validation is the costliest step of an import (pydantic models of fhir.resources); worker
# processes do it for the next batches while this process writes the current one. A worker sends back
# only its verdict per line (pickling parsed resources back would cost more than parsing them again).
R4B_MODELS = {"Patient": "patient", "EpisodeOfCare": "episodeofcare", "ServiceRequest": "servicerequest",
              "Encounter": "encounter", "CarePlan": "careplan", "CareTeam": "careteam",
              "QuestionnaireResponse": "questionnaireresponse"}
_MODEL_CACHE: dict[str, Any] = {}


def _r4b_model(resource_type: str) -> Any:
    model = _MODEL_CACHE.get(resource_type)
    if model is None:
        import importlib

        module = importlib.import_module(f"fhir.resources.R4B.{R4B_MODELS[resource_type]}")
        model = _MODEL_CACHE[resource_type] = getattr(module, resource_type)
    return model


# Bulk files repeat the same elements (a unit's reference, a coding, an extension) thousands of times.
# fhir.resources validates each nested element by its class's `model_validate`, which depends on nothing but
# the class and the element's JSON: while a chunk is validated, a successful result is remembered by
# (class, repr of the element's JSON) and given back for the same element, which the enclosing model then
# accepts as it accepts a freshly validated instance. Failures are never remembered, so every element is
# still validated and every error still reported. The memory is bounded (pruned when full).
_ELEMENT_MEMO: dict[tuple[type, str], Any] = {}
_MEMO_HITS: set[tuple[type, str]] = set()
MAX_MEMO = 20_000


@contextmanager
def _memoized_elements() -> Iterator[None]:
    from fhir_core.types import FhirBase

    original = FhirBase.__dict__["fhir_model_validator"]
    validate = original.__func__

    def memoized(cls: Any, value: Any, model_klass: type) -> Any:
        if type(value) is not dict:
            return validate(cls, value, model_klass)
        key = (model_klass, repr(value))
        found = _ELEMENT_MEMO.get(key)
        if found is not None:
            _MEMO_HITS.add(key)
            return found
        found = validate(cls, value, model_klass)
        if len(_ELEMENT_MEMO) >= MAX_MEMO:  # full: keep what was met again (units, codings), drop the rest
            kept = {k: _ELEMENT_MEMO[k] for k in _MEMO_HITS} if len(_MEMO_HITS) < MAX_MEMO // 2 else {}
            _ELEMENT_MEMO.clear()
            _ELEMENT_MEMO.update(kept)
            _MEMO_HITS.clear()
        _ELEMENT_MEMO[key] = found
        return found

    FhirBase.fhir_model_validator = classmethod(memoized)  # type: ignore[assignment,method-assign]
    try:
        with _listed_null_check():
            yield
    finally:
        FhirBase.fhir_model_validator = original  # type: ignore[method-assign]


# Every FHIR model runs `FHIRAbstractModel.reject_null_complex_elements` before validating its input: a null
# in a list of complex elements is refused. It walks all the model's fields (about 60 for a resource, with the
# `__ext` siblings) and asks of each whether it is a list of a complex type, for every element validated: a
# third of the validation's time. While a chunk is validated, an input with no null in any of its lists passes at
# once (it cannot be refused), and any other is checked from a list of the fields made once per class (the answer
# depends on the class alone): the same fields, in the same order, the same error for the same input. (pydantic
# holds the check's function itself in every model's compiled validator, so its code is swapped.)
# tests/fhir/test_bulk_validation_equivalence.py compares every verdict and message with the plain library's.
_NULL_CHECKED_FIELDS: dict[type, tuple[tuple[str, str | None], ...]] = {}


def _reject_null_complex_elements(cls: Any, data: Any) -> Any:  # pragma: no cover - runs as the library's code
    if not isinstance(data, dict):
        return data
    for given in data.values():  # a null in no list at all (nearly always): nothing to refuse
        if isinstance(given, list) and None in given:
            break
    else:
        return data
    fields = _helhet_null_checked_fields.get(cls)  # type: ignore[name-defined]  # noqa: F821 - the library's globals
    if fields is None:
        fields = _helhet_null_checked_fields[cls] = tuple(  # type: ignore[name-defined]  # noqa: F821
            (name, field.alias) for name, field in cls.model_fields.items()
            if is_list_type(field) and not is_primitive_type(field)  # type: ignore[name-defined]  # noqa: F821
            and not name.endswith("__ext"))
    errors: list[Any] = []
    for name, alias in fields:
        key = alias if alias and alias in data else name
        value = data.get(key)
        if isinstance(value, list) and any(item is None for item in value):
            errors.append({"type": PydanticCustomError(  # type: ignore[name-defined]  # noqa: F821
                "list_type", "None is not allowed as an element of {field}", {"field": key}),
                "loc": (key,), "input": value})
    if errors:
        raise ValidationError.from_exception_data(cls.__name__, errors)  # type: ignore[name-defined]  # noqa: F821
    return data


# After a model is built, `_validate_one_of_many` (at most one value[x] of each choice, one when it is required:
# an Extension has some fifty value[x] fields) and `_validate_required_primitive_elements` ask the class for its
# fields anew on every instance. Here they are listed once per class; an instance that passes is passed, and
# any other goes to the library's own method, which then finds the fault and raises its error.
_CHOICES: dict[type, tuple[tuple[tuple[str, ...], bool], ...]] = {}
_REQUIRED: dict[type, tuple[str, ...]] = {}


def _choices_of(cls: Any, instance: Any) -> tuple[tuple[tuple[str, ...], bool], ...]:
    found = _CHOICES.get(cls)
    if found is None:
        fields = cls.model_fields
        found = _CHOICES[cls] = tuple(
            (tuple(names), fields[names[0]].json_schema_extra["one_of_many_required"] is True)
            for _prefix, names in instance.get_one_of_many_fields().items())
    return found


def _required_of(cls: Any, instance: Any) -> tuple[str, ...]:
    found = _REQUIRED.get(cls)
    if found is None:
        aliases = instance.get_alias_mapping()
        found = _REQUIRED[cls] = tuple(aliases[name] for name, _ext in instance.get_required_fields())
    return found


# The replacements above were written against these methods of fhir_core (sha-256 of their source, first 16
# hex digits). With any other version of them the library's own checks run, unchanged: slower, never different.
CHECKS_WRITTEN_AGAINST = {
    "reject_null_complex_elements": "d0d0200524d20d33",
    "_validate_one_of_many": "b2f9b73fb7cfd1c0",
    "_validate_required_primitive_elements": "3120cbe77ecbe66a",
}


@functools.cache
def _library_checks_known() -> bool:
    import inspect

    from fhir_core import fhirabstractmodel

    model = fhirabstractmodel.FHIRAbstractModel
    try:
        return all(hashlib.sha256(inspect.getsource(getattr(model, name)).encode()).hexdigest()[:16] == digest
                   for name, digest in CHECKS_WRITTEN_AGAINST.items())
    except (AttributeError, OSError, TypeError):
        return False


@contextmanager
def _listed_null_check() -> Iterator[None]:
    from fhir_core import fhirabstractmodel

    if not _library_checks_known():
        yield
        return
    model = fhirabstractmodel.FHIRAbstractModel
    function = model.__dict__["reject_null_complex_elements"].__func__
    original = function.__code__
    one_of_many, required_primitives = model._validate_one_of_many, model._validate_required_primitive_elements

    def listed_one_of_many(self: Any) -> None:
        values = self.__dict__  # a pydantic model keeps its fields' values there
        for names, required in _choices_of(type(self), self):
            given = len(names) - list(map(values.get, names)).count(None)
            if given > 1 or (required and not given):
                one_of_many(self)  # raises the library's error
                return

    def listed_required_primitives(self: Any) -> None:
        values = self.__dict__
        for name in _required_of(type(self), self):
            if values.get(name) is None:
                required_primitives(self)  # an extension may stand in for the value: the library decides
                return

    fhirabstractmodel.__dict__.setdefault("_helhet_null_checked_fields", _NULL_CHECKED_FIELDS)
    function.__code__ = _reject_null_complex_elements.__code__
    model._validate_one_of_many = listed_one_of_many  # type: ignore[method-assign]
    model._validate_required_primitive_elements = listed_required_primitives  # type: ignore[method-assign]
    try:
        yield
    finally:
        function.__code__ = original
        model._validate_one_of_many = one_of_many  # type: ignore[method-assign]
        model._validate_required_primitive_elements = required_primitives  # type: ignore[method-assign]


def _validate_items(items: list[ImportItem]) -> None:
    """Check parsed items of the R4B-validated types against their models: marked validated, or rejected."""
    with _memoized_elements():
        for item in items:
            if not item.outcome and item.resource_type in R4B_MODELS:
                try:
                    validate_r4b(item.resource, _r4b_model(item.resource_type))
                    item.validated = True
                except Rejected as exc:
                    item.reject(exc)


def _preparer(resource_type: str) -> Callable[[dict[str, Any]], Any] | None:
    """The registered handler's `prepare_import(resource)`, if it has one: pure work (no database) that a worker
    does ahead for the writer, returning a small picklable value the handler's `import_batch` then uses as
    `item.prepared` (it must store exactly what it stores without it)."""
    handler = HANDLERS.get(resource_type)
    return getattr(handler, "prepare_import", None) if handler is not None else None


def validate_chunk(chunk: list[tuple[int, bytes]]) -> list[tuple[bool, str, Any]]:
    """Validate raw lines (in a worker process): (validated, rejection message, prepared) per line.

    (False, "", None) for a line this step does not judge (not JSON, not a resource, or a type validated by
    its own handler): the writer parses it again and decides. `prepared`: the handler's `prepare_import` of a
    validated resource (None when it has none, or declines).
    """
    items = [_parse_line(number, raw) for number, raw in chunk]
    _validate_items(items)
    verdicts: list[tuple[bool, str, Any]] = []
    for item in items:
        prepared = None
        if item.validated:
            prepare = _preparer(item.resource_type)
            if prepare is not None:
                try:
                    prepared = prepare(item.resource)
                except Exception:  # noqa: BLE001 - the writer then does the work itself, and reports any error
                    prepared = None
        verdicts.append((item.validated, item.message if item.resource_type in R4B_MODELS else "", prepared))
    return verdicts


def parse_chunk(chunk: list[tuple[int, bytes]], verdicts: list[tuple[bool, str, Any]] | None = None
                ) -> list[ImportItem]:
    """Parse raw lines into items, rejected or marked as validated (by `verdicts` from a worker, or here)."""
    items = [_parse_line(number, raw) for number, raw in chunk]
    if verdicts is None:
        _validate_items(items)
        return items
    for item, (validated, message, prepared) in zip(items, verdicts, strict=True):
        if not item.outcome:
            if validated:
                item.validated, item.prepared = True, prepared
            elif message:
                item.reject(invalid_resource(message))
    return items


def _raw_batches(handle: IO[bytes], start_line: int, batch_size: int
                 ) -> Iterator[tuple[list[tuple[int, bytes]], int, int]]:
    """(numbered non-blank lines, last line number, byte offset after the batch); blank lines are skipped.

    A batch has `batch_size` lines, or fewer when they reach BATCH_BYTES."""
    chunk: list[tuple[int, bytes]] = []
    number = start_line
    size = 0
    for raw in iter(handle.readline, b""):
        number += 1
        if raw.strip():
            chunk.append((number, raw))
            size += len(raw)
        if len(chunk) >= batch_size or size >= BATCH_BYTES:
            yield chunk, number, handle.tell()
            chunk, size = [], 0
    if chunk or number > start_line:
        yield chunk, number, handle.tell()


def _read_batches(handle: IO[bytes], start_line: int, batch_size: int, workers: int
                  ) -> Iterator[tuple[list[ImportItem], int, int]]:
    """(parsed items, last line number, byte offset after the batch), in file order."""
    raw = _raw_batches(handle, start_line, batch_size)
    if workers <= 1:
        for chunk, last, offset in raw:
            yield parse_chunk(chunk), last, offset
        return
    import multiprocessing
    from collections import deque

    # fork: the workers inherit the loaded models and never touch the database
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque[tuple[Any, list[tuple[int, bytes]], int, int]] = deque()
        for chunk, last, offset in raw:
            pending.append((pool.apply_async(validate_chunk, (chunk,)), chunk, last, offset))
            if len(pending) > workers * 2:  # bounded read-ahead: memory stays flat in the file size
                result, done_chunk, done_last, done_offset = pending.popleft()
                yield parse_chunk(done_chunk, result.get()), done_last, done_offset
        while pending:
            result, done_chunk, done_last, done_offset = pending.popleft()
            yield parse_chunk(done_chunk, result.get()), done_last, done_offset


# The cyclic garbage collector: an import allocates millions of small containers (parsed lines, rows, model
# instances), nearly all freed by reference counting. With the default thresholds a collection runs every 700 of
# them and a full one regularly walks the whole heap (Django, the R4B models: hundreds of thousands of objects
# that live as long as the process), about a quarter of the writer's CPU. For the import, the objects that
# exist at its start are set aside (`gc.freeze`, before the worker processes fork, whose collections then also
# leave the inherited heap alone) and a young collection runs less often; cycles are still collected, so memory
# stays flat. Measured on a third of the 10,000-person export: the writer's collections took 2.3 of its 7.9 CPU-s.
IMPORT_GC_THRESHOLD = (50_000, 20, 10)


@contextmanager
def _import_gc() -> Iterator[None]:
    previous, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*IMPORT_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        if not frozen_before:  # a server that froze its start-up heap (wsgi.py) keeps it frozen
            gc.unfreeze()


def import_ndjson_file(path: str, *, user: User | None, batch_size: int = DEFAULT_BATCH,
                       progress: Callable[[int], None] | None = None, restart: bool = False,
                       workers: int = 0) -> ImportSummary:
    """Import an NDJSON file batch by batch, resuming after the last committed batch of an earlier run."""
    with _import_gc():
        return _import_ndjson_file(path, user=user, batch_size=batch_size, progress=progress, restart=restart,
                                   workers=workers)


def _import_ndjson_file(path: str, *, user: User | None, batch_size: int, progress: Callable[[int], None] | None,
                        restart: bool, workers: int) -> ImportSummary:
    from helhet.fhir.models import ImportCheckpoint

    digest = file_hash(path)
    actor = user.get_username() if user is not None else "system"
    checkpoint, _created = ImportCheckpoint.objects.get_or_create(
        file_hash=digest, defaults={"path": str(path)[:500], "actor": actor, "counts": _empty_counts()})
    # A new run over a finished file, or by someone else, starts from the top: matched on identifiers, it
    # duplicates nothing; only the same caller resumes an interrupted run.
    if checkpoint.finished or restart or checkpoint.actor != actor:
        checkpoint.lines_done, checkpoint.byte_offset, checkpoint.finished = 0, 0, False
        checkpoint.counts, checkpoint.rejects, checkpoint.actor = _empty_counts(), [], actor
        checkpoint.save()
    resumed_from = checkpoint.lines_done
    ictx = ImportContext(user=user, channel="cli", api=False)
    with open(path, "rb") as handle:
        handle.seek(checkpoint.byte_offset)
        if progress is not None and checkpoint.byte_offset:
            progress(checkpoint.byte_offset)
        position = checkpoint.byte_offset
        for items, last_line, offset in _read_batches(handle, checkpoint.lines_done, batch_size, workers):
            with transaction.atomic():
                live = [item for item in items if not item.outcome]
                process_batch(ictx, live)
                counts = dict(checkpoint.counts)
                rejects = list(checkpoint.rejects)
                for item in items:
                    counts[item.outcome] = counts.get(item.outcome, 0) + 1
                    if item.outcome == "rejected" and len(rejects) < MAX_STORED_REJECTS:
                        rejects.append({"line": item.index, "message": item.message})
                ictx.audit(detail={"file": digest[:16], "lines": [checkpoint.lines_done + 1, last_line]})
                checkpoint.lines_done, checkpoint.byte_offset = last_line, offset
                checkpoint.counts, checkpoint.rejects = counts, rejects
                checkpoint.save(update_fields=["lines_done", "byte_offset", "counts", "rejects", "updated_at"])
            if progress is not None:
                progress(offset - position)
            position = offset
    checkpoint.finished = True
    checkpoint.save(update_fields=["finished", "updated_at"])
    return ImportSummary(counts=dict(checkpoint.counts), rejects=list(checkpoint.rejects),
                         lines=checkpoint.lines_done, resumed_from=resumed_from)


# Export ---------------------------------------------------------------------------------------------------


def export_persons(user: User | None) -> QuerySet[Person]:
    return visible_persons(user) if user is not None else Person.objects.all()


def export_resources(user: User | None, *, warn: Callable[[str], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every resource the caller may see, type by type in import order, as FHIR JSON."""
    persons = export_persons(user)
    pids: list[str] = []
    for person in persons.order_by("pk").iterator(chunk_size=2000):
        pids.append(person.pid)
        yield patient_for_exchange(person)
    if user is not None and pids:
        audit_person_list(user, pids, channel="cli", resource="FHIR export")
    elif pids:
        record_one(system_event("export", "read", resource="FHIR export", detail={"persons": len(pids)}))
    for kind in TYPE_ORDER[1:]:
        for handler in _handlers(HANDLERS.get(kind)) if kind in HANDLERS else []:
            exporter = getattr(handler, "export_resources", None)
            if exporter is not None:
                yield from exporter(persons)
            elif user is not None and "patient" in handler.search_params:
                yield from _export_by_search(user, handler, pids)
            elif warn is not None:
                warn(f"{kind} ({type(handler).__name__}) is not exported: its handler has no export, and a system "
                     "export cannot search it (export as a user with --as)")


def _export_by_search(user: User, handler: ResourceHandler, pids: list[str]) -> Iterator[dict[str, Any]]:
    ctx = FhirContext(user=user, base_url="", channel="cli")
    for pid in pids:
        offset = 0
        while True:
            result = handler.search(ctx, {"patient": [f"Patient/{pid}"]}, offset=offset, count=500)
            yield from result.resources
            offset += 500
            if offset >= result.total:
                break


def write_ndjson(resources: Iterable[dict[str, Any]], handle: IO[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for resource in resources:
        handle.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
        handle.write("\n")
        counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
    return counts
