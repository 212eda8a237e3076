"""Recording the pathway in everyday work: referrals, admissions, contacts, plans and the people around the person.

Every function authorizes the person through `access.open_person` (audited as "create" or
"update"), validates everything before it writes, and writes inside one transaction, so a
refusal or a bad value leaves nothing behind. Bad input raises `PathwayError`, whose `field`
names the form field the message belongs to.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helhet.accounts.access import open_person, require_role, user_unit_ids
from helhet.accounts.models import STAFF_ROLES, User
from helhet.organisations.models import ServiceUnit, UnitKind
from helhet.pathways.models import (
    RESPONSIBLE_STATUSES,
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
    RejectionReason,
    ResponsibilityGroup,
    ResponsibilityGroupMeeting,
)
from helhet.persons.models import Person

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

# Pakkeforløp: at most two clinical decisions per pathway (Helsedirektoratet, 2019).
MAX_DECISIONS_PER_PATHWAY = 2
INPATIENT_KINDS = (UnitKind.WARD,)
# What the rules below name in a refusal, translated only when a refusal is made (the bulk import checks thousands
# of records that pass).
CONTACT_MODE, CLINICAL_DECISION = gettext_lazy("contact mode"), gettext_lazy("clinical decision")
DECISION_DATE, DISCHARGE_DATE = gettext_lazy("decision date"), gettext_lazy("discharge date")


class PathwayError(ValueError):
    """The pathway cannot be recorded as asked; the message says why, `field` says where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _today() -> dt.date:
    return dt.date.today()


def _not_future(day: dt.date, field: str, what: str) -> None:
    check_not_future(day, field, what)


def _unit_by_code(code: str | ServiceUnit, field: str) -> ServiceUnit:
    if isinstance(code, ServiceUnit):
        return code
    return usable_unit(ServiceUnit.objects.filter(code=(code or "").strip()).first(), code, field)


def _own_unit(user: User, unit: str | ServiceUnit, field: str = "unit") -> ServiceUnit:
    found = _unit_by_code(unit, field)
    if found.pk not in user_unit_ids(user):
        raise PathwayError(_("You do not work in %(code)s; record this in one of your own units.") % {"code": found.code}, field)
    return found


def _open(user: User, pid: str, *, action: str, resource: str, channel: str) -> Person:
    require_role(user, STAFF_ROLES)  # service users read their pathway; staff record it
    person, _relationship = open_person(user, pid, action=action, resource=resource, channel=channel)
    return person


# Rules -------------------------------------------------------------------------------------------------------
# One copy of each pathway rule. The service functions below (forms, CLI) and the FHIR exchange
# (`fhir_resources.py`: create and bulk import) both call these; they take values, not requests, so
# the bulk import can check thousands of records without a query per record.


def check_not_future(day: dt.date | None, field: str | None, what: str | StrPromise, *,
                     today: dt.date | None = None) -> None:
    if day is not None and day > (today or _today()):
        raise PathwayError(_("The %(what)s (%(day)s) is in the future.") % {"what": what, "day": day.isoformat()}, field)


def check_in_order(start: dt.date, end: dt.date | None, field: str | None, message: str) -> None:
    """`end` (when given) is not before `start`; `message` is the refusal (already translated)."""
    if end is not None and end < start:
        raise PathwayError(message, field)


def usable_unit(unit: ServiceUnit | None, code: object, field: str | None) -> ServiceUnit:
    """A unit named by its code must be registered and still active."""
    if unit is None:
        raise PathwayError(_("Unknown unit %(code)r: use the code of a registered unit or team.") % {"code": code}, field)
    if not unit.active:
        raise PathwayError(_("The unit %(code)s is no longer active.") % {"code": unit.code}, field)
    return unit


@functools.cache
def choice_values(choices: type[models.Choices]) -> frozenset[str]:
    """The codes of a choices class, made once: ``Choices.values`` rebuilds its list (with the translated labels)
    on every access, and the imports ask per row."""
    return frozenset(choices.values)


def check_choice(value: str, choices: type[models.Choices], field: str | None, what: str | StrPromise) -> None:
    if value not in choice_values(choices):
        raise PathwayError(_("Unknown %(what)s %(value)r.") % {"what": what, "value": value}, field)


