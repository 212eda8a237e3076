"""The one place that decides who may see a person's data, and audits every decision.

Rules:
- clinicians and team leaders see a person only through a care relationship: an
  episode of care (or ACT/FACT team enrolment) that makes one of their units
  responsible for the person today;
- a service user sees only their own person;
- analysts and administrators never see a person, only aggregates.

Every view, FHIR handler and CLI command that touches a person goes through
`open_person` (one person) or `visible_persons` + `audit_person_list` (lists).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_noop

from helhet.accounts.models import STAFF_ROLES, Role, StaffMembership, User
from helhet.audit.services import AuditEvent, record, record_one
from helhet.pathways.models import responsible_episodes
from helhet.persons.models import Person
from helhet.rows import instance_from_row

NO_ROLE_MESSAGE = gettext_noop("Your role does not give access to this.")
NO_ACCESS_MESSAGE = gettext_noop("You have no care relationship with this person, or the person does not exist.")


class AccessDenied(PermissionDenied):
    """Refused access. The refusal is audited: at once, or by the edge (view, API, CLI) after a rollback."""

    def __init__(self, message: str, event: AuditEvent | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.event = event
        self.recorded = False

    def record(self) -> None:
        if self.event is not None and not self.recorded:
            record_one(self.event)
            self.recorded = True


@dataclass(frozen=True)
class CareRelationship:
    kind: str  # "episode" | "self"
    description: str
    unit_id: int | None = None
    episode_id: int | None = None


def _actor(user: User | None) -> tuple[str, str]:
    if user is None or not user.is_authenticated:
        return "anonymous", ""
    return user.get_username(), user.role


# Placeholders for ids (and a pid) in the queries below, which are compiled once a day: they run on every
# access to a person's data, and compiling the ORM query cost more than running it. Ids are never negative,
# and a pid never holds a NUL.
_USER_SENTINEL, _PERSON_SENTINEL, _UNIT_SENTINEL = -7_300_001, -7_300_002, -7_310_000
_PID_SENTINEL = "\x00pid"
_PERSON_FIELDS = [f.name for f in Person._meta.concrete_fields]


def _compiled(queryset: QuerySet[Any], sentinels: list[int | str]) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.sql_with_params()
    found = [p for p in params if type(p) in (int, str) and p in sentinels]
    if sorted(map(str, found)) != sorted(map(str, sentinels)):  # pragma: no cover
        raise RuntimeError("access query: unexpected parameters")
    return sql, params


def _run(compiled: tuple[str, tuple[Any, ...]], values: Mapping[Any, Any]) -> list[tuple[Any, ...]]:
    sql, params = compiled
    with connection.cursor() as cursor:
        cursor.execute(sql, [values.get(p, p) if type(p) in (int, str) else p for p in params])
        return cursor.fetchall()


def _memberships(today: dt.date) -> QuerySet[StaffMembership]:
    """The user's (``_USER_SENTINEL``) memberships that have not ended before ``today``."""
    return StaffMembership.objects.filter(user_id=_USER_SENTINEL).exclude(end_date__lt=today)


@functools.lru_cache(maxsize=8)
def _unit_ids_sql(today: dt.date, vendor: str) -> tuple[str, tuple[Any, ...]]:
    return _compiled(_memberships(today).values_list("unit_id", flat=True), [_USER_SENTINEL])


@functools.lru_cache(maxsize=32)
def _episode_sql(day: dt.date, unit_count: int, vendor: str) -> tuple[str, tuple[Any, ...]]:
    units = [_UNIT_SENTINEL - i for i in range(unit_count)]
    episodes = (
        responsible_episodes(day)
        .filter(person_id=_PERSON_SENTINEL, unit_id__in=units)
        .order_by("-start_date")
        .values_list("pk", "unit_id", "unit__code", "status")[:1]
    )
    return _compiled(episodes, [_PERSON_SENTINEL, *units])


@functools.lru_cache(maxsize=8)
def _episode_via_memberships_sql(day: dt.date, today: dt.date, vendor: str) -> tuple[str, tuple[Any, ...]]:
    """``_episode_sql`` with the user's units as a subquery (the memberships ``_unit_ids_sql`` reads): one round
    trip instead of two."""
    episodes = (
        responsible_episodes(day)
        .filter(person_id=_PERSON_SENTINEL, unit_id__in=_memberships(today).values("unit_id"))
        .order_by("-start_date")
        .values_list("pk", "unit_id", "unit__code", "status")[:1]
    )
    return _compiled(episodes, [_PERSON_SENTINEL, _USER_SENTINEL])


