"""Assessment pages: pick an instrument, fill it in (clinician or locked self-report), see the result, the profile PDF.

Thin views: every one opens the person through ``helhet.accounts.access.open_person``
first (audited), stores through ``services.record_administration`` and scores with the
pure engine. Self-report mode puts the one form's URL prefix in the session; the
``SelfReportLockMiddleware`` then logs out any request outside it, and submitting or
stopping the form logs out too, so the tablet returns to the login page.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helhet.accounts.access import NO_ROLE_MESSAGE, AccessDenied, CareRelationship, open_person
from helhet.accounts.middleware import SELF_REPORT_SESSION_KEY
from helhet.accounts.models import STAFF_ROLES, User
from helhet.assessment import services
from helhet.assessment.forms import InstrumentForm, text_language
from helhet.assessment.library import Instrument, UnknownInstrument, all_instruments, get_instrument
from helhet.assessment.models import Administration, Mode
from helhet.assessment.profile import DOMAINS, build_profile
from helhet.assessment.scoring import ScoreResult, ScoringError
from helhet.organisations.models import ServiceUnit
from helhet.persons.models import Person
from helhet.web.pdf import pdf_response, render_pdf


def _today() -> dt.date:
    return timezone.localdate()


def _open(request: HttpRequest, pid: str, *, action: str, resource: str,
          staff_only: bool = False) -> tuple[User, Person, CareRelationship]:
    """Authorize and audit access to the person, first of all (staff_only: clinicians and team leaders)."""
    user: User = request.user  # type: ignore[assignment]
    if staff_only and user.role not in STAFF_ROLES:
        raise AccessDenied(NO_ROLE_MESSAGE)
    person, relationship = open_person(user, pid, action=action, resource=resource)
    return user, person, relationship


def _instrument(instrument_id: str) -> Instrument:
    try:
        return get_instrument(instrument_id)
    except UnknownInstrument:
        raise Http404(_("No such instrument.")) from None


def _unit(relationship: CareRelationship) -> ServiceUnit | None:
    return ServiceUnit.objects.filter(pk=relationship.unit_id).first() if relationship.unit_id else None


def _result_context(instrument: Instrument, result: ScoreResult, person: Person) -> dict[str, object]:
    """What the result page shows, in the page's language."""
    lang = text_language()
    scoring = instrument.scoring
    score = result.score
    readings = [
        {"label": r.display.get(lang), "sex": r.sex, "threshold": r.threshold, "positive": r.positive}
        for r in result.cutoffs
    ]
    return {
        "instrument": instrument,
        "title": instrument.title.get(lang),
        "method": scoring.method,
        "score": score,
        "maximum": scoring.range[1] if scoring.range else None,
        "missing_reason": result.missing_reason if scoring.method != "none" else "",
        "missing_items": [instrument.item_by_link[link].prefix or link for link in result.missing_items],
        "band": result.band.display.get(lang) if result.band else "",
        "readings": readings,
        "sex_unknown": result.sex is None and any(r.sex != "any" for r in result.cutoffs),
        "flags": [{"label": f.display.get(lang), "severity": f.severity} for f in result.flags],
        "undetermined": [{"label": f.display.get(lang), "items": ", ".join(f.items)}
                         for f in result.flags_undetermined],
        "subscales": [{"label": s.display.get(lang), "value": s.value, "reason": s.missing_reason or ""}
                      for s in result.subscales],
        "derived": [{"label": d.display.get(lang), "value": d.value, "unit": d.unit,
                     "band": d.band.display.get(lang) if d.band else "", "reason": d.missing_reason or ""}
                    for d in result.derived],
        "implied": list(result.implied_items),
    }


@login_required
def choose_instrument(request: HttpRequest, pid: str) -> HttpResponse:
    user, person, _relationship = _open(request, pid, action="read", resource="assessment instruments", staff_only=True)
    lang = text_language()
    domain_labels = dict(DOMAINS)
    groups: dict[str, list[dict[str, str]]] = {}
    for instrument in all_instruments():
        label = str(domain_labels.get(instrument.domain, _("Care pathway")))
        groups.setdefault(label, []).append({
            "id": instrument.id, "title": instrument.title.get(lang),
            "description": instrument.description.get(lang),
        })
    return render(request, "assessment/choose.html", {
        "person": person, "groups": groups, "title": _("New assessment"),
    })