def check_inpatient(unit: ServiceUnit) -> None:
    if not (unit.inpatient or unit.kind in INPATIENT_KINDS):
        raise PathwayError(_("%(unit)s is not an inpatient unit; record a contact instead.") % {"unit": unit.name},
                           "unit")


def check_discharge(admitted_on: dt.date, discharged_on: dt.date, *, today: dt.date | None = None) -> None:
    check_not_future(discharged_on, "date", DISCHARGE_DATE, today=today)
    check_in_order(admitted_on, discharged_on, "date", _("The discharge (%(end)s) cannot be before the admission "
                                                         "(%(start)s).") % {"end": discharged_on.isoformat(),
                                                                             "start": admitted_on.isoformat()})


def check_no_overlap(stays: Iterable[tuple[dt.date, dt.date | None]], start: dt.date, end: dt.date | None,
                     unit_code: str) -> None:
    """Two stays in the same unit overlap when each starts before the other ends (open stays never end)."""
    for other_start, other_end in sorted(stays, key=lambda stay: stay[0]):
        if start <= (other_end or dt.date.max) and other_start <= (end or dt.date.max):
            ends = (_("discharged %(day)s") % {"day": other_end.isoformat()} if other_end
                    else _("not yet discharged"))
            raise PathwayError(_("This admission overlaps the admission to %(code)s from %(day)s (%(ends)s).")
                               % {"code": unit_code, "day": other_start.isoformat(), "ends": ends}, "date")


def check_contact(mode: str, staff_count: int, minutes: int | None) -> None:
    check_choice(mode, ContactMode, "mode", CONTACT_MODE)
    if not 1 <= staff_count <= 20:
        raise PathwayError(_("Staff present must be between 1 and 20."), "staff_count")
    if minutes is not None and not 1 <= minutes <= 24 * 60:
        raise PathwayError(_("Minutes must be between 1 and 1440."), "minutes")


def check_referral_units(sender_id: int | None, receiver_id: int) -> None:
    if sender_id is not None and sender_id == receiver_id:
        raise PathwayError(_("A unit cannot refer to itself."), "to_unit")


def check_received(sent_date: dt.date, received_date: dt.date) -> None:
    check_in_order(sent_date, received_date, "date", _("A referral cannot be received before it was sent (%(day)s).")
                   % {"day": sent_date.isoformat()})


def check_assessed(earliest: dt.date, assessed_date: dt.date) -> None:
    check_in_order(earliest, assessed_date, "date", _("The assessment date cannot be before the referral was "
                                                      "received (%(day)s).") % {"day": earliest.isoformat()})


def check_rejection(reason: str, note: str) -> None:
    if not reason:
        raise PathwayError(_("A rejection needs a reason."), "rejection_reason")
    check_choice(reason, RejectionReason, "rejection_reason", _("rejection reason"))
    if reason == RejectionReason.OTHER and not note.strip():
        raise PathwayError(_("Say why in the note when the reason is 'Other'."), "rejection_note")


def check_decisions(*, status: str, pathway_type: str, assessed_date: dt.date | None,
                    decisions: Sequence[tuple[dt.date, str]], today: dt.date | None = None) -> None:
    """The pakkeforløp clinical decisions of one referral: (date, code) pairs, the new one last."""
    if not decisions:
        return
    if status != ReferralStatus.ACCEPTED or not pathway_type:
        raise PathwayError(_("Clinical decisions belong to an accepted referral with a pakkeforløp type."), None)
    for decided_on, decision in decisions:
        check_choice(decision, ClinicalDecision, "decision", CLINICAL_DECISION)
        check_not_future(decided_on, "date", DECISION_DATE, today=today)
        if assessed_date and decided_on < assessed_date:
            raise PathwayError(_("A clinical decision cannot precede the start of the pathway (%(day)s).")
                               % {"day": assessed_date.isoformat()}, "date")
    if len(decisions) > MAX_DECISIONS_PER_PATHWAY:
        raise PathwayError(_("A pathway has at most two clinical decisions; this one has two already."), "decision")