@functools.lru_cache(maxsize=8)
def _person_and_episode_sql(day: dt.date, today: dt.date, vendor: str) -> tuple[str, tuple[Any, ...]]:
    """``_episode_via_memberships_sql`` by pid, with every column of the person in front: one row when the user
    has a care relationship with the person, none otherwise (no such person, or no relationship)."""
    episodes = (
        responsible_episodes(day)
        .filter(person__pid=_PID_SENTINEL, unit_id__in=_memberships(today).values("unit_id"))
        .order_by("-start_date")
        .values_list(*(f"person__{name}" for name in _PERSON_FIELDS), "pk", "unit_id", "unit__code", "status")[:1]
    )
    return _compiled(episodes, [_PID_SENTINEL, _USER_SENTINEL])


def user_unit_ids(user: User) -> list[int]:
    """The units the user works in today (remembered on the user object for the rest of the request)."""
    cached: list[int] | None = getattr(user, "_helhet_unit_ids", None)
    if cached is None:
        rows = _run(_unit_ids_sql(dt.date.today(), connection.vendor), {_USER_SENTINEL: user.pk})
        cached = [row[0] for row in rows]
        user._helhet_unit_ids = cached  # type: ignore[attr-defined]
    return cached


def care_relationship(user: User, person: Person, day: dt.date | None = None, *,
                      remember_units: bool = True) -> CareRelationship | None:
    """The relationship that lets ``user`` see ``person`` on ``day`` (today), or None.

    For staff the user's units are looked up once and remembered on the user for the rest of the
    request (``user_unit_ids``), for the pages that go on to list persons. With
    ``remember_units=False`` units not yet remembered are read in the same query as the episode
    instead (one round trip, not two): for a single authorized write such as an API create.
    """
    if not user.is_authenticated:
        return None
    if user.role == Role.SERVICE_USER:
        if user.person_id is not None and user.person_id == person.pk:
            return CareRelationship(kind="self", description="own record")
        return None
    if user.role not in STAFF_ROLES:
        return None
    if not remember_units and getattr(user, "_helhet_unit_ids", None) is None:
        today = dt.date.today()
        rows = _run(_episode_via_memberships_sql(day or today, today, connection.vendor),
                    {_PERSON_SENTINEL: person.pk, _USER_SENTINEL: user.pk})
    else:
        unit_ids = sorted(set(user_unit_ids(user)))
        if not unit_ids:
            return None
        values = {_PERSON_SENTINEL: person.pk, **{_UNIT_SENTINEL - i: unit for i, unit in enumerate(unit_ids)}}
        rows = _run(_episode_sql(day or dt.date.today(), len(unit_ids), connection.vendor), values)
    return _episode_relationship(*rows[0]) if rows else None


def _episode_relationship(episode_id: int, unit_id: int, unit_code: str, status: str) -> CareRelationship:
    return CareRelationship(
        kind="episode",
        description=f"episode {episode_id} in {unit_code} ({status})",
        unit_id=unit_id,
        episode_id=episode_id,
    )


def visible_persons(user: User, *, unit_ids: Iterable[int] | None = None) -> QuerySet[Person]:
    """Persons the user may see today, optionally limited to some of the user's units."""
    if not user.is_authenticated:
        return Person.objects.none()
    if user.role == Role.SERVICE_USER:
        return Person.objects.filter(pk=user.person_id) if user.person_id else Person.objects.none()
    if user.role not in STAFF_ROLES:
        return Person.objects.none()
    allowed = set(user_unit_ids(user))
    if unit_ids is not None:
        allowed &= set(unit_ids)
    episodes = responsible_episodes().filter(person=OuterRef("pk"), unit_id__in=allowed)
    return Person.objects.filter(Exists(episodes))


def _deny(user: User | None, *, pid: str, action: str, resource: str, channel: str, reason: str) -> AccessDenied:
    actor, role = _actor(user)
    denial = AccessDenied(
        NO_ACCESS_MESSAGE,
        AuditEvent(actor=actor, actor_role=role, action=action, outcome="denied", resource=resource,
                   person_pid=pid[:12], purpose=reason, channel=channel),
    )
    if not connection.in_atomic_block:
        denial.record()
    return denial


