"""Alerts before anyone falls between two chairs: computed from the pathway data, never stored.

Each rule is one set-based query (or two) over the persons in scope, so the worklist for a
unit costs the same number of queries for 20 persons as for 2,000, and an alert disappears
as soon as the data that resolves it is recorded. Intervals are configuration: the defaults
below, overridden key by key by the Django setting `HELHET_ALERT_INTERVALS`.

Decisions:
- "Concurrent services" counts active or on-hold episodes in different units today
  (a waiting-list episode is not yet a service).
- Evaluation points (pakkeforløp, systematic evaluation) apply to TSB episodes by default: the
  8/6-week rule is written for TSB. `HELHET_ALERT_EVALUATION_UNIT_KINDS` can add "dps".
- Where a rule needs "since care began", that is the start of the earliest episode that
  makes a unit responsible for the person today.
- One alert per person and rule: the oldest unresolved one.
- A follow-up contact or an accepted referral resolves the alert whenever it comes, even late:
  the worklist is for acting, and a late contact is the action. Discharges and rejections older
  than `lookback_days` (default 365) are history for the indicators, not worklist items.
- "No somatic check" reads the assessment app's `Administration` (instrument "somatic-health",
  `administered_on`); while that model does not exist the rule finds nothing. A person new to
  care gets 12 months from the start of care before the alert.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format, get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from helhet.organisations.models import UnitKind
from helhet.pathways.models import (
    Coordinator,
    Encounter,
    EncounterKind,
    EpisodeStatus,
    EvaluationPoint,
    HousingStatus,
    NextOfKinContact,
    Referral,
    ReferralStatus,
    RejectionReason,
    responsible_episodes,
)
from helhet.persons.models import Person

DEFAULT_ALERT_INTERVALS: dict[str, int] = {
    "discharge_contact_days": 7,  # follow-up contact after an inpatient discharge (indicator 6)
    "rejected_referral_days": 14,  # an accepted referral elsewhere after a rejection
    "concurrent_services_days": 0,  # grace before a coordinator is missed with two or more services
    "evaluation_outpatient_days": 56,  # pakkeforløp TSB: evaluation at least every 8 weeks outpatient
    "evaluation_inpatient_days": 42,  # ... and every 6 weeks inpatient
    "evaluation_first_year_days": 365,  # ... in the first year of the episode
    "somatic_check_days": 365,  # somatic health check in the last 12 months (indicator 3)
    "next_of_kin_days": 30,  # next-of-kin contact where the person consented (indicator 7)
    "lookback_days": 365,  # discharges and rejections older than this no longer raise an alert
}
DEFAULT_EVALUATION_UNIT_KINDS: tuple[str, ...] = (UnitKind.TSB,)
SOMATIC_INSTRUMENT = "somatic-health"
MAX_LISTED_SCOPE = 10_000
SERVICE_STATUSES = (EpisodeStatus.ACTIVE, EpisodeStatus.ONHOLD)


def alert_intervals(overrides: dict[str, int] | None = None) -> dict[str, int]:
    intervals = dict(DEFAULT_ALERT_INTERVALS)
    intervals.update(getattr(settings, "HELHET_ALERT_INTERVALS", None) or {})
    intervals.update(overrides or {})
    return intervals


def evaluation_unit_kinds() -> tuple[str, ...]:
    return tuple(getattr(settings, "HELHET_ALERT_EVALUATION_UNIT_KINDS", None) or DEFAULT_EVALUATION_UNIT_KINDS)


@dataclass(frozen=True)
class PersonInScope:
    id: int
    pid: str
    name: str
    care_start: dt.date | None
    consent_next_of_kin: bool


@dataclass(frozen=True)
class Finding:
    """What a rule found for one person: since when the alert holds, and why (already translated)."""

    person_id: int
    since: dt.date
    why: str


@dataclass(frozen=True)
class Alert:
    pid: str
    person_name: str
    rule: str
    title: str
    why: str
    since: dt.date
    action_url: str
    action_label: str
    person_url: str = ""  # the person's pathway timeline

    @property
    def since_display(self) -> str:
        return _d(self.since)


@dataclass
class RuleContext:
    day: dt.date
    intervals: dict[str, int]
    scope: QuerySet[Person, Any] | list[int]  # the persons' ids, for `person_id__in`; never queried per person
    persons: dict[int, PersonInScope]


RuleFunction = Callable[[RuleContext], list[Finding]]


@dataclass(frozen=True)
class AlertRule:
    code: str
    title: str  # English, translated when shown
    action_label: str
    action_urls: tuple[str | tuple[str, dict[str, str]], ...]  # URL names taking `pid` (and extra kwargs)
    function: RuleFunction


ALERT_RULES: list[AlertRule] = []


def alert_rule(*, code: str, title: str, action_label: str,
               action_urls: tuple[str | tuple[str, dict[str, str]], ...]) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule; other apps may add theirs from their own alerts.py."""

    def register(function: RuleFunction) -> RuleFunction:
        ALERT_RULES[:] = [rule for rule in ALERT_RULES if rule.code != code]
        ALERT_RULES.append(AlertRule(code, title, action_label, action_urls, function))
        return function

    return register


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