def check_meeting(held_on: dt.date, established_on: dt.date | None) -> None:
    if established_on is not None:
        check_in_order(established_on, held_on, "date", _("The group was established on %(day)s; a meeting cannot "
                                                          "be earlier.") % {"day": established_on.isoformat()})


def check_next_of_kin(consent: bool, relation: str) -> None:
    if not consent:
        raise PathwayError(_("The person has not consented to next-of-kin involvement."), None)
    if not relation.strip():
        raise PathwayError(_("Say who the next of kin is (for example mother, partner)."), "relation")


def check_evaluation(evaluated_on: dt.date, benefit: int | None, episode_start: dt.date | None) -> None:
    if benefit is not None and not 1 <= benefit <= 5:
        raise PathwayError(_("Benefit is judged from 1 (none) to 5 (great)."), "benefit")
    if episode_start is not None:
        check_in_order(episode_start, evaluated_on, "date", _("The episode starts on %(day)s; an evaluation cannot "
                                                              "be earlier.") % {"day": episode_start.isoformat()})


def check_coordinator_name(name: str) -> None:
    if not name.strip():
        raise PathwayError(_("Give the coordinator's name."), "name")


# Referrals -----------------------------------------------------------------------------------------------


@transaction.atomic
def send_referral(*, user: User, pid: str, from_unit: str | ServiceUnit | None, to_unit: str | ServiceUnit,
                  sent_date: dt.date, pathway_type: str = "", from_description: str = "",
                  channel: str = "web") -> Referral:
    """A referral from one of the user's units (or, for imports, from outside: `from_description`) to a unit.

    The receiving unit gets a waiting-list episode (FHIR EpisodeOfCare "waitlist": the unit may
    assess whether the person is eligible), which gives it the care relationship it needs to
    receive and assess the referral; rejecting the referral cancels that episode again.
    """
    person = _open(user, pid, action="create", resource="referral", channel=channel)
    from_description = from_description.strip()[:100]
    if from_unit is None or from_unit == "":
        if not from_description:
            raise PathwayError(_("Say who sent the referral: one of your units, or a description such as 'GP'."),
                               "from_unit")
        sender = None
    else:
        sender = _own_unit(user, from_unit, "from_unit")
    receiver = _unit_by_code(to_unit, "to_unit")
    check_referral_units(sender.pk if sender is not None else None, receiver.pk)
    _not_future(sent_date, "sent_date", _("date sent"))
    if pathway_type:
        check_choice(pathway_type, PathwayType, "pathway_type", _("pathway type"))
    open_referral = Referral.objects.filter(person=person, to_unit=receiver,
                                            status__in=(ReferralStatus.SENT, ReferralStatus.RECEIVED)).first()
    if open_referral is not None:
        raise PathwayError(_("%(code)s already has an open referral for this person (sent %(day)s).")
                           % {"code": receiver.code, "day": open_referral.sent_date.isoformat()}, "to_unit")
    referral = Referral.objects.create(person=person, from_unit=sender, from_description=from_description,
                                       to_unit=receiver, status=ReferralStatus.SENT, sent_date=sent_date,
                                       pathway_type=pathway_type)
    already_responsible = EpisodeOfCare.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=sent_date), person=person, unit=receiver,
        status__in=RESPONSIBLE_STATUSES).exists()
    if not already_responsible:
        EpisodeOfCare.objects.create(person=person, unit=receiver, status=EpisodeStatus.WAITLIST,
                                     start_date=sent_date)
    return referral


def _receivable(user: User, person: Person, referral_id: int) -> Referral:
    referral = Referral.objects.select_related("to_unit", "from_unit").filter(pk=referral_id, person=person).first()
    if referral is None:
        raise PathwayError(_("No such referral for this person."), None)
    if referral.to_unit_id not in user_unit_ids(user):
        raise PathwayError(_("Only the receiving unit (%(code)s) can process this referral.")
                           % {"code": referral.to_unit.code}, None)
    return referral