def open_person(
    user: User,
    person: Person | str,
    *,
    action: str = "read",
    resource: str = "person",
    channel: str = "web",
    detail: dict[str, Any] | None = None,
) -> tuple[Person, CareRelationship]:
    """Authorize one access to one person's data and audit it; raise AccessDenied otherwise."""
    person, relationship, event = authorize_person(user, person, action=action, resource=resource, channel=channel,
                                                   detail=detail)
    record_one(event)
    return person, relationship


def authorize_person(
    user: User,
    person: Person | str,
    *,
    action: str = "read",
    resource: str = "person",
    channel: str = "web",
    detail: dict[str, Any] | None = None,
    remember_units: bool = True,
) -> tuple[Person, CareRelationship, AuditEvent]:
    """``open_person`` for a write that appends its audit entry itself, last, in the write's transaction.

    Refusals are audited as in ``open_person``; the allowed access is returned as the event the
    caller must record (``audit.services.record``) before its transaction commits. Appending
    last keeps the audit chain's lock for the shortest time. ``remember_units``: see ``care_relationship``.
    """
    if isinstance(person, str):
        found = Person.objects.select_related("municipality").filter(pid=person).first()
        if found is None:
            raise _deny(user, pid=person, action=action, resource=resource, channel=channel,
                        reason="no such person")
        person = found
    relationship = care_relationship(user, person, remember_units=remember_units)
    if relationship is None:
        raise _deny(user, pid=person.pid, action=action, resource=resource, channel=channel,
                    reason="no care relationship")
    return person, relationship, _allowed(user, person, relationship, action=action, resource=resource,
                                          channel=channel, detail=detail)


def authorize_write(
    user: User,
    pid: str,
    *,
    resource: str,
    channel: str,
    detail: dict[str, Any] | None = None,
) -> tuple[Person, CareRelationship, AuditEvent]:
    """``authorize_person(user, pid, action="create", remember_units=False)`` in one query for a staff user.

    The person and the user's care relationship with them are read together. When that finds nothing
    (no such person, or no relationship), and for other roles, ``authorize_person`` decides and audits
    the refusal exactly as ever. For the API's create, where every round trip counts.
    """
    if user.is_authenticated and user.role in STAFF_ROLES and getattr(user, "_helhet_unit_ids", None) is None:
        today = dt.date.today()
        rows = _run(_person_and_episode_sql(today, today, connection.vendor),
                    {_PID_SENTINEL: pid, _USER_SENTINEL: user.pk})
        if rows:
            person = instance_from_row(Person, rows[0][:len(_PERSON_FIELDS)])
            relationship = _episode_relationship(*rows[0][len(_PERSON_FIELDS):])
            return person, relationship, _allowed(user, person, relationship, action="create", resource=resource,
                                                  channel=channel, detail=detail)
    return authorize_person(user, pid, action="create", resource=resource, channel=channel, detail=detail,
                            remember_units=False)


def _allowed(user: User, person: Person, relationship: CareRelationship, *, action: str, resource: str,
             channel: str, detail: dict[str, Any] | None) -> AuditEvent:
    actor, role = _actor(user)
    return AuditEvent(actor=actor, actor_role=role, action=action, resource=resource, person_pid=person.pid,
                      purpose=relationship.description, channel=channel, detail=detail or {})


def audit_person_list(user: User, pids: list[str], *, channel: str = "web", resource: str = "worklist",
                      detail: dict[str, Any] | None = None) -> None:
    """Record that a list of persons was shown: one entry naming every person in it."""
    actor, role = _actor(user)
    record([AuditEvent(actor=actor, actor_role=role, action="list", resource=resource,
                       purpose="care relationship via own units" if role != Role.SERVICE_USER else "own record",
                       channel=channel, detail={"persons": pids, **(detail or {})})])


def require_role(user: User, roles: Iterable[str]) -> None:
    if not user.is_authenticated or user.role not in set(roles):
        raise AccessDenied(NO_ROLE_MESSAGE)


def system_event(command: str, action: str, *, person_pid: str = "", detail: dict[str, Any] | None = None,
                 resource: str = "") -> AuditEvent:
    """An audit event for work done by a system command (synth, import) rather than a user."""
    return AuditEvent(actor=f"system:{command}", actor_role="system", action=action, person_pid=person_pid,
                      resource=resource, channel="cli", detail=detail or {})