_STRFTIME = {"d": "%d", "m": "%m", "Y": "%Y", "y": "%y"}


def _d(day: dt.date) -> str:
    """The active language's short date; strftime when the format allows it (date_format is slow in bulk)."""
    django_format = get_format("SHORT_DATE_FORMAT")
    pattern = _strftime_pattern(django_format)
    return day.strftime(pattern) if pattern else date_format(day, "SHORT_DATE_FORMAT")


@functools.lru_cache(maxsize=16)
def _strftime_pattern(django_format: str) -> str:
    pattern = ""
    for char in django_format:
        if char in _STRFTIME:
            pattern += _STRFTIME[char]
        elif char.isalpha() or char == "\\":
            return ""
        else:
            pattern += char.replace("%", "%%")
    return pattern


@alert_rule(code="discharge_no_contact", title=gettext_noop("Discharged without follow-up contact"),
            action_label=gettext_noop("Register contact"), action_urls=("pathways:contact_new",))
def discharge_without_contact(ctx: RuleContext) -> list[Finding]:
    interval = ctx.intervals["discharge_contact_days"]
    readmitted = Encounter.objects.filter(person_id=OuterRef("person_id"), kind=EncounterKind.ADMISSION,
                                          start_date__gte=OuterRef("end_date")).exclude(pk=OuterRef("pk"))
    # A contact after the discharge day, or on that day from another unit (the ward's own goodbye does not count).
    followed_up = Encounter.objects.filter(
        Q(start_date__gt=OuterRef("end_date")) | (Q(start_date=OuterRef("end_date")) & ~Q(unit_id=OuterRef("unit_id"))),
        person_id=OuterRef("person_id"), kind=EncounterKind.CONTACT,
    )
    rows = (Encounter.objects
            .filter(person_id__in=ctx.scope, kind=EncounterKind.ADMISSION, end_date__isnull=False,
                    end_date__lt=ctx.day - _days(interval),
                    end_date__gte=ctx.day - _days(ctx.intervals["lookback_days"]))
            .exclude(Exists(readmitted)).exclude(Exists(followed_up))
            .values_list("person_id", "end_date", "unit__name", "housing_at_discharge"))
    housing = {code: str(label) for code, label in HousingStatus.choices}
    why = _("Discharged from %(unit)s on %(date)s (housing: %(housing)s); no contact in the %(days)d days after, "
            "and none since.")
    not_recorded = _("not recorded")
    findings = []
    for person_id, end, unit, status in rows:
        assert end is not None  # filtered above
        findings.append(Finding(person_id, end + _days(interval + 1),
                                why % {"unit": unit, "date": _d(end), "days": interval,
                                       "housing": housing.get(status, not_recorded)}))
    return findings


@alert_rule(code="referral_rejected", title=gettext_noop("Referral rejected, no other service has accepted"),
            action_label=gettext_noop("Send a new referral"), action_urls=("pathways:referral_new",))
def rejected_referral(ctx: RuleContext) -> list[Finding]:
    interval = ctx.intervals["rejected_referral_days"]
    accepted_since = Referral.objects.filter(person_id=OuterRef("person_id"), status=ReferralStatus.ACCEPTED,
                                             assessed_date__gte=OuterRef("sent_date")).exclude(pk=OuterRef("pk"))
    rows = (Referral.objects
            .filter(person_id__in=ctx.scope, status=ReferralStatus.REJECTED)
            .annotate(rejected_on=Coalesce("assessed_date", "received_date", "sent_date"))
            .filter(rejected_on__lt=ctx.day - _days(interval),
                    rejected_on__gte=ctx.day - _days(ctx.intervals["lookback_days"]))
            .exclude(Exists(accepted_since))
            .values_list("person_id", "rejected_on", "to_unit__name", "rejection_reason"))
    reasons = {code: str(label) for code, label in RejectionReason.choices}
    why = _("%(unit)s rejected the referral on %(date)s (%(reason)s); no referral accepted elsewhere since.")
    no_reason = _("no reason given")
    return [Finding(person_id, rejected + _days(interval + 1),
                    why % {"unit": unit, "date": _d(rejected), "reason": reasons.get(reason, no_reason)})
            for person_id, rejected, unit, reason in rows]


