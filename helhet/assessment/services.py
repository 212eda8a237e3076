"""Recording administrations and reading results: the one write path for scores.

Web forms, the FHIR API, the CLI import and the synthetic population all store answers
through ``record_administration`` (one) or ``record_administrations`` (a batch, same
rules, bulk inserts). Both score with the pure engine (``scoring.score_response``),
write the administration and its ``ScoreObservation`` rows in one transaction and audit
the write through ``helhet.accounts.access``; bad answers raise ``ScoringError`` with
nothing written. Reading (``latest_results``, ``history``) recomputes the ``ScoreResult``
from the stored, normalised answers — the engine is pure and fast, and the result then
carries everything (bands, cut-off readings, flags) without a second storage format.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import F, Model, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from psycopg.types.json import Jsonb

from helhet.accounts.access import AccessDenied, CareRelationship, authorize_person, open_person, system_event
from helhet.accounts.models import User
from helhet.assessment.fhir_mapping import (
    ExternalQuestionnaireMapping,
    ExtractedAnswers,
    extract_answers,
    match_external_questionnaire,
    resolve_questionnaire,
)
from helhet.assessment.library import Instrument, UnknownInstrument, get_instrument
from helhet.assessment.models import (
    FLAGS_PART,
    TOTAL_PART,
    Administration,
    Mode,
    RegisteredQuestionnaire,
    ScoreObservation,
    flag_part,
    item_part,
)
from helhet.assessment.scoring import Answer, ScoreResult, ScoringError, _caseness, score_response
from helhet.audit.services import AuditEvent, record, record_one
from helhet.fhir import fastjson
from helhet.organisations.models import ServiceUnit
from helhet.persons.models import Person

MODES = frozenset(Mode.values)


class DuplicateSubmission(ValueError):
    """The same source identifier was already stored for this person (idempotent import)."""

    def __init__(self, source_identifier: str, existing: Administration | None) -> None:
        super().__init__(f"a submission with identifier {source_identifier!r} is already stored for this person")
        self.source_identifier = source_identifier
        self.existing = existing


class AdministrationInput(NamedTuple):
    """One administration for the batch path."""

    instrument_id: str
    answers: Mapping[str, Answer | None]
    administered_on: dt.date
    source_identifier: str = ""
    questionnaire_url: str = ""


class AdministrationResult(NamedTuple):
    administration: Administration
    result: ScoreResult


class HistoryPoint(NamedTuple):
    effective: dt.date
    result: ScoreResult


def instrument_for(instrument_id: str) -> Instrument:
    try:
        return get_instrument(instrument_id)
    except UnknownInstrument:
        raise ScoringError(instrument_id, None, "is not an instrument in the library") from None


def scoring_sex(person: Person) -> str | None:
    return person.sex if person.sex in ("male", "female") else None


def result_of(administration: Administration) -> ScoreResult:
    """The administration's ScoreResult, recomputed from its stored answers with the sex it was scored with."""
    return score_response(
        instrument_for(administration.instrument_id),
        administration.answers,
        sex=administration.scored_sex or None,
    )


class ScorePart(NamedTuple):
    """One scored part of a result, as a ScoreObservation row stores it (see models)."""

    part: str
    value: float | None = None
    absent_reason: str = ""
    band: str = ""
    caseness: bool | None = None
    flagged: bool | None = None
    fhir_resource: bool = False