@transaction.atomic
def receive_referral(*, user: User, pid: str, referral_id: int, received_date: dt.date,
                     channel: str = "web") -> Referral:
    person = _open(user, pid, action="update", resource="referral", channel=channel)
    referral = _receivable(user, person, referral_id)
    if referral.status != ReferralStatus.SENT:
        raise PathwayError(_("The referral is already %(status)s.") % {"status": referral.get_status_display().lower()}, None)
    _not_future(received_date, "date", _("date received"))
    check_received(referral.sent_date, received_date)
    referral.status = ReferralStatus.RECEIVED
    referral.received_date = received_date
    referral.save(update_fields=["status", "received_date"])
    return referral


@transaction.atomic
def assess_referral(*, user: User, pid: str, referral_id: int, assessed_date: dt.date, accept: bool,
                    rejection_reason: str = "", rejection_note: str = "", pathway_type: str = "",
                    channel: str = "web") -> Referral:
    """Accept or reject a referral; a rejection needs a reason. The pakkeforløp starts on the assessment date."""
    person = _open(user, pid, action="update", resource="referral", channel=channel)
    referral = _receivable(user, person, referral_id)
    if referral.status not in (ReferralStatus.SENT, ReferralStatus.RECEIVED):
        raise PathwayError(_("The referral is already %(status)s.") % {"status": referral.get_status_display().lower()}, None)
    _not_future(assessed_date, "date", _("assessment date"))
    check_assessed(referral.received_date or referral.sent_date, assessed_date)
    if pathway_type:
        check_choice(pathway_type, PathwayType, "pathway_type", _("pathway type"))
    waiting = EpisodeOfCare.objects.filter(person=person, unit_id=referral.to_unit_id, status=EpisodeStatus.WAITLIST)
    if accept:
        referral.status = ReferralStatus.ACCEPTED
        referral.rejection_reason = ""
        referral.rejection_note = ""
        waiting.update(status=EpisodeStatus.ACTIVE)
    else:
        check_rejection(rejection_reason, rejection_note)
        referral.status = ReferralStatus.REJECTED
        referral.rejection_reason = rejection_reason
        referral.rejection_note = rejection_note.strip()[:300]
        waiting.filter(start_date__lte=assessed_date).update(status=EpisodeStatus.CANCELLED, end_date=assessed_date)
    if referral.received_date is None:  # assessed without a separate receipt: received when sent
        referral.received_date = referral.sent_date
    referral.assessed_date = assessed_date
    if pathway_type:
        referral.pathway_type = pathway_type
    referral.save()
    return referral


@transaction.atomic
def record_decision(*, user: User, pid: str, referral_id: int, decided_on: dt.date, decision: str,
                    channel: str = "web") -> PathwayDecision:
    """A pakkeforløp clinical decision (at most two per pathway)."""
    person = _open(user, pid, action="create", resource="pathway decision", channel=channel)
    referral = _receivable(user, person, referral_id)
    # Lock the referral row so two concurrent decisions cannot both pass the count check.
    Referral.objects.select_for_update().filter(pk=referral.pk).first()
    earlier = list(referral.decisions.order_by("decided_on", "pk").values_list("decided_on", "decision"))
    check_decisions(status=referral.status, pathway_type=referral.pathway_type, assessed_date=referral.assessed_date,
                    decisions=[*earlier, (decided_on, decision)])
    return PathwayDecision.objects.create(referral=referral, decided_on=decided_on, decision=decision)


# Admissions, discharges and contacts ---------------------------------------------------------------------


def _episode_for(person: Person, unit: ServiceUnit, day: dt.date) -> EpisodeOfCare | None:
    return (EpisodeOfCare.objects.filter(Q(end_date__isnull=True) | Q(end_date__gte=day), person=person, unit=unit,
                                         start_date__lte=day).order_by("-start_date").first())


@transaction.atomic
def record_admission(*, user: User, pid: str, unit: str | ServiceUnit, admitted_on: dt.date,
                     discharged_on: dt.date | None = None, housing: str = "", channel: str = "web") -> Encounter:
    """An admission to one of the user's inpatient units; imports may give the discharge at once."""
    person = _open(user, pid, action="create", resource="admission", channel=channel)
    ward = _own_unit(user, unit)
    check_inpatient(ward)
    _not_future(admitted_on, "date", _("admission date"))
    if discharged_on is not None:
        _check_discharge(admitted_on, discharged_on, housing)
    stays = Encounter.objects.filter(person=person, unit=ward, kind=EncounterKind.ADMISSION)
    check_no_overlap(stays.values_list("start_date", "end_date"), admitted_on, discharged_on, ward.code)
    return Encounter.objects.create(person=person, unit=ward, episode=_episode_for(person, ward, admitted_on),
                                    kind=EncounterKind.ADMISSION, start_date=admitted_on, end_date=discharged_on,
                                    housing_at_discharge=housing if discharged_on is not None else "")