@login_required
def fill_in(request: HttpRequest, pid: str, instrument_id: str) -> HttpResponse:
    """A clinician fills in an instrument; on success the result page shows the scores at once."""
    user, person, relationship = _open(request, pid, action="read", resource="assessment form", staff_only=True)
    instrument = _instrument(instrument_id)
    form = InstrumentForm(request.POST or None, instrument=instrument, today=_today())
    if request.method == "POST" and form.is_valid():
        try:
            administration = services.record_administration(
                user=user, person=person, instrument_id=instrument.id, answers=form.answers(),
                administered_on=form.administered(), mode=Mode.CLINICIAN, unit=_unit(relationship),
            )
        except ScoringError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("assessment:result", pid=person.pid, administration_id=administration.pk)
    return render(request, "assessment/fill_in.html", {
        "person": person, "form": form, "instrument": instrument, "title": instrument.title.get(text_language()),
        "intro": instrument.intro.get(text_language()) if instrument.intro else "",
    }, status=400 if request.method == "POST" else 200)


@login_required
def result(request: HttpRequest, pid: str, administration_id: int) -> HttpResponse:
    _user, person, _relationship = _open(request, pid, action="read", resource="assessment result")
    administration = Administration.objects.filter(person=person, pk=administration_id).first()
    if administration is None:
        raise Http404(_("No such assessment for this person."))
    instrument = _instrument(administration.instrument_id)
    context = _result_context(instrument, services.result_of(administration), person)
    return render(request, "assessment/result.html", {
        **context, "person": person, "administration": administration,
    })


def _lock_prefix(pid: str, instrument_id: str) -> str:
    return reverse("assessment:self-report", kwargs={"pid": pid, "instrument_id": instrument_id})


@login_required
@require_POST
def start_self_report(request: HttpRequest, pid: str, instrument_id: str) -> HttpResponse:
    """The clinician hands the tablet over: from now on the session reaches only this one form."""
    user, person, _relationship = _open(request, pid, action="read", resource="self-report start", staff_only=True)
    instrument = _instrument(instrument_id)
    request.session[SELF_REPORT_SESSION_KEY] = _lock_prefix(person.pid, instrument.id)
    return redirect("assessment:self-report", pid=person.pid, instrument_id=instrument.id)


@login_required
def self_report(request: HttpRequest, pid: str, instrument_id: str) -> HttpResponse:
    """The locked questionnaire; submitting it stores the answers, logs out and returns to the login page."""
    user, person, relationship = _open(request, pid, action="read", resource="self-report form", staff_only=True)
    instrument = _instrument(instrument_id)
    if request.session.get(SELF_REPORT_SESSION_KEY) != _lock_prefix(person.pid, instrument.id):
        # Only reachable through "hand over the tablet", which sets the lock.
        return redirect("assessment:fill-in", pid=person.pid, instrument_id=instrument.id)
    form = InstrumentForm(request.POST or None, instrument=instrument, today=_today(), ask_date=False)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_administration(
                user=user, person=person, instrument_id=instrument.id, answers=form.answers(),
                administered_on=_today(), mode=Mode.SELF_REPORT, unit=_unit(relationship),
            )
        except ScoringError as exc:
            form.add_error(None, str(exc))
        else:
            logout(request)
            messages.success(request, _("Thank you. Your answers are saved. Please hand the tablet back."))
            return redirect("login")
    lang = text_language()
    return render(request, "assessment/self_report.html", {
        "form": form, "instrument": instrument, "title": instrument.title.get(lang),
        "intro": instrument.intro.get(lang) if instrument.intro else "",
        "stop_url": reverse("assessment:self-report-stop", kwargs={"pid": person.pid, "instrument_id": instrument.id}),
    }, status=400 if request.method == "POST" else 200)


@require_POST
def stop_self_report(request: HttpRequest, pid: str, instrument_id: str) -> HttpResponse:
    """Leave self-report mode without saving: always a logout, so only the clinician's password reopens the session."""
    logout(request)
    return redirect("login")


@login_required
def profile_pdf(request: HttpRequest, pid: str) -> HttpResponse:
    _user, person, _relationship = _open(request, pid, action="read", resource="assessment profile PDF")
    profile = build_profile(person)
    pdf = render_pdf("assessment/profile_pdf.html", {
        "person": person, "panel": {"profile": profile, "person": person}, "generated": timezone.localtime(),
    }, request=request)
    return pdf_response(pdf, f"profile-{person.pid}.pdf")