def score_parts(instrument: Instrument, result: ScoreResult) -> list[ScorePart]:
    """The parts of a result that are stored, one ScoreObservation row each."""
    parts: list[ScorePart] = []
    scoring = instrument.scoring
    if scoring.method != "none":
        score = result.score
        parts.append(ScorePart(
            TOTAL_PART,
            value=None if score is None else float(score),
            absent_reason="" if score is not None else (result.missing_reason or "not computed"),
            band=result.band.code if result.band is not None else "",
            caseness=_caseness(instrument, result),
            fhir_resource=True,
        ))
    elif scoring.flags:
        raised = len(result.flags)
        parts.append(ScorePart(FLAGS_PART, value=float(raised), fhir_resource=True,
                               flagged=True if raised else (None if result.flags_undetermined else False)))
    for sub in result.subscales:
        parts.append(ScorePart(sub.code, value=None if sub.value is None else float(sub.value),
                               absent_reason=sub.missing_reason or ""))
    for derived in result.derived:
        parts.append(ScorePart(
            derived.code, value=derived.value, absent_reason=derived.missing_reason or "",
            band=derived.band.code if derived.band is not None else "",
            fhir_resource=derived.value is not None,  # observations_for publishes only present values
        ))
    raised_codes = {flag.code for flag in result.flags}
    undetermined = {flag.code: flag for flag in result.flags_undetermined}
    for rule in scoring.flags:
        if rule.code in raised_codes:
            parts.append(ScorePart(flag_part(rule.code), flagged=True))
        elif rule.code in undetermined:
            missing = undetermined[rule.code].items
            reason = ("unanswered: " + ", ".join(missing)) if missing else "depends on the person's sex, which is unknown"
            parts.append(ScorePart(flag_part(rule.code), absent_reason=reason))
        else:
            parts.append(ScorePart(flag_part(rule.code), flagged=False))
    for link_id, band in result.item_bands.items():
        parts.append(ScorePart(item_part(link_id), value=float(result.item_scores[link_id]), band=band.code))
    return parts


def observation_rows(administration: Administration, instrument: Instrument,
                     result: ScoreResult) -> list[ScoreObservation]:
    """The ScoreObservation rows for one scored administration (not saved)."""
    return [
        ScoreObservation(administration=administration, person_id=administration.person_id,
                         instrument_id=instrument.id, effective=administration.administered_on, **part._asdict())
        for part in score_parts(instrument, result)
    ]


def check_administration(mode: str, administered_on: dt.date, instrument_id: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(sorted(MODES))}")
    if not isinstance(administered_on, dt.date):
        raise ScoringError(instrument_id, None, "the administration date is missing")
    if administered_on > dt.date.today():
        raise ScoringError(instrument_id, None, f"the administration date {administered_on} is in the future")


def _authorize_write(*, user: User | None, person: Person, resource: str, channel: str,
                     detail: dict[str, Any]) -> CareRelationship | None:
    """Authorize and audit the write (inside the write's transaction, so a rollback takes the entry back)."""
    if user is None:
        # System work (synthetic population, unattended import): audited as a system event.
        record_one(system_event("assessment", "create", person_pid=person.pid, detail=detail, resource=resource))
        return None
    _person, relationship = open_person(user, person, action="create", resource=resource, channel=channel,
                                        detail=detail)
    return relationship


def _authorize_write_deferred(*, user: User | None, person: Person, resource: str, channel: str,
                              detail: dict[str, Any]) -> tuple[CareRelationship | None, AuditEvent]:
    """As ``_authorize_write``, returning the audit event for the caller to record last in its transaction."""
    if user is None:
        return None, system_event("assessment", "create", person_pid=person.pid, detail=detail, resource=resource)
    _person, relationship, event = authorize_person(user, person, action="create", resource=resource,
                                                    channel=channel, detail=detail, remember_units=False)
    return relationship, event


def insert_objects(objects: Sequence[Model]) -> None:
    """INSERT new rows of one model in one statement, setting their keys: ``bulk_create`` without the ORM's
    per-call query compilation, which costs more than the insert itself on the one-response API path.

    Values go through each field's ``pre_save`` (auto_now_add) and ``get_db_prep_save``, as the ORM does.
    No signals are sent (as with ``bulk_create``). For a handful of rows; an import's thousands go through
    ``helhet.fhir.bulk.insert_rows`` (COPY).
    """
    if not objects:
        return
    meta = objects[0]._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy's look-up per field adds up
    quote = db.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [f.get_db_prep_save(f.pre_save(obj, True), db) for obj in objects for f in fields]
    if db.vendor == "postgresql":
        params = [_fast_jsonb(p) for p in params]
    with db.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
                       f"VALUES {', '.join([row] * len(objects))} RETURNING {quote(meta.pk.column)}", params)
        keys = cursor.fetchall()
    for obj, (key,) in zip(objects, keys, strict=True):
        obj.pk = key
        obj._state.adding, obj._state.db = False, db.alias