@alert_rule(code="no_coordinator", title=gettext_noop("Several services, no coordinator"),
            action_label=gettext_noop("Assign coordinator"), action_urls=("pathways:coordinator_new",))
def concurrent_services_without_coordinator(ctx: RuleContext) -> list[Finding]:
    grace = ctx.intervals["concurrent_services_days"]
    day = ctx.day
    coordinated = set(Coordinator.objects.filter(Q(end_date__isnull=True) | Q(end_date__gte=day),
                                                 person_id__in=ctx.scope, start_date__lte=day)
                      .values_list("person_id", flat=True))
    episodes = (responsible_episodes(day).filter(person_id__in=ctx.scope, status__in=SERVICE_STATUSES)
                .values_list("person_id", "unit_id", "unit__name", "start_date"))
    by_person: dict[int, dict[int, tuple[dt.date, str]]] = defaultdict(dict)
    for person_id, unit_id, unit_name, start in episodes:
        if person_id in coordinated:
            continue
        known = by_person[person_id].get(unit_id)
        if known is None or start < known[0]:
            by_person[person_id][unit_id] = (start, unit_name)
    findings = []
    why = _("%(count)d services at once (%(units)s) and no coordinator.")
    for person_id, units in by_person.items():
        if len(units) < 2:
            continue
        starts = sorted(units.values())
        since = starts[1][0] + _days(grace)
        if since <= day:
            names = ", ".join(sorted(name for _start, name in starts))
            findings.append(Finding(person_id, since, why % {"count": len(units), "units": names}))
    return findings


@alert_rule(code="evaluation_overdue", title=gettext_noop("Evaluation point overdue"),
            action_label=gettext_noop("Record evaluation"), action_urls=("pathways:evaluation_new",))
