"""Team pages: the team profile, the fidelity review form and report (page and PDF), exports, the regional view.

Thin over services.py. Team pages need a role in the team (`services.open_team`); the
regional view is for analysts. The one URL with a person in it (the FACT board) opens
the person through `access.open_person` before anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from helhet import charts
from helhet.accounts.access import NO_ROLE_MESSAGE, AccessDenied, open_person
from helhet.accounts.models import STAFF_ROLES, Role, User
from helhet.organisations.models import ServiceUnit
from helhet.teams import services
from helhet.teams.fidelity import FidelityScale
from helhet.teams.forms import BoardEndForm, BoardForm, ReviewForm, TeamDetailsForm
from helhet.teams.models import FidelityReview, TeamProfile
from helhet.teams.services import ReviewRefused
from helhet.web.pdf import pdf_response, render_pdf

DEFAULT_SCALE = "dacts"
EXPORT_TYPES = {"json": "application/json; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _level_markers(scale: FidelityScale | None, language: str) -> list[charts.Marker]:
    if scale is None:
        return []
    return [charts.Marker(level.name.get(language), y=level.min_mean) for level in scale.levels
            if level.min_mean > 1]


def _decimal(language: str) -> Callable[[float], str]:
    def fmt(value: float) -> str:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if language == "nb" else text

    return fmt


def _svg(svg: str) -> str:
    return mark_safe(svg)  # noqa: S308 - charts.py escapes every text it puts in the SVG


def team_trend_chart(team: ServiceUnit, reviews: list[FidelityReview], scale: FidelityScale | None) -> str:
    points = [(r.review_date, r.total_mean) for r in reviews if scale is None or r.scale_id == scale.id]
    if not points:
        return ""
    language = services._language()
    return _svg(charts.line_chart(
        [charts.Series(team.name, points)], title=_("Fidelity total mean over time"), y_min=1, y_max=5,
        y_format=_decimal(language),
        y_label=_("Mean"), markers=_level_markers(scale, language),
        description=_("The total mean of each fidelity review, 1 (not implemented) to 5 (fully implemented)."),
    ))


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.role == Role.ANALYST:
        return redirect("teams:region")
    if user.role not in STAFF_ROLES:
        raise AccessDenied(NO_ROLE_MESSAGE)
    teams = services.user_teams(user)
    if len(teams) == 1:
        return redirect("teams:profile", code=teams[0].code)
    return render(request, "teams/team_list.html", {"teams": teams, "title": _("Teams")})


@login_required
def team_profile(request: HttpRequest, code: str) -> HttpResponse:
    user = _user(request)
    team = services.open_team(user, code)
    today = timezone.localdate()
    overview = services.team_overview(user, team, today)
    scale = services.available_scales().get(DEFAULT_SCALE)
    return render(request, "teams/team_profile.html", {
        "team": team, "overview": overview, "today": today, "title": team.name,
        "municipalities": list(team.municipalities.all()),
        "recommended_adults": services.RECOMMENDED_CATCHMENT_ADULTS,
        "chart": team_trend_chart(team, overview.reviews, scale),
        "scales": sorted(services.available_scales().values(), key=lambda s: s.id),
        "review_rows": [(r, services.level_name(r.scale_id, r.level_id or r.provisional_level_id),
                         not r.complete) for r in reversed(overview.reviews)],
    })


@login_required
def team_details(request: HttpRequest, code: str) -> HttpResponse:
    """The team leader's form: adults in the catchment area, each staff member's profession."""
    user = _user(request)
    team = services.open_team(user, code, action="update", resource="team details")
    memberships = list(services.active_memberships(team, timezone.localdate())
                       .select_related("user", "staffing_detail").order_by("user__last_name", "user__username"))
    profile = TeamProfile.objects.filter(unit=team).first()
    form = TeamDetailsForm(request.POST or None, memberships=memberships,
                           initial={"catchment_adults": profile.catchment_adults if profile else None})
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                services.update_team_details(user=user, team=team,
                                             catchment_adults=form.cleaned_data["catchment_adults"],
                                             staffing=form.staffing())
            except ReviewRefused as exc:
                error = str(exc)
            else:
                messages.success(request, _("The team's details are saved."))
                return redirect("teams:profile", code=team.code)
        else:
            error = _("Nothing is saved: correct the fields marked below.")
    return render(request, "teams/team_details.html", {
        "team": team, "form": form, "rows": form.rows(), "error": error, "title": _("Team details"),
    }, status=400 if request.method == "POST" else 200)


@login_required
def review_new(request: HttpRequest, code: str) -> HttpResponse:
    user = _user(request)
    team = services.open_team(user, code, action="create", resource=services.REVIEW_RESOURCE)
    today = timezone.localdate()
    try:
        scale = services.get_scale(request.GET.get("scale") or request.POST.get("scale") or DEFAULT_SCALE)
    except ReviewRefused as exc:
        raise Http404(str(exc)) from None
    suggestions, figures, notes = services.suggestions_for(team, scale, today)
    members = services.team_members(team, today)
    language = services._language()
    form = ReviewForm(request.POST or None, scale=scale, members=members, language=language,
                      suggestions=suggestions, initial={"review_date": today, "reviewers": [user.pk]})
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                review = services.record_review(
                    user=user, team=team, scale_id=scale.id, review_date=form.cleaned_data["review_date"],
                    reviewers=list(form.cleaned_data["reviewers"]), scores=form.scores(),
                    justifications=form.justifications(), suggestions=suggestions)
            except ReviewRefused as exc:
                error = str(exc)
            else:
                messages.success(request, _("The review is recorded."))
                return redirect("teams:review", code=team.code, review_id=review.pk)
        else:
            error = _("The review is not recorded: correct the fields marked below.")
            services.audit_refused_form(user, team=team, scale_id=scale.id, errors=form.errors.as_json())
    return render(request, "teams/review_form.html", {
        "team": team, "scale": scale, "form": form, "rows": form.item_rows(), "error": error,
        "figures": figures, "notes": notes, "title": _("New fidelity review"),
    }, status=400 if request.method == "POST" else 200)


def _report_context(request: HttpRequest, code: str, review_id: int) -> dict[str, Any]:
    user = _user(request)
    team = services.open_team(user, code, resource=services.REVIEW_RESOURCE)
    review = get_object_or_404(FidelityReview.objects.prefetch_related("reviewers"), pk=review_id, team=team)
    report = services.review_report(review)
    language = services._language()
    subscale_chart = ""
    if report.subscales:
        subscale_chart = _svg(charts.bar_chart(
            [charts.Bar(name, mean) for _id, name, mean, _prev in report.subscales],
            title=_("Subscale means"), x_min=0, x_max=5, value_format=_decimal(language),
            description=_("Mean score of each subscale, 1 to 5."),
        ))
    history = list(FidelityReview.objects.filter(team=team, scale_id=review.scale_id,
                                                  review_date__lte=review.review_date).order_by("review_date", "id"))
    return {
        "team": team, "review": review, "report": report, "title": _("Fidelity review report"),
        "subscale_chart": subscale_chart, "trend_chart": team_trend_chart(team, history, report.scale),
        "printed": timezone.localdate(),
    }


@login_required
def review_report(request: HttpRequest, code: str, review_id: int) -> HttpResponse:
    return render(request, "teams/review_report.html", _report_context(request, code, review_id))


@login_required
def review_pdf(request: HttpRequest, code: str, review_id: int) -> HttpResponse:
    context = _report_context(request, code, review_id)
    pdf = render_pdf("teams/review_report.html", context, request=request)
    review: FidelityReview = context["review"]
    return pdf_response(pdf, f"fidelity-{review.team.code}-{review.scale_id}-{review.review_date}.pdf")


def _export_response(request: HttpRequest, reviews: Any, fmt: str, scope: str, filename: str) -> HttpResponse:
    rows = list(reviews)
    services.audit_export(_user(request), fmt=fmt, count=len(rows), channel="web", scope=scope)
    body = services.export_json(rows) if fmt == "json" else services.export_csv(rows)
    response = HttpResponse(body, content_type=EXPORT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@login_required
def team_export(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    team = services.open_team(_user(request), code, action="export", resource=services.REVIEW_RESOURCE)
    if fmt not in EXPORT_TYPES:
        raise Http404("unknown format")
    reviews = services.reviews_for_export(user=_user(request), team=team)
    return _export_response(request, reviews, fmt, f"team {team.code}", f"fidelity-reviews-{team.code}")


@login_required
def region_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    services.require_analyst(user, resource="regional fidelity")
    scales = services.available_scales()
    scale = scales.get(request.GET.get("scale", DEFAULT_SCALE)) or scales[DEFAULT_SCALE]
    regions = services.regional_fidelity(user, scale.id)
    language = services._language()
    level_names = {lv.id: lv.name.get(language) for lv in scale.levels}
    blocks = []
    for region in regions:
        series = [charts.Series(s.team.name, [(day, mean) for day, mean, _lv in s.points]) for s in region.teams]
        chart = _svg(charts.line_chart(
            series, title=_("Fidelity in %(region)s") % {"region": region.region_name}, y_min=1, y_max=5,
            y_format=_decimal(language),
            y_label=_("Mean"), markers=_level_markers(scale, language),
            description=_("Total mean of each team's fidelity reviews over time, 1 to 5."),
        )) if series else ""
        blocks.append({"region": region, "chart": chart})
    return render(request, "teams/region.html", {
        "blocks": blocks, "scale": scale, "scales": sorted(scales.values(), key=lambda s: s.id),
        "level_names": level_names, "title": _("Team fidelity by region"),
    })


@login_required
def region_export(request: HttpRequest, fmt: str) -> HttpResponse:
    user = _user(request)
    services.require_analyst(user, resource="fidelity review export")
    if fmt not in EXPORT_TYPES:
        raise Http404("unknown format")
    reviews = services.reviews_for_export(user=user)
    scope = f"region {user.region.code}" if user.region else "national"
    return _export_response(request, reviews, fmt, scope, "fidelity-reviews")


@login_required
def board_change(request: HttpRequest, code: str, pid: str) -> HttpResponse:
    """Put a person on a FACT team's board, or take them off (POST)."""
    user = _user(request)
    person, _relationship = open_person(user, pid, action="update", resource="FACT board")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    team = services.open_team(user, code, action="update", resource="FACT board")
    try:
        if request.POST.get("action") == "end":
            end_form = BoardEndForm(request.POST)
            if not end_form.is_valid():
                raise ReviewRefused(_("Give the date the person left the board."))
            services.take_off_board(user=user, team=team, person=person, until=end_form.cleaned_data["until"])
            messages.success(request, _("The person is off the board."))
        else:
            form = BoardForm(request.POST)
            if not form.is_valid():
                raise ReviewRefused(_("Give a start date and a reason."))
            services.place_on_board(user=user, team=team, person=person, since=form.cleaned_data["since"],
                                    reason=form.cleaned_data["reason"], note=form.cleaned_data["note"])
            messages.success(request, _("The person is on the board."))
    except ReviewRefused as exc:
        messages.error(request, str(exc))
    return redirect("person", pid=person.pid)