def insert_with_children(parent: Model, children: Sequence[Model], link: str) -> None:
    """``insert_objects([parent])``, then ``insert_objects(children)`` with each child's foreign key ``link``
    pointing at the parent: on PostgreSQL in one statement, the parent's INSERT a data-modifying CTE that
    gives the children's INSERT its key (one round trip fewer on every API create)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not children:
        insert_objects([parent])
        for child in children:
            setattr(child, link, parent)
        insert_objects(children)
        return
    sql, parent_fields, child_fields = _insert_with_children_sql(type(parent), type(children[0]), link, len(children))
    params = [_fast_jsonb(f.get_db_prep_save(f.pre_save(parent, True), db)) for f in parent_fields]
    for position, child in enumerate(children):
        params += [position, *(_fast_jsonb(f.get_db_prep_save(f.pre_save(child, True), db)) for f in child_fields)]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchall()
    parent.pk = keys[0][1]
    parent._state.adding, parent._state.db = False, db.alias
    for child, (key, _parent_key) in zip(children, keys, strict=True):  # in insertion order, as insert_objects
        setattr(child, link, parent)
        child.pk = key
        child._state.adding, child._state.db = False, db.alias


@functools.lru_cache(maxsize=16)
def _insert_with_children_sql(parent_model: type[Model], child_model: type[Model], link: str, count: int
                              ) -> tuple[str, list[Any], list[Any]]:
    """PostgreSQL's statement for ``insert_with_children``, and the fields whose values it takes, in order."""
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    parent_meta, child_meta = parent_model._meta, child_model._meta
    parent_fields = [f for f in parent_meta.concrete_fields if not f.primary_key]
    link_field = next(f for f in child_meta.concrete_fields if f.name == link)
    child_fields = [f for f in child_meta.concrete_fields if not f.primary_key and f is not link_field]
    # The children's values are typed where they stand (a VALUES list outside an INSERT has no column types),
    # without a length or precision: an explicit cast to varchar(80) would cut a longer value short silently,
    # where the INSERT refuses it.
    typed_row = "(%s, " + ", ".join(f"%s::{_type_without_modifier(f, db)}" for f in child_fields) + ")"
    names = ", ".join(f"c{i}" for i in range(len(child_fields)))
    parent_pk, child_pk = quote(parent_meta.pk.column), quote(child_meta.pk.column)
    sql = (f"WITH parent AS (INSERT INTO {quote(parent_meta.db_table)} "
           f"({', '.join(quote(f.column) for f in parent_fields)}) "
           f"VALUES ({', '.join(['%s'] * len(parent_fields))}) RETURNING {parent_pk}) "
           f"INSERT INTO {quote(child_meta.db_table)} ({quote(link_field.column)}, "
           f"{', '.join(quote(f.column) for f in child_fields)}) "
           f"SELECT parent.{parent_pk}, {names} FROM parent, (VALUES {', '.join([typed_row] * count)}) "
           f"AS rows (position, {names}) ORDER BY position RETURNING {child_pk}, {quote(link_field.column)}")
    return sql, parent_fields, child_fields


def _type_without_modifier(model_field: Any, db: Any) -> str:
    """The field's column type for a cast, without a modifier: varchar for varchar(80), numeric for numeric(9, 2)."""
    return re.sub(r"\(.*\)$", "", model_field.cast_db_type(db))


def _fast_jsonb(param: Any) -> Any:
    """A JSONField value bound for PostgreSQL (``Jsonb`` with the json module's dumps) written by orjson
    instead (``helhet.fhir.fastjson``): the stored jsonb is the same value, for a tenth of the time the
    request body took to write as JSON again. Values with a custom encoder and others are left as they are."""
    if type(param) is Jsonb and param.dumps is json.dumps:
        return Jsonb(param.obj, dumps=fastjson.dumps)
    return param


def _unit(unit: ServiceUnit | None, relationship: CareRelationship | None) -> ServiceUnit | None:
    if unit is not None or relationship is None or relationship.unit_id is None:
        return unit
    return ServiceUnit(pk=relationship.unit_id)  # the responsible unit; only its key is needed


