"""One person's pathway across levels as a single, dated list of events.

The timeline reads each kind of record once (a fixed number of queries, whatever the length of
the pathway) and turns the rows into `TimelineEvent`s, newest first. The caller has already
opened the person through `access.open_person`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helhet.organisations.models import ServiceUnit
from helhet.pathways.models import (
    Coordinator,
    Encounter,
    EncounterKind,
    EpisodeOfCare,
    EvaluationPoint,
    IndividualPlan,
    NextOfKinContact,
    PathwayDecision,
    Referral,
    ReferralStatus,
    ResponsibilityGroup,
    ResponsibilityGroupMeeting,
)
from helhet.persons.models import Person

# Event kinds (CSS classes and filter values), in the order events of one day are listed.
KIND_LABELS = {
    "episode": gettext_lazy("Episodes of care"), "referral": gettext_lazy("Referrals"),
    "decision": gettext_lazy("Clinical decisions"), "admission": gettext_lazy("Admissions"),
    "discharge": gettext_lazy("Discharges"), "contact": gettext_lazy("Contacts"),
    "evaluation": gettext_lazy("Evaluation points"), "plan": gettext_lazy("Individual plan"),
    "coordinator": gettext_lazy("Coordinator"), "group": gettext_lazy("Responsibility group"),
    "meeting": gettext_lazy("Responsibility group meetings"), "next_of_kin": gettext_lazy("Next-of-kin contacts"),
}
KINDS = tuple(KIND_LABELS)


@dataclass(frozen=True)
class TimelineEvent:
    day: dt.date
    kind: str
    title: str
    detail: str = ""
    unit: str = ""
    unit_kind: str = ""  # municipal / dps / tsb / ward / act / fact: the lane
    status: str = ""  # a short badge
    tone: str = ""  # "", "ok", "warn", "bad": the badge colour


@dataclass
class Timeline:
    events: list[TimelineEvent]
    open_admissions: list[Encounter]
    open_referrals: list[Referral]  # sent or received, not yet assessed
    accepted_referrals: list[Referral]  # for clinical decisions
    episodes: list[EpisodeOfCare]
    current_plan: IndividualPlan | None
    current_coordinator: Coordinator | None


def _unit(unit: ServiceUnit | None) -> tuple[str, str]:
    return (unit.name, unit.kind) if unit is not None else ("", "")


def _d(day: dt.date) -> str:
    from django.utils.formats import date_format

    return date_format(day, "SHORT_DATE_FORMAT")


def _referral_events(referral: Referral, decisions: list[PathwayDecision]) -> list[TimelineEvent]:
    to_name, to_kind = _unit(referral.to_unit)
    sender = referral.from_unit.name if referral.from_unit is not None else referral.from_description or _("unknown")
    pathway = f" · {referral.get_pathway_type_display()}" if referral.pathway_type else ""
    events = [TimelineEvent(referral.sent_date, "referral", _("Referral sent to %(unit)s") % {"unit": to_name},
                            _("From %(sender)s") % {"sender": sender} + pathway, to_name, to_kind,
                            referral.get_status_display(),
                            {ReferralStatus.REJECTED: "bad", ReferralStatus.ACCEPTED: "ok"}.get(
                                ReferralStatus(referral.status), "warn"))]
    if referral.received_date and referral.received_date != referral.sent_date:
        events.append(TimelineEvent(referral.received_date, "referral", _("Referral received"), "", to_name, to_kind))
    if referral.assessed_date:
        if referral.status == ReferralStatus.REJECTED:
            reason = referral.get_rejection_reason_display()
            note = f": {referral.rejection_note}" if referral.rejection_note else ""
            events.append(TimelineEvent(referral.assessed_date, "referral", _("Referral rejected"),
                                        f"{reason}{note}", to_name, to_kind, _("Rejected"), "bad"))
        elif referral.status == ReferralStatus.ACCEPTED:
            detail = (_("Pathway %(type)s starts") % {"type": referral.get_pathway_type_display()}
                      if referral.pathway_type else "")
            events.append(TimelineEvent(referral.assessed_date, "referral", _("Referral accepted"), detail,
                                        to_name, to_kind, _("Accepted"), "ok"))
    for decision in decisions:
        events.append(TimelineEvent(decision.decided_on, "decision", _("Clinical decision"),
                                    f"{decision.get_decision_display()}{pathway}", to_name, to_kind))
    return events


def build_timeline(person: Person) -> Timeline:
    """Every pathway record of the person, in 10 queries whether there are none or hundreds."""
    events: list[TimelineEvent] = []
    episodes = list(EpisodeOfCare.objects.filter(person=person).select_related("unit").order_by("-start_date"))
    for episode in episodes:
        name, kind = _unit(episode.unit)
        period = (_("until %(date)s") % {"date": _d(episode.end_date)}) if episode.end_date else _("ongoing")
        events.append(TimelineEvent(episode.start_date, "episode", _("Episode of care in %(unit)s") % {"unit": name},
                                    period, name, kind, episode.get_status_display(),
                                    "ok" if episode.status == "active" else ""))
    referrals = list(Referral.objects.filter(person=person).select_related("from_unit", "to_unit"))
    # Explicit queries rather than prefetch_related, which skips its query when there are no rows.
    decisions: dict[int, list[PathwayDecision]] = {}
    for decision in PathwayDecision.objects.filter(referral__person=person).order_by("decided_on"):
        decisions.setdefault(decision.referral_id, []).append(decision)
    for referral in referrals:
        events += _referral_events(referral, decisions.get(referral.pk, []))
    encounters = list(Encounter.objects.filter(person=person).select_related("unit").order_by("-start_date", "-pk"))
    for encounter in encounters:
        name, kind = _unit(encounter.unit)
        if encounter.kind == EncounterKind.ADMISSION:
            events.append(TimelineEvent(encounter.start_date, "admission", _("Admitted to %(unit)s") % {"unit": name},
                                        "", name, kind, "" if encounter.end_date else _("Inpatient"), "warn"))
            if encounter.end_date:
                housing = encounter.get_housing_at_discharge_display() or _("not recorded")
                events.append(TimelineEvent(encounter.end_date, "discharge",
                                            _("Discharged from %(unit)s") % {"unit": name},
                                            _("Housing at discharge: %(housing)s") % {"housing": housing}, name, kind,
                                            housing, "ok" if encounter.housing_at_discharge == "permanent" else "warn"))
        else:
            staff = (_("%(n)d staff") % {"n": encounter.staff_count}) if encounter.staff_count > 1 else ""
            minutes = (_("%(n)d min") % {"n": encounter.minutes}) if encounter.minutes else ""
            events.append(TimelineEvent(encounter.start_date, "contact", _("Contact"),
                                        " · ".join(x for x in (encounter.get_mode_display(), staff, minutes) if x),
                                        name, kind))
    plans = list(IndividualPlan.objects.filter(person=person).select_related("responsible_unit")
                 .order_by("-status_date", "-pk"))
    for plan in plans:
        name, kind = _unit(plan.responsible_unit)
        events.append(TimelineEvent(plan.status_date, "plan", _("Individual plan (IP)"), "", name, kind,
                                    plan.get_status_display(), "ok" if plan.status in ("active", "revised") else ""))
    coordinators = list(Coordinator.objects.filter(person=person).select_related("unit").order_by("-start_date"))
    for coordinator in coordinators:
        name, kind = _unit(coordinator.unit)
        period = (_("until %(date)s") % {"date": _d(coordinator.end_date)}) if coordinator.end_date else ""
        events.append(TimelineEvent(coordinator.start_date, "coordinator", _("Coordinator: %(name)s")
                                    % {"name": coordinator.name}, period, name, kind))
    meetings: dict[int, list[ResponsibilityGroupMeeting]] = {}
    for meeting in ResponsibilityGroupMeeting.objects.filter(group__person=person).order_by("-held_on"):
        meetings.setdefault(meeting.group_id, []).append(meeting)
    for group in ResponsibilityGroup.objects.filter(person=person):
        members = ", ".join(m.get("name", "") + (f" ({m['role']})" if m.get("role") else "") for m in group.members)
        events.append(TimelineEvent(group.established_on, "group", _("Responsibility group established"), members))
        for meeting in meetings.get(group.pk, []):
            events.append(TimelineEvent(meeting.held_on, "meeting", _("Responsibility group meeting"),
                                        meeting.summary[:200]))
    for contact in NextOfKinContact.objects.filter(person=person).select_related("unit"):
        name, kind = _unit(contact.unit)
        events.append(TimelineEvent(contact.contact_date, "next_of_kin", _("Next-of-kin contact"),
                                    " · ".join(x for x in (contact.relation, contact.note) if x), name, kind))
    for evaluation in EvaluationPoint.objects.filter(person=person).select_related("episode__unit"):
        name, kind = _unit(evaluation.episode.unit if evaluation.episode else None)
        parts = []
        if evaluation.benefit:
            parts.append(_("benefit %(n)d/5") % {"n": evaluation.benefit})
        parts += [x for x in (evaluation.status_note, evaluation.further_needs) if x]
        events.append(TimelineEvent(evaluation.evaluated_on, "evaluation", _("Evaluation point"), " · ".join(parts),
                                    name, kind, _("Plan update needed") if evaluation.plan_update_needed else "",
                                    "warn" if evaluation.plan_update_needed else ""))
    order = {kind: index for index, kind in enumerate(KINDS)}
    events.sort(key=lambda event: (event.day, order[event.kind]), reverse=True)
    today = dt.date.today()
    current_coordinator = next((c for c in coordinators if c.start_date <= today
                                and (c.end_date is None or c.end_date >= today)), None)
    return Timeline(
        events=events,
        open_admissions=[e for e in encounters if e.kind == EncounterKind.ADMISSION and e.end_date is None],
        open_referrals=[r for r in referrals if r.status in (ReferralStatus.SENT, ReferralStatus.RECEIVED)],
        accepted_referrals=[r for r in referrals if r.status == ReferralStatus.ACCEPTED],
        episodes=episodes,
        current_plan=plans[0] if plans else None,
        current_coordinator=current_coordinator,
    )
