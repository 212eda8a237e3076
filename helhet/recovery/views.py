"""The recovery plan pages: the clinician's plan page, the person's own view, the PDF. Thin over services.py.

Every view opens the person first (`open_person`), so a person without a care
relationship (or another service user's record) is refused and audited before anything
is read. The same URL shows the clinician's page to staff and the person's own page to
the service user.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from helhet import charts
from helhet.accounts.access import open_person
from helhet.accounts.models import User
from helhet.persons.models import Person
from helhet.recovery import services
from helhet.recovery.forms import CommentForm, GoalForm, PlanForm, PlanUpdateForm, ReviewForm
from helhet.recovery.models import Goal, GoalReview, GoalStatus, RecoveryPlan
from helhet.recovery.services import GOAL_FIELDS, PlanOverview, PlanRefused
from helhet.web.pdf import pdf_response, render_pdf

RESOURCE = "recovery plan"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def t_score_chart(overview: PlanOverview) -> str:
    """The GAS T-score over time (reviews, and the person's own ratings) as an SVG line chart."""
    series = []
    if overview.reviews:
        series.append(charts.Series(_("GAS T-score at reviews"),
                                    [(row.review.reviewed_on, row.t_score) for row in overview.reviews]))
    if overview.self_ratings:
        series.append(charts.Series(_("Own rating"),
                                    [(row.review.reviewed_on, row.t_score) for row in overview.self_ratings]))
    if not series:
        return ""
    values = [y for s in series for _x, y in s.points if y is not None]
    return charts.line_chart(
        series, title=_("GAS T-score over time"), y_label="T",
        y_min=min([20.0, *values]), y_max=max([80.0, *values]),
        markers=[charts.Marker(_("Expected level (T = 50)"), y=50)],
        description=_("T = 50 means the goals were reached as expected on average; above 50 is better than "
                      "expected."),
    )


def _context(request: HttpRequest, person: Person, *, forms: dict[str, Any] | None = None,
             error: str = "") -> dict[str, Any]:
    user = _user(request)
    staff = not services.is_service_user(user)
    plan = services.current_plan(person)
    overview = services.plan_overview(plan, for_person=not staff) if plan is not None else None
    goals = [row.goal for row in overview.goals if row.goal.status != GoalStatus.CANCELLED] if overview else []
    forms = forms or {}
    context: dict[str, Any] = {
        "person": person, "plan": plan, "overview": overview, "staff": staff, "error": error,
        "title": _("Recovery plan") if staff else _("My recovery plan"),
        "chart": mark_safe(t_score_chart(overview)) if overview else "",  # noqa: S308 - charts.py escapes text
        "goal_form": forms.get("goal") or GoalForm(staff=staff),
        "review_form": forms.get("review") or ReviewForm(goals=goals, self_rating=not staff),
        "comment_form": forms.get("comment") or CommentForm(staff=staff, goals=goals),
        "plan_form": forms.get("plan") or PlanForm(),
        "today": timezone.localdate(),
        "rho": services.gas_rho(),
    }
    if staff:
        context["individual_plan"] = services.individual_plan_for(person)
        if plan is not None:
            context["plan_update_form"] = forms.get("plan_update") or PlanUpdateForm(plan=plan)
    if not staff:
        context["assessments"] = services.assessment_trends(person)
    return context


def _template(request: HttpRequest) -> str:
    return "recovery/plan.html" if not services.is_service_user(_user(request)) else "recovery/my_plan.html"


def _refused(request: HttpRequest, person: Person, refusal: PlanRefused, *, form_name: str = "",
             form: Any = None) -> HttpResponse:
    """Show the plan page again with the refusal: a form error on the field it concerns, status 400."""
    refusal.record()
    forms: dict[str, Any] = {}
    if form is not None:
        if refusal.field and refusal.field in form.fields:
            form.add_error(refusal.field, refusal.message)
        else:
            form.add_error(None, refusal.message)
        forms[form_name] = form
    return render(request, _template(request), _context(request, person, forms=forms, error=refusal.message),
                  status=refusal.status)


def _plan_url(person: Person) -> str:
    return reverse("recovery:plan", args=[person.pid])


@login_required
def plan_page(request: HttpRequest, pid: str) -> HttpResponse:
    person, _relationship = open_person(_user(request), pid, action="read", resource=RESOURCE)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return render(request, _template(request), _context(request, person))


def _open_for_change(request: HttpRequest, pid: str) -> tuple[Person, HttpResponse | None]:
    person, _relationship = open_person(_user(request), pid, action="update", resource=RESOURCE)
    return person, None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def _plan_for_change(request: HttpRequest, pid: str) -> tuple[Person, RecoveryPlan] | HttpResponse:
    """The person and their current plan for a change, or the response that refuses it (wrong method, no plan)."""
    person, not_allowed = _open_for_change(request, pid)
    if not_allowed:
        return not_allowed
    plan = services.current_plan(person)
    if plan is None:
        return _refused(request, person, services.refuse(_user(request), person, _("Start a recovery plan first."),
                                                         action="create"))
    return person, plan


@login_required
def plan_create(request: HttpRequest, pid: str) -> HttpResponse:
    person, not_allowed = _open_for_change(request, pid)
    if not_allowed:
        return not_allowed
    form = PlanForm(request.POST)
    form.is_valid()
    try:
        services.create_plan(user=_user(request), person=person, created_on=request.POST.get("created_on") or None,
                             staff_note=request.POST.get("staff_note", ""))
    except PlanRefused as refusal:
        return _refused(request, person, refusal, form_name="plan", form=form)
    messages.success(request, _("The recovery plan is started."))
    return redirect(_plan_url(person))


@login_required
def plan_update(request: HttpRequest, pid: str) -> HttpResponse:
    found = _plan_for_change(request, pid)
    if isinstance(found, HttpResponse):
        return found
    person, plan = found
    user = _user(request)
    form = PlanUpdateForm(request.POST, plan=plan)
    form.is_valid()
    try:
        services.update_plan(user=user, person=person, plan=plan, status=request.POST.get("status") or None,
                             staff_note=request.POST.get("staff_note") if "staff_note" in request.POST else None,
                             link_individual_plan=bool(request.POST.get("link_individual_plan")))
    except PlanRefused as refusal:
        return _refused(request, person, refusal, form_name="plan_update", form=form)
    messages.success(request, _("The plan is saved."))
    return redirect(_plan_url(person))


def _goal_data(request: HttpRequest) -> dict[str, str]:
    # Every goal field the browser sent, including fields the page does not offer this user:
    # the service refuses staff-only fields from a service user rather than silently dropping them.
    return {name: request.POST[name] for name in GOAL_FIELDS if name in request.POST}


@login_required
def goal_add(request: HttpRequest, pid: str) -> HttpResponse:
    person, not_allowed = _open_for_change(request, pid)
    if not_allowed:
        return not_allowed
    user = _user(request)
    staff = not services.is_service_user(user)
    form = GoalForm(request.POST, staff=staff)
    form.is_valid()
    try:
        services.add_goal(user=user, person=person, plan=services.current_plan(person), data=_goal_data(request))
    except PlanRefused as refusal:
        return _refused(request, person, refusal, form_name="goal", form=form)
    messages.success(request, _("The goal is added.") if staff else
                     _("Your goal is proposed. Your clinician will look at it with you."))
    return redirect(_plan_url(person))


def _goal(request: HttpRequest, person: Person, goal_id: int) -> Goal | PlanRefused:
    goal = Goal.objects.select_related("plan").filter(pk=goal_id, plan__person=person).first()
    if goal is None:
        return services.refuse(_user(request), person, _("This goal is not in this person's plan."),
                               action="update", resource=f"Goal/{goal_id}")
    return goal


@login_required
def goal_edit(request: HttpRequest, pid: str, goal_id: int) -> HttpResponse:
    user = _user(request)
    person, _relationship = open_person(user, pid, action="update" if request.method == "POST" else "read",
                                        resource=RESOURCE)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    goal = _goal(request, person, goal_id)
    if isinstance(goal, PlanRefused):
        return _refused(request, person, goal)
    if services.is_service_user(user):
        return _refused(request, person, services.refuse(
            user, person, _("Only the clinician can do this; you can propose a change or comment."),
            action="update", resource=f"Goal/{goal.pk}", forbidden=True))
    form = GoalForm(request.POST or None, staff=True, goal=goal)
    status = 200
    if request.method == "POST":
        form.is_valid()
        try:
            services.update_goal(user=user, person=person, goal=goal, data=_goal_data(request))
        except PlanRefused as refusal:
            refusal.record()
            form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
            status = refusal.status
        else:
            messages.success(request, _("The goal is saved."))
            return redirect(_plan_url(person))
    return render(request, "recovery/goal_edit.html",
                  {"person": person, "goal": goal, "form": form, "title": _("Edit goal")}, status=status)


@login_required
def review_add(request: HttpRequest, pid: str) -> HttpResponse:
    found = _plan_for_change(request, pid)
    if isinstance(found, HttpResponse):
        return found
    person, plan = found
    user = _user(request)
    goals = list(plan.goals.exclude(status=GoalStatus.CANCELLED).order_by("pk"))
    form = ReviewForm(request.POST, goals=goals, self_rating=services.is_service_user(user))
    form.is_valid()
    ratings: dict[int, object] = dict(form.ratings())
    # Ratings for goals the page did not offer (another plan's goal id) reach the service and are refused there.
    for key in request.POST:
        if key.startswith("rating_") and key[7:].isdigit() and int(key[7:]) not in ratings:
            ratings[int(key[7:])] = request.POST[key]
    try:
        services.record_review(user=user, person=person, plan=plan, reviewed_on=request.POST.get("reviewed_on"),
                               ratings=ratings, note=request.POST.get("note", ""))
    except PlanRefused as refusal:
        return _refused(request, person, refusal, form_name="review", form=form)
    messages.success(request, _("Your rating is saved.") if services.is_service_user(user) else
                     _("The review is saved."))
    return redirect(_plan_url(person))


@login_required
def comment_add(request: HttpRequest, pid: str) -> HttpResponse:
    found = _plan_for_change(request, pid)
    if isinstance(found, HttpResponse):
        return found
    person, plan = found
    user = _user(request)
    goals = list(plan.goals.order_by("pk"))
    form = CommentForm(request.POST, staff=not services.is_service_user(user), goals=goals)
    form.is_valid()
    goal = None
    goal_id = request.POST.get("goal", "")
    if goal_id:
        goal = next((g for g in goals if str(g.pk) == goal_id), None)
        if goal is None:
            return _refused(request, person, services.refuse(user, person, _("This goal is not in this plan."),
                                                             action="create", field="goal"),
                            form_name="comment", form=form)
    # A service user's browser sending staff_only is refused by the service, not dropped.
    staff_only = request.POST.get("staff_only", "") not in ("", "off", "false", "0")
    try:
        services.add_comment(user=user, person=person, plan=plan, text=request.POST.get("text", ""), goal=goal,
                             staff_only=staff_only)
    except PlanRefused as refusal:
        return _refused(request, person, refusal, form_name="comment", form=form)
    messages.success(request, _("The comment is saved."))
    return redirect(_plan_url(person))


@login_required
def proposal_decide(request: HttpRequest, pid: str, kind: str, item_id: int) -> HttpResponse:
    person, not_allowed = _open_for_change(request, pid)
    if not_allowed:
        return not_allowed
    user = _user(request)
    item: Goal | GoalReview | None = None
    if kind == "goal":
        item = Goal.objects.select_related("plan").filter(pk=item_id, plan__person=person).first()
    elif kind == "rating":
        item = GoalReview.objects.select_related("plan").filter(pk=item_id, plan__person=person).first()
    if item is None:
        return _refused(request, person, services.refuse(user, person, _("There is no such proposal in this plan."),
                                                         action="update"))
    try:
        services.decide_proposal(user=user, person=person, item=item, decision=request.POST.get("decision", ""),
                                 note=request.POST.get("note", ""))
    except PlanRefused as refusal:
        return _refused(request, person, refusal)
    messages.success(request, _("The proposal is accepted.") if request.POST.get("decision") == "accept" else
                     _("The proposal is marked for discussion."))
    return redirect(_plan_url(person))


@login_required
def plan_pdf(request: HttpRequest, pid: str) -> HttpResponse:
    """The plan for the person, in Norwegian, from the person's own page template (no staff-only notes)."""
    person, _relationship = open_person(_user(request), pid, action="print", resource=RESOURCE)
    plan = services.current_plan(person)
    if plan is None:
        return _refused(request, person, services.refuse(_user(request), person, _("Start a recovery plan first."),
                                                         action="print"))
    with translation.override("nb"):
        overview = services.plan_overview(plan, for_person=True)
        context = {
            "person": person, "plan": plan, "overview": overview, "staff": False,
            "title": _("My recovery plan"), "chart": mark_safe(t_score_chart(overview)),  # noqa: S308
            "assessments": services.assessment_trends(person), "today": timezone.localdate(),
            "LANGUAGE_CODE": "nb",
        }
        pdf = render_pdf("recovery/my_plan.html", context, request=request)
    return pdf_response(pdf, f"recovery-plan-{person.pid}.pdf")