def _duplicate(person: Person, identifiers: Collection[str]) -> DuplicateSubmission:
    existing = Administration.objects.filter(person=person, source_identifier__in=list(identifiers)).first()
    if existing is None:
        return DuplicateSubmission(", ".join(sorted(identifiers)), None)
    return DuplicateSubmission(existing.source_identifier, existing)


@contextmanager
def _write_edge(person: Person, identifiers: Collection[str]) -> Iterator[None]:
    """Turn a unique-constraint failure into DuplicateSubmission, and record a refusal once rolled back."""
    try:
        yield
    except IntegrityError:
        if identifiers:
            raise _duplicate(person, identifiers) from None
        raise
    except AccessDenied as denial:
        if not connection.in_atomic_block:
            denial.record()
        raise


def record_administration(
    *,
    user: User | None,
    person: Person,
    instrument_id: str,
    answers: Mapping[str, Answer | None],
    administered_on: dt.date,
    mode: str,
    unit: ServiceUnit | None = None,
    source_identifier: str = "",
    questionnaire_url: str = "",
    channel: str = "web",
    declared_total: float | None = None,
    source_resource: dict[str, Any] | None = None,
    authorization: tuple[CareRelationship, AuditEvent] | None = None,
) -> Administration:
    """Score and store one administration with its observations, authorized and audited; all or nothing.

    The write is authorized (``authorize_person(action="create")``, the check ``open_person`` makes)
    before anything is written, unless the caller has done so already (``authorization``: what
    ``access.authorize_write`` returned for this user and person). Its audit entry is appended last
    in the same transaction (``user=None``: a system event), so a rollback takes it back and the
    audit chain's lock is held only from that append to the commit. ``unit`` defaults to the unit of the care
    relationship. Raises ScoringError for answers the instrument does not have (nothing
    touched), AccessDenied without a care relationship, DuplicateSubmission for a source
    identifier already stored for the person. The returned administration has its observation
    rows prefetched (``administration.observations.all()`` makes no query).
    """
    instrument = instrument_for(instrument_id)
    check_administration(mode, administered_on, instrument_id)
    sex = scoring_sex(person)
    result = score_response(instrument, answers, sex=sex)
    detail = {"instrument": instrument.id, "mode": mode}
    with _write_edge(person, [source_identifier] if source_identifier else []), transaction.atomic():
        # Authorized before anything is written; the audit entry is appended last, in the same transaction,
        # so the audit chain's lock is held only from that append to the commit.
        if authorization is None:
            relationship, event = _authorize_write_deferred(user=user, person=person,
                                                            resource="QuestionnaireResponse", channel=channel,
                                                            detail=detail)
        else:
            relationship, event = authorization
            event.detail = detail
        administration = Administration(
            person=person, instrument_id=instrument.id, instrument_version=instrument.version,
            administered_on=administered_on, answers=dict(result.answers), mode=mode,
            scored_sex=sex or "", recorded_by=user, unit=_unit(unit, relationship),
            source_identifier=source_identifier, questionnaire_url=questionnaire_url or instrument.url,
            declared_total=declared_total, source_resource=source_resource,
        )
        rows = observation_rows(administration, instrument, result)
        insert_with_children(administration, rows, "administration")
        record([event], savepoint=False, head_with_insert=True)
    # As prefetch_related would leave it: observations.all() then makes no query. The filter is deferred the
    # way Django's related managers defer theirs: built only if the queryset is ever chained or evaluated
    # anew (building it on every API create cost more than the query it stands for).
    prefetched = ScoreObservation.objects.all()
    prefetched._defer_next_filter = True  # type: ignore[attr-defined]
    prefetched = prefetched.filter(administration_id=administration.pk)
    prefetched._result_cache = rows
    prefetched._prefetch_done = True  # type: ignore[attr-defined]
    administration._prefetched_objects_cache = {"observations": prefetched}  # type: ignore[attr-defined]
    return administration