def _check_discharge(admitted_on: dt.date, discharged_on: dt.date, housing: str) -> None:
    check_discharge(admitted_on, discharged_on)
    if housing not in HousingStatus.values:  # on the form, housing at discharge is required
        raise PathwayError(_("Say what housing the person has at discharge."), "housing")


@transaction.atomic
def record_discharge(*, user: User, pid: str, admission_id: int, discharged_on: dt.date, housing: str,
                     channel: str = "web") -> Encounter:
    person = _open(user, pid, action="update", resource="admission", channel=channel)
    admission = Encounter.objects.select_for_update().filter(pk=admission_id, person=person,
                                                             kind=EncounterKind.ADMISSION).first()
    if admission is None:
        raise PathwayError(_("No such admission for this person."), "admission")
    if admission.unit_id not in user_unit_ids(user):
        raise PathwayError(_("Only the admitting unit can discharge."), "admission")
    if admission.end_date is not None:
        raise PathwayError(_("Already discharged on %(day)s.") % {"day": admission.end_date.isoformat()}, "admission")
    _check_discharge(admission.start_date, discharged_on, housing)
    later = (Encounter.objects.filter(person=person, unit_id=admission.unit_id, kind=EncounterKind.ADMISSION,
                                      start_date__gte=admission.start_date, start_date__lte=discharged_on)
             .exclude(pk=admission.pk).order_by("start_date").first())
    if later is not None:
        raise PathwayError(_("The person was admitted to the same unit again on %(day)s; the discharge must be before "
                             "that.") % {"day": later.start_date.isoformat()}, _("date"))
    admission.end_date = discharged_on
    admission.housing_at_discharge = housing
    admission.save(update_fields=["end_date", "housing_at_discharge"])
    return admission


@transaction.atomic
def record_contact(*, user: User, pid: str, unit: str | ServiceUnit, contact_date: dt.date, mode: str,
                   staff_count: int = 1, minutes: int | None = None, channel: str = "web") -> Encounter:
    person = _open(user, pid, action="create", resource="contact", channel=channel)
    own = _own_unit(user, unit)
    _not_future(contact_date, "date", _("contact date"))
    check_contact(mode, staff_count, minutes)
    return Encounter.objects.create(person=person, unit=own, episode=_episode_for(person, own, contact_date),
                                    kind=EncounterKind.CONTACT, mode=mode, start_date=contact_date,
                                    staff_count=staff_count, minutes=minutes)


# Individual plan, coordinator, responsibility group, next of kin, evaluation -----------------------------


@transaction.atomic
def record_plan_status(*, user: User, pid: str, status: str, status_date: dt.date, unit: str | ServiceUnit,
                       channel: str = "web") -> IndividualPlan:
    person = _open(user, pid, action="create", resource="individual plan", channel=channel)
    check_choice(status, PlanStatus, "status", _("plan status"))
    responsible = _own_unit(user, unit)
    _not_future(status_date, "date", _("date"))
    latest = IndividualPlan.objects.filter(person=person).order_by("-status_date", "-pk").first()
    if latest is not None and status_date < latest.status_date:
        raise PathwayError(_("The latest plan status is from %(day)s; a new status cannot be older.")
                           % {"day": latest.status_date.isoformat()}, _("date"))
    if status == PlanStatus.REVISED and (latest is None or latest.status not in (PlanStatus.ACTIVE,
                                                                                   PlanStatus.REVISED)):
        raise PathwayError(_("Only an active plan can be revised."), "status")
    return IndividualPlan.objects.create(person=person, status=status, status_date=status_date,
                                         responsible_unit=responsible)