def evaluation_overdue(ctx: RuleContext) -> list[Finding]:
    iv, day = ctx.intervals, ctx.day
    first_year = iv["evaluation_first_year_days"]
    last_evaluation = (EvaluationPoint.objects.filter(person_id=OuterRef("person_id"),
                                                      evaluated_on__gte=OuterRef("start_date"))
                       .order_by("-evaluated_on").values("evaluated_on")[:1])
    rows = (responsible_episodes(day)
            .filter(person_id__in=ctx.scope, status__in=SERVICE_STATUSES, unit__kind__in=evaluation_unit_kinds(),
                    start_date__gt=day - _days(first_year + max(iv["evaluation_outpatient_days"],
                                                                iv["evaluation_inpatient_days"])))
            .annotate(last_evaluation=Subquery(last_evaluation))
            .values_list("person_id", "start_date", "unit__name", "unit__inpatient", "last_evaluation"))
    findings = []
    since_last = _("Last evaluation point in %(unit)s on %(date)s; due every %(weeks)d weeks in the first year.")
    none_yet = _("No evaluation point since the episode in %(unit)s started on %(date)s; due every %(weeks)d weeks "
                 "in the first year.")
    for person_id, start, unit, inpatient, last in rows:
        interval = iv["evaluation_inpatient_days"] if inpatient else iv["evaluation_outpatient_days"]
        due = (last or start) + _days(interval)
        if due < day and due <= start + _days(first_year):
            if last is not None:
                why = since_last % {"unit": unit, "date": _d(last), "weeks": interval // 7}
            else:
                why = none_yet % {"unit": unit, "date": _d(start), "weeks": interval // 7}
            findings.append(Finding(person_id, due + _days(1), why))
    return findings


def somatic_check_model() -> Any | None:
    """The assessment app's Administration model, when it exists (instrument "somatic-health", administered_on)."""
    try:
        return apps.get_model("assessment", "Administration")
    except LookupError:
        return None


def latest_somatic_checks(scope: QuerySet[Person, Any] | list[int]) -> dict[int, dt.date]:
    """Person id -> date of the latest somatic health check, in one query (empty without the assessment app)."""
    model = somatic_check_model()
    if model is None:
        return {}
    latest = (model.objects.filter(person_id__in=scope, instrument_id=SOMATIC_INSTRUMENT).order_by()
              .values("person_id").annotate(last=Max("administered_on")).values_list("person_id", "last"))
    return {person_id: (last.date() if isinstance(last, dt.datetime) else last)
            for person_id, last in latest if last is not None}


@alert_rule(code="no_somatic_check", title=gettext_noop("No somatic health check in 12 months"),
            action_label=gettext_noop("Record somatic health check"), action_urls=(("assessment:fill-in", {"instrument_id": SOMATIC_INSTRUMENT}), "person"))
def no_somatic_check(ctx: RuleContext) -> list[Finding]:
    if somatic_check_model() is None:
        return []
    interval = ctx.intervals["somatic_check_days"]
    last_check = latest_somatic_checks(ctx.scope)
    findings = []
    since_last = _("Last somatic health check on %(date)s.")
    none_yet = _("No somatic health check recorded since care began on %(date)s.")
    for person in ctx.persons.values():
        if person.care_start is None:
            continue
        last = last_check.get(person.id)
        anchor = max(last, person.care_start) if last is not None else person.care_start
        due = anchor + _days(interval)
        if due < ctx.day:
            why = since_last % {"date": _d(last)} if last is not None else none_yet % {"date": _d(anchor)}
            findings.append(Finding(person.id, due + _days(1), why))
    return findings


@alert_rule(code="next_of_kin", title=gettext_noop("No next-of-kin contact although the person consented"),
            action_label=gettext_noop("Register next-of-kin contact"), action_urls=("pathways:next_of_kin_new",))
def no_next_of_kin_contact(ctx: RuleContext) -> list[Finding]:
    interval = ctx.intervals["next_of_kin_days"]
    latest = dict(NextOfKinContact.objects.filter(person_id__in=ctx.scope).values("person_id")
                  .annotate(last=Max("contact_date")).values_list("person_id", "last"))
    findings = []
    why = _("Consented to next-of-kin involvement; no contact since care began on %(date)s.")
    for person in ctx.persons.values():
        if not person.consent_next_of_kin or person.care_start is None:
            continue
        last = latest.get(person.id)
        due = person.care_start + _days(interval)
        if due < ctx.day and (last is None or last < person.care_start):
            findings.append(Finding(person.id, due + _days(1), why % {"date": _d(person.care_start)}))
    return findings


def _action_url_template(rule: AlertRule) -> str:
    """The rule's action URL with a placeholder for the pid (one reverse() per rule, not per alert)."""
    for entry in (*rule.action_urls, "person"):
        name, extra = (entry, {}) if isinstance(entry, str) else entry
        try:
            return reverse(name, kwargs={"pid": PID_PLACEHOLDER, **extra})
        except NoReverseMatch:
            continue
    raise NoReverseMatch(f"no action URL for alert rule {rule.code}")


PID_PLACEHOLDER = "P-00000000"


def compute_alerts(persons: QuerySet[Person], *, day: dt.date | None = None,
                   intervals: dict[str, int] | None = None, rules: list[str] | None = None) -> list[Alert]:
    """The alerts for a set of persons (already limited to what the caller may see), oldest first."""
    day = day or dt.date.today()
    care_start = (responsible_episodes(day).filter(person_id=OuterRef("pk"), status__in=SERVICE_STATUSES)
                  .order_by("start_date").values("start_date")[:1])
    rows = (persons.order_by().annotate(care_start=Subquery(care_start))
            .values_list("pk", "pid", "given_name", "family_name", "care_start", "consent_next_of_kin"))
    in_scope = {pk: PersonInScope(pk, pid, f"{given} {family}", start, consent)
                for pk, pid, given, family, start, consent in rows}
    if not in_scope:
        return []
    # SQLite re-evaluates an IN (subquery) scope in every rule's query, so there the ids go as a list
    # (up to a limit on query parameters); PostgreSQL plans the subquery as a semi-join, faster than
    # planning a long IN list.
    listed = connection.vendor == "sqlite" and len(in_scope) <= MAX_LISTED_SCOPE
    scope: Any = list(in_scope) if listed else persons.order_by().values("pk")
    ctx = RuleContext(day=day, intervals=alert_intervals(intervals), scope=scope, persons=in_scope)
    alerts: list[Alert] = []
    timeline_url = reverse("pathways:timeline", kwargs={"pid": PID_PLACEHOLDER})
    for rule in ALERT_RULES:
        if rules is not None and rule.code not in rules:
            continue
        url_template = _action_url_template(rule)
        title, action_label = _(rule.title), _(rule.action_label)
        oldest: dict[int, Finding] = {}
        for finding in rule.function(ctx):
            if finding.person_id in in_scope and (finding.person_id not in oldest
                                                  or finding.since < oldest[finding.person_id].since):
                oldest[finding.person_id] = finding
        for finding in oldest.values():
            person = in_scope[finding.person_id]
            alerts.append(Alert(pid=person.pid, person_name=person.name, rule=rule.code, title=title,
                                why=finding.why, since=finding.since,
                                action_url=url_template.replace(PID_PLACEHOLDER, person.pid),
                                action_label=action_label, person_url=timeline_url.replace(PID_PLACEHOLDER, person.pid)))
    alerts.sort(key=lambda alert: (alert.since, alert.person_name, alert.rule))
    return alerts


def rule_titles() -> list[tuple[str, str]]:
    return [(rule.code, _(rule.title)) for rule in ALERT_RULES]