def record_administrations(
    *,
    user: User | None,
    person: Person,
    entries: Sequence[AdministrationInput],
    mode: str,
    unit: ServiceUnit | None = None,
    channel: str = "web",
) -> list[Administration]:
    """The batch path: many administrations for one person, scored, stored and audited in one transaction.

    Every entry is scored before anything is written; one bad entry refuses the whole batch
    (ScoringError naming the instrument and item, prefixed with the entry's position).
    """
    sex = scoring_sex(person)
    scored: list[tuple[Instrument, AdministrationInput, ScoreResult]] = []
    identifiers: set[str] = set()
    for index, entry in enumerate(entries):
        instrument = instrument_for(entry.instrument_id)
        try:
            check_administration(mode, entry.administered_on, entry.instrument_id)
            result = score_response(instrument, entry.answers, sex=sex)
        except ScoringError as exc:
            raise ScoringError(exc.instrument_id, exc.link_id, f"entry {index}: {exc}") from exc
        if entry.source_identifier:
            if entry.source_identifier in identifiers:
                raise DuplicateSubmission(entry.source_identifier, None)
            identifiers.add(entry.source_identifier)
        scored.append((instrument, entry, result))
    if not scored:
        return []
    with _write_edge(person, identifiers), transaction.atomic():
        counts: dict[str, int] = {}
        for instrument, _entry, _result in scored:
            counts[instrument.id] = counts.get(instrument.id, 0) + 1
        relationship = _authorize_write(user=user, person=person, resource="QuestionnaireResponse batch",
                                        channel=channel, detail={"administrations": counts, "mode": mode})
        stored_unit = _unit(unit, relationship)
        administrations = [
            Administration(
                person=person, instrument_id=instrument.id, instrument_version=instrument.version,
                administered_on=entry.administered_on, answers=dict(result.answers), mode=mode,
                scored_sex=sex or "", recorded_by=user, unit=stored_unit,
                source_identifier=entry.source_identifier,
                questionnaire_url=entry.questionnaire_url or instrument.url,
            )
            for instrument, entry, result in scored
        ]
        if connection.vendor == "postgresql":
            _copy_batch(administrations, [(instrument, result) for instrument, _entry, result in scored])
        else:
            Administration.objects.bulk_create(administrations)
            rows: list[ScoreObservation] = []
            for administration, (instrument, _entry, result) in zip(administrations, scored, strict=True):
                rows.extend(observation_rows(administration, instrument, result))
            ScoreObservation.objects.bulk_create(rows, batch_size=2000)
    return administrations


_ADMINISTRATION_COLUMNS = ("id", "person_id", "instrument_id", "instrument_version", "administered_on", "answers",
                           "mode", "scored_sex", "recorded_by_id", "unit_id", "source_identifier",
                           "questionnaire_url", "source_resource", "declared_total", "created_at")
_OBSERVATION_COLUMNS = ("administration_id", "person_id", "instrument_id", "effective", *ScorePart._fields)


def _copy_batch(administrations: list[Administration], scored: list[tuple[Instrument, ScoreResult]]) -> None:
    """PostgreSQL: the batch through COPY, with ids reserved from the sequence first (3 round trips).

    About ten times less work than bulk_create's per-field conversion for a 1,000-administration
    upload; the rows are the same (a test compares both paths).
    """
    from psycopg import errors as pg_errors
    from psycopg.types.json import Jsonb

    try:
        _copy_rows(administrations, scored, Jsonb)
    except pg_errors.UniqueViolation as exc:  # the raw cursor bypasses Django's error translation
        raise IntegrityError(str(exc)) from exc


def _copy_rows(administrations: list[Administration], scored: list[tuple[Instrument, ScoreResult]],
               jsonb: Any) -> None:
    table = Administration._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                       "FROM generate_series(1, %s)", [len(administrations)])
        ids = [row[0] for row in cursor.fetchall()]
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        columns = ", ".join(_ADMINISTRATION_COLUMNS)
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for pk, administration in zip(ids, administrations, strict=True):
                administration.pk = pk
                administration.created_at = now
                copy.write_row((pk, administration.person_id, administration.instrument_id,
                                administration.instrument_version, administration.administered_on,
                                jsonb(administration.answers), administration.mode, administration.scored_sex,
                                administration.recorded_by_id, administration.unit_id,
                                administration.source_identifier, administration.questionnaire_url, None, None, now))
        columns = ", ".join(_OBSERVATION_COLUMNS)
        with raw.copy(f"COPY {ScoreObservation._meta.db_table} ({columns}) FROM STDIN") as copy:
            for administration, (instrument, result) in zip(administrations, scored, strict=True):
                head = (administration.pk, administration.person_id, instrument.id, administration.administered_on)
                for part in score_parts(instrument, result):
                    copy.write_row(head + tuple(part))


