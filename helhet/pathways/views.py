"""Pathway pages: the timeline, quick forms, referral overviews and the alert worklist.

Every page about one person has `<str:pid>` in its URL and opens the person through
`access.open_person` before anything else; the forms hand their data to `services`, which
authorize the write, validate and save in one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helhet.accounts.access import (
    NO_ROLE_MESSAGE,
    AccessDenied,
    audit_person_list,
    open_person,
    user_unit_ids,
    visible_persons,
)
from helhet.accounts.models import STAFF_ROLES, User
from helhet.organisations.models import ServiceUnit
from helhet.pathways import forms, services
from helhet.pathways.alerts import Alert, compute_alerts, rule_titles
from helhet.pathways.models import Encounter, EncounterKind, Referral, ReferralStatus, RejectionReason
from helhet.pathways.services import PathwayError
from helhet.pathways.timeline import KIND_LABELS, build_timeline
from helhet.persons.models import Person

ALERTS_PAGE_SIZE = 250


def _staff(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if user.role not in STAFF_ROLES:
        raise AccessDenied(NO_ROLE_MESSAGE)
    return user


def _my_units(user: User) -> list[ServiceUnit]:
    return list(ServiceUnit.objects.filter(pk__in=user_unit_ids(user)).order_by("name"))


@login_required
def timeline(request: HttpRequest, pid: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    person, _relationship = open_person(user, pid, action="read", resource="pathway timeline")
    kind = request.GET.get("kind", "")
    line = build_timeline(person)
    events = [e for e in line.events if e.kind == kind] if kind else line.events
    alerts = compute_alerts(Person.objects.filter(pk=person.pk)) if user.role in STAFF_ROLES else []
    return render(request, "pathways/timeline.html", {
        "person": person, "timeline": line, "events": events, "kind": kind, "alerts": alerts,
        "kinds": [(value, str(label)) for value, label in KIND_LABELS.items()],
        "can_record": user.role in STAFF_ROLES, "title": _("Pathway: %(name)s") % {"name": person.display_name},
        "next_query": "?next=" + quote(request.path),
    })


# Quick forms ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    title: Any  # lazily translated
    form_class: type[forms.PathwayForm]
    save: Callable[..., Any]  # save(user=, pid=, data=, form_kwargs) -> object
    done: Any
    prepare: Callable[[forms.PathwayForm, Person, User, dict[str, Any]], None] | None = None


def _referral_for(person: Person, user: User, referral_id: int) -> Referral | None:
    return (Referral.objects.select_related("from_unit", "to_unit")
            .filter(pk=referral_id, person=person, to_unit_id__in=user_unit_ids(user)).first())


def _prepare_decision(form: forms.PathwayForm, person: Person, user: User, kwargs: dict[str, Any]) -> None:
    assert isinstance(form, forms.DecisionForm)
    form.set_referrals(list(Referral.objects.select_related("to_unit").filter(
        person=person, status=ReferralStatus.ACCEPTED, to_unit_id__in=user_unit_ids(user)).exclude(pathway_type="")))


def _prepare_discharge(form: forms.PathwayForm, person: Person, user: User, kwargs: dict[str, Any]) -> None:
    assert isinstance(form, forms.DischargeForm)
    form.set_admissions(list(Encounter.objects.select_related("unit").filter(
        person=person, kind=EncounterKind.ADMISSION, end_date__isnull=True, unit_id__in=user_unit_ids(user))))


def _prepare_evaluation(form: forms.PathwayForm, person: Person, user: User, kwargs: dict[str, Any]) -> None:
    assert isinstance(form, forms.EvaluationForm)
    form.set_episodes(list(person.episodes.select_related("unit").order_by("-start_date")))


RECORDINGS: dict[str, Recording] = {
    "referral_new": Recording(
        gettext_lazy("Send a referral"), forms.ReferralForm,
        lambda *, user, pid, data, **kw: services.send_referral(
            user=user, pid=pid, from_unit=data["from_unit"], to_unit=data["to_unit"], sent_date=data["sent_date"],
            pathway_type=data["pathway_type"]),
        gettext_lazy("The referral is sent.")),
    "referral_receive": Recording(
        gettext_lazy("Receive a referral"), forms.ReceiveReferralForm,
        lambda *, user, pid, data, referral_id, **kw: services.receive_referral(
            user=user, pid=pid, referral_id=referral_id, received_date=data["date"]),
        gettext_lazy("The referral is received.")),
    "referral_assess": Recording(
        gettext_lazy("Assess a referral"), forms.AssessReferralForm,
        lambda *, user, pid, data, referral_id, **kw: services.assess_referral(
            user=user, pid=pid, referral_id=referral_id, assessed_date=data["date"],
            accept=data["outcome"] == "accept", rejection_reason=data["rejection_reason"],
            rejection_note=data["rejection_note"], pathway_type=data["pathway_type"]),
        gettext_lazy("The assessment is recorded.")),
    "decision_new": Recording(
        gettext_lazy("Record a clinical decision"), forms.DecisionForm,
        lambda *, user, pid, data, **kw: services.record_decision(
            user=user, pid=pid, referral_id=data["referral"], decided_on=data["date"], decision=data["decision"]),
        gettext_lazy("The clinical decision is recorded."), _prepare_decision),
    "admission_new": Recording(
        gettext_lazy("Record an admission"), forms.AdmissionForm,
        lambda *, user, pid, data, **kw: services.record_admission(
            user=user, pid=pid, unit=data["unit"], admitted_on=data["date"]),
        gettext_lazy("The admission is recorded.")),
    "discharge_new": Recording(
        gettext_lazy("Record a discharge"), forms.DischargeForm,
        lambda *, user, pid, data, **kw: services.record_discharge(
            user=user, pid=pid, admission_id=data["admission"], discharged_on=data["date"], housing=data["housing"]),
        gettext_lazy("The discharge is recorded."), _prepare_discharge),
    "contact_new": Recording(
        gettext_lazy("Register a contact"), forms.ContactForm,
        lambda *, user, pid, data, **kw: services.record_contact(
            user=user, pid=pid, unit=data["unit"], contact_date=data["date"], mode=data["mode"],
            staff_count=data["staff_count"], minutes=data["minutes"]),
        gettext_lazy("The contact is registered.")),
    "plan_new": Recording(
        gettext_lazy("Individual plan status"), forms.PlanForm,
        lambda *, user, pid, data, **kw: services.record_plan_status(
            user=user, pid=pid, status=data["status"], status_date=data["date"], unit=data["unit"]),
        gettext_lazy("The plan status is recorded.")),
    "coordinator_new": Recording(
        gettext_lazy("Assign a coordinator"), forms.CoordinatorForm,
        lambda *, user, pid, data, **kw: services.assign_coordinator(
            user=user, pid=pid, name=data["name"], unit=data["unit"], start_date=data["date"]),
        gettext_lazy("The coordinator is assigned.")),
    "meeting_new": Recording(
        gettext_lazy("Responsibility group meeting"), forms.MeetingForm,
        lambda *, user, pid, data, **kw: services.record_group_meeting(
            user=user, pid=pid, held_on=data["date"], summary=data["summary"], members=data["members"] or None),
        gettext_lazy("The meeting is recorded.")),
    "next_of_kin_new": Recording(
        gettext_lazy("Register a next-of-kin contact"), forms.NextOfKinForm,
        lambda *, user, pid, data, **kw: services.record_next_of_kin_contact(
            user=user, pid=pid, contact_date=data["date"], relation=data["relation"], note=data["note"],
            unit=data["unit"] or None),
        gettext_lazy("The next-of-kin contact is registered.")),
    "evaluation_new": Recording(
        gettext_lazy("Record an evaluation point"), forms.EvaluationForm,
        lambda *, user, pid, data, **kw: services.record_evaluation(
            user=user, pid=pid, evaluated_on=data["date"], episode_id=data["episode"], benefit=data["benefit"],
            status_note=data["status_note"], further_needs=data["further_needs"],
            plan_update_needed=data["plan_update_needed"]),
        gettext_lazy("The evaluation point is recorded."), _prepare_evaluation),
}


def _next_url(request: HttpRequest, pid: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("pathways:timeline", kwargs={"pid": pid})


@login_required
def record(request: HttpRequest, pid: str, name: str, **kwargs: Any) -> HttpResponse:
    """One quick form: GET shows it with defaults, POST saves through the service or shows why not."""
    user: User = request.user  # type: ignore[assignment]
    person, relationship = open_person(user, pid, action="read", resource="pathway form")
    _staff(request)
    recording = RECORDINGS[name]
    referral = None
    if "referral_id" in kwargs:
        referral = _referral_for(person, user, kwargs["referral_id"])
        if referral is None:
            return render(request, "pathways/gone.html", {"person": person, "title": recording.title}, status=404)
    form = recording.form_class(request.POST or None, units=_my_units(user), default_unit=relationship.unit_id)
    if recording.prepare is not None:
        recording.prepare(form, person, user, kwargs)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                recording.save(user=user, pid=person.pid, data=form.cleaned_data, **kwargs)
            except PathwayError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, str(recording.done))
                return redirect(_next_url(request, person.pid))
    return render(request, "pathways/form.html", {
        "person": person, "form": form, "title": recording.title, "name": name, "referral": referral,
        "next": _next_url(request, person.pid), "relations": RELATIONS,
    }, status=status)


RELATIONS = [gettext_lazy("mother"), gettext_lazy("father"), gettext_lazy("partner"), gettext_lazy("sibling"),
             gettext_lazy("child"), gettext_lazy("friend")]


# Unit pages ----------------------------------------------------------------------------------------------


@login_required
def referrals(request: HttpRequest) -> HttpResponse:
    """Referrals received by and sent from the user's units, with what happened to them.

    A person's name and link appear only where the user may still see the person; a rejected
    referral usually ends the receiving unit's care relationship, and then the row shows the
    referral without identifying the person.
    """
    user = _staff(request)
    units = _my_units(user)
    unit_ids = [u.pk for u in units]
    direction = "sent" if request.GET.get("direction") == "sent" else "received"
    status = request.GET.get("status", "")
    if status not in ReferralStatus.values:
        status = ""
    query = Referral.objects.select_related("from_unit", "to_unit", "person").order_by("-sent_date", "-pk")
    query = query.filter(from_unit_id__in=unit_ids) if direction == "sent" else query.filter(to_unit_id__in=unit_ids)
    if status:
        query = query.filter(status=status)
    rows = list(query[:500])
    visible = set(visible_persons(user).filter(pk__in={r.person_id for r in rows}).values_list("pk", flat=True))
    shown = [r for r in rows if r.person_id in visible]
    if shown:
        audit_person_list(user, sorted({r.person.pid for r in shown}), resource="referrals",
                          detail={"direction": direction, "status": status})
    reasons: dict[str, int] = {}
    for r in rows:
        if r.status == ReferralStatus.REJECTED:
            label = str(RejectionReason(r.rejection_reason).label) if r.rejection_reason else _("no reason given")
            reasons[label] = reasons.get(label, 0) + 1
    return render(request, "pathways/referrals.html", {
        "rows": [{"referral": r, "visible": r.person_id in visible} for r in rows], "direction": direction,
        "status": status, "statuses": ReferralStatus.choices, "reasons": sorted(reasons.items(), key=lambda x: -x[1]),
        "units": units, "title": _("Referrals"),
    })


@login_required
def alert_worklist(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    units = _my_units(user)
    unit_filter = request.GET.get("unit", "")
    selected = [u.pk for u in units if u.code == unit_filter] if unit_filter else None
    rule = request.GET.get("rule", "")
    titles = rule_titles()
    if rule not in dict(titles):
        rule = ""
    alerts = compute_alerts(visible_persons(user, unit_ids=selected), rules=[rule] if rule else None)
    page = Paginator(alerts, ALERTS_PAGE_SIZE).get_page(request.GET.get("page"))
    shown: list[Alert] = list(page.object_list)
    if shown:
        audit_person_list(user, sorted({a.pid for a in shown}), resource="alerts",
                          detail={"unit": unit_filter, "rule": rule, "page": page.number})
    counts = Counter(a.rule for a in alerts)
    return render(request, "pathways/alerts.html", {
        "alerts": shown, "page": page, "total": len(alerts), "units": units, "unit_filter": unit_filter,
        "rule": rule, "rules": titles, "counts": [(code, title, counts[code]) for code, title in titles if counts[code]],
        "title": _("Alerts"), "next_query": "?next=" + quote(request.get_full_path()),
    })


def recorder(name: str) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, pid: str, **kwargs: Any) -> HttpResponse:
        return record(request, pid, name, **kwargs)

    view.__name__ = name
    return view