@transaction.atomic
def assign_coordinator(*, user: User, pid: str, name: str, unit: str | ServiceUnit, start_date: dt.date,
                       coordinator_user: User | None = None, channel: str = "web") -> Coordinator:
    """A new coordinator; the previous one (if any) ends the day before."""
    person = _open(user, pid, action="create", resource="coordinator", channel=channel)
    check_coordinator_name(name)
    name = name.strip()
    own = _own_unit(user, unit)
    _not_future(start_date, "date", _("start date"))
    current = list(Coordinator.objects.select_for_update().filter(
        Q(end_date__isnull=True) | Q(end_date__gte=start_date), person=person))
    for previous in current:
        if previous.start_date >= start_date:
            raise PathwayError(_("%(name)s is coordinator from %(day)s; a new coordinator must start later.")
                               % {"name": previous.name, "day": previous.start_date.isoformat()}, _("date"))
    for previous in current:
        previous.end_date = start_date - dt.timedelta(days=1)
        previous.save(update_fields=["end_date"])
    return Coordinator.objects.create(person=person, name=name[:150], unit=own, user=coordinator_user,
                                      start_date=start_date)


def _clean_members(members: list[dict[str, str]] | None) -> list[dict[str, str]]:
    cleaned = []
    for index, member in enumerate(members or [], start=1):
        if not isinstance(member, dict) or not str(member.get("name", "")).strip():
            raise PathwayError(_("Member %(n)d of the responsibility group needs a name.") % {"n": index}, "members")
        cleaned.append({"name": str(member["name"]).strip()[:150], "role": str(member.get("role", "")).strip()[:100],
                        "unit": str(member.get("unit") or "").strip()[:40]})
    return cleaned


@transaction.atomic
def record_group_meeting(*, user: User, pid: str, held_on: dt.date, summary: str = "",
                         members: list[dict[str, str]] | None = None, channel: str = "web"
                         ) -> ResponsibilityGroupMeeting:
    """A responsibility group meeting; the group is established with its first meeting."""
    person = _open(user, pid, action="create", resource="responsibility group", channel=channel)
    _not_future(held_on, "date", _("meeting date"))
    members = _clean_members(members)
    group = ResponsibilityGroup.objects.filter(person=person).order_by("established_on").first()
    if group is None:
        group = ResponsibilityGroup.objects.create(person=person, established_on=held_on, members=members or [])
    else:
        check_meeting(held_on, group.established_on)
    if members and group.members != members:
        group.members = members
        group.save(update_fields=["members"])
    return ResponsibilityGroupMeeting.objects.create(group=group, held_on=held_on, summary=summary.strip())


@transaction.atomic
def record_next_of_kin_contact(*, user: User, pid: str, contact_date: dt.date, relation: str, note: str = "",
                               unit: str | ServiceUnit | None = None, channel: str = "web") -> NextOfKinContact:
    person = _open(user, pid, action="create", resource="next-of-kin contact", channel=channel)
    check_next_of_kin(person.consent_next_of_kin, relation)
    _not_future(contact_date, "date", _("contact date"))
    own = _own_unit(user, unit) if unit else None
    return NextOfKinContact.objects.create(person=person, unit=own, contact_date=contact_date,
                                           relation=relation.strip()[:60], note=note.strip()[:300])


@transaction.atomic
def record_evaluation(*, user: User, pid: str, evaluated_on: dt.date, episode_id: int | None = None,
                      benefit: int | None = None, status_note: str = "", further_needs: str = "",
                      plan_update_needed: bool = False, channel: str = "web") -> EvaluationPoint:
    person = _open(user, pid, action="create", resource="evaluation point", channel=channel)
    _not_future(evaluated_on, "date", _("evaluation date"))
    episode = None
    if episode_id is not None:
        episode = EpisodeOfCare.objects.filter(pk=episode_id, person=person).first()
        if episode is None:
            raise PathwayError(_("No such episode of care for this person."), "episode")
    check_evaluation(evaluated_on, benefit, episode.start_date if episode is not None else None)
    return EvaluationPoint.objects.create(person=person, episode=episode, evaluated_on=evaluated_on, benefit=benefit,
                                          status_note=status_note.strip()[:300],
                                          further_needs=further_needs.strip()[:300],
                                          plan_update_needed=plan_update_needed)