def latest_results(person: Person) -> dict[str, AdministrationResult]:
    """Per instrument, the latest administration and its result (one query)."""
    ranked = Administration.objects.filter(person=person).annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("instrument_id")],
            order_by=[F("administered_on").desc(), F("created_at").desc(), F("id").desc()],
        )
    ).filter(rank=1)
    latest: dict[str, AdministrationResult] = {}
    for administration in sorted(ranked, key=lambda a: a.instrument_id):
        latest[administration.instrument_id] = AdministrationResult(administration, result_of(administration))
    return latest


def history(person: Person, instrument_id: str) -> list[HistoryPoint]:
    """The person's administrations of one instrument, oldest first, with their results (one query)."""
    administrations = Administration.objects.filter(person=person, instrument_id=instrument_id).only(
        "id", "instrument_id", "administered_on", "answers", "scored_sex"
    ).order_by("administered_on", "created_at", "id")
    return [HistoryPoint(a.administered_on, result_of(a)) for a in administrations]


def administrations_with_results(administrations: Iterable[Administration]) -> list[AdministrationResult]:
    return [AdministrationResult(a, result_of(a)) for a in administrations]


# ---------------------------------------------------------------------------
# QuestionnaireResponses from other systems (FHIR API and `helhet score`)


class ScoredResponse(NamedTuple):
    instrument: Instrument
    mapping: ExternalQuestionnaireMapping | None
    extracted: ExtractedAnswers
    result: ScoreResult

    @property
    def declared_total_disagrees(self) -> bool:
        declared, ours = self.extracted.declared_total, self.result.score
        return declared is not None and (ours is None or abs(declared - float(ours)) > 1e-9)


def registered_mappings(url: str) -> Iterator[ExternalQuestionnaireMapping]:
    """Mappings of registered external Questionnaires with this canonical URL (queried when first iterated)."""
    for registered in RegisteredQuestionnaire.objects.filter(url=url.split("|", 1)[0]):
        yield ExternalQuestionnaireMapping.from_json(registered.mapping)


def score_questionnaire_response(qr_json: Mapping[str, Any], *, sex: str | None) -> ScoredResponse:
    """Recognise the instrument (ours, or a registered external Questionnaire), read the answers, score.

    Raises FhirMappingError (unknown questionnaire, unreadable item or answer) or ScoringError.
    The database is read only when the questionnaire is not one of ours.
    """
    questionnaire = qr_json.get("questionnaire") if isinstance(qr_json, Mapping) else None
    url = questionnaire if isinstance(questionnaire, str) else ""
    instrument, mapping = resolve_questionnaire(qr_json, registered_mappings(url))
    extracted = extract_answers(instrument, qr_json, mapping)
    return ScoredResponse(instrument, mapping, extracted, score_response(instrument, extracted.answers, sex=sex))


def register_questionnaire(q_json: Mapping[str, Any], *, command: str = "instruments register") -> RegisteredQuestionnaire:
    """Match another system's Questionnaire to our library and store the mapping (replacing an earlier one).

    Raises QuestionnaireMatchError, listing the items that failed, when it cannot be matched completely.
    """
    mapping = match_external_questionnaire(q_json)
    with transaction.atomic():
        registered, created = RegisteredQuestionnaire.objects.update_or_create(
            url=mapping.external_url,
            defaults={"version": mapping.external_version or "", "instrument_id": mapping.instrument_id,
                      "resource": dict(q_json), "mapping": mapping.to_json()},
        )
        record_one(system_event(command, "create" if created else "update", resource="Questionnaire",
                                detail={"url": mapping.external_url, "instrument": mapping.instrument_id}))
    return registered
