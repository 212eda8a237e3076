"""Indicator pages: the team/unit dashboard, the drill-down to persons, analyst dashboards, downloads.

Thin views: parse and check the request, build a view-model (dashboard.py), render.
Only published (suppressed) figures reach a page, a table download or a PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from helhet.accounts.access import NO_ROLE_MESSAGE, AccessDenied, require_role, user_unit_ids
from helhet.accounts.models import STAFF_ROLES, Role, User
from helhet.indicators import dashboard, engine, exports, report
from helhet.indicators.definitions import STRATIFIERS, Period, PeriodError
from helhet.organisations.models import HealthRegion, HealthTrust, ServiceUnit
from helhet.web.pdf import pdf_response

DASHBOARD_ROLES = (*STAFF_ROLES, Role.ANALYST)
NOT_YOUR_UNIT_MESSAGE = gettext_noop("You do not work in this unit, so you cannot open its dashboard.")
NOT_YOUR_REGION_MESSAGE = gettext_noop("Your analyst account covers another health region.")
NO_PERSON_LISTS_MESSAGE = gettext_noop(
    "Person lists are only for staff with a care relationship to the persons. "
    "Analysts see published aggregates only."
)
WHICH_CHOICES = ("numerator", "denominator", "without_event")


class BadInput(Exception):
    """A request parameter names something that does not exist; the page lists the valid values."""

    def __init__(self, *, status: int, message: str, valid: list[tuple[str, str]], parameter: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.valid = valid
        self.parameter = parameter


def _bad_input_page(request: HttpRequest, error: BadInput) -> HttpResponse:
    return render(request, "indicators/bad_input.html", {
        "title": _("Invalid request"), "message": error.message, "valid": error.valid,
        "parameter": error.parameter,
    }, status=error.status)


def handles_bad_input(view):  # type: ignore[no-untyped-def]
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)  # type: ignore[no-any-return]
        except BadInput as error:
            return _bad_input_page(request, error)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# ---------------------------------------------------------------------------
# Parsing


def parse_period(request: HttpRequest) -> Period:
    raw = request.GET.get("period", "").strip()
    if not raw:
        return dashboard.default_period()
    try:
        return Period.parse(raw[:40])
    except PeriodError:
        raise BadInput(
            status=400, parameter="period",
            message=_("“%(value)s” is not a period. Use a year (2025), a quarter (2025-Q1), a month (2025-03) "
                      "or a range of months (2025-01..2025-06).") % {"value": raw[:40]},
            valid=[(p, p) for p in dashboard.period_choices()],
        ) from None


def parse_stratifier(request: HttpRequest) -> str | None:
    raw = request.GET.get("by", "").strip()
    if not raw:
        return None
    if raw not in STRATIFIERS:
        raise BadInput(
            status=400, parameter="by",
            message=_("“%(value)s” is not a stratifier.") % {"value": raw[:40]},
            valid=[(name, dashboard.stratifier_label(name)) for name in STRATIFIERS],
        )
    return raw


def parse_indicator(indicator_id: str) -> str:
    known = dashboard.definitions()
    if indicator_id not in known:
        raise BadInput(
            status=404, parameter="indicator",
            message=_("There is no indicator “%(value)s”.") % {"value": indicator_id[:80]},
            valid=[(d.id, d.title.get(_language())) for d in known.values()],
        )
    return indicator_id


def parse_indicator_filter(request: HttpRequest) -> list[str] | None:
    raw = request.GET.get("indicator", "").strip()
    return [parse_indicator(raw)] if raw else None


def _language() -> str:
    from django.utils.translation import get_language

    return get_language() or "nb"


# ---------------------------------------------------------------------------
# Scopes and who may see them


ResolvedScope = dashboard.ScopeInfo


def resolve_unit(user: User, code: str) -> ResolvedScope:
    resolved = dashboard.scope_info(engine.Scope("unit", code))
    if resolved is None:
        if user.role in STAFF_ROLES:
            units = ServiceUnit.objects.filter(pk__in=user_unit_ids(user))
        else:
            units = ServiceUnit.objects.filter(active=True)
            if user.region_id is not None:
                units = units.filter(trust__region_id=user.region_id)
        raise BadInput(
            status=404, parameter="unit",
            message=_("There is no unit “%(value)s”.") % {"value": code[:40]},
            valid=[(u.code, u.name) for u in units.order_by("name")[:300]],
        )
    return resolved


def resolve_area(level: str, code: str) -> ResolvedScope:
    resolved = dashboard.scope_info(engine.Scope(level, code) if level != "national" else engine.NATIONAL)
    if resolved is not None:
        return resolved
    if level == "region":
        raise BadInput(status=404, parameter="region",
                       message=_("There is no health region “%(value)s”.") % {"value": code[:40]},
                       valid=[(r.code, r.name) for r in HealthRegion.objects.order_by("name")])
    raise BadInput(status=404, parameter="trust",
                   message=_("There is no health trust “%(value)s”.") % {"value": code[:40]},
                   valid=[(t.code, t.name) for t in HealthTrust.objects.order_by("name")])


def check_unit_access(user: User, resolved: ResolvedScope) -> None:
    require_role(user, DASHBOARD_ROLES)
    assert resolved.unit is not None
    if user.role in STAFF_ROLES and resolved.unit.pk not in user_unit_ids(user):
        raise AccessDenied(NOT_YOUR_UNIT_MESSAGE)
    check_region(user, resolved)


def check_region(user: User, resolved: ResolvedScope) -> None:
    if user.role == Role.ANALYST and user.region_id is not None and resolved.scope.level != "national":
        if resolved.region_id != user.region_id:
            raise AccessDenied(NOT_YOUR_REGION_MESSAGE)


def check_area_access(user: User, resolved: ResolvedScope) -> None:
    require_role(user, (Role.ANALYST,))
    check_region(user, resolved)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Views


@require_safe
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Where the menu entry leads: a team leader's (first) unit, an analyst's region or the country."""
    user = _user(request)
    require_role(user, DASHBOARD_ROLES)
    if user.role == Role.ANALYST:
        if user.region is not None:
            return redirect("indicators:region", code=user.region.code)
        return redirect("indicators:national")
    unit = ServiceUnit.objects.filter(pk__in=user_unit_ids(user)).order_by("name").first()
    if unit is None:
        raise AccessDenied(NO_ROLE_MESSAGE)
    return redirect("indicators:unit", code=unit.code)


def _downloads(level: str, code: str, query: str) -> dict[str, str]:
    kwargs = {"code": code} if level != "national" else {}
    suffix = f"?{query}" if query else ""
    return {
        "pdf": reverse(f"indicators:{level}-report", kwargs=kwargs) + suffix,
        "csv": reverse(f"indicators:{level}-table", kwargs={**kwargs, "fmt": "csv"}) + suffix,
        "xlsx": reverse(f"indicators:{level}-table", kwargs={**kwargs, "fmt": "xlsx"}) + suffix,
    }


def _base_context(request: HttpRequest, period: Period, level: str, code: str) -> dict[str, object]:
    query = request.GET.urlencode()
    return {"period": period, "period_choices": dashboard.period_choices(), "query": query,
            "downloads": _downloads(level, code, query)}


def cached_fragment(request: HttpRequest, parts: list[str], template: str,
                    context: Callable[[], dict[str, Any]]) -> str:
    """A page body rendered once per scope, period, options and language, then served from the cache.

    Callers check access first; the body holds published figures only and nothing about the user
    beyond what ``parts`` name (such as whether the persons links are shown).
    """
    key = ":".join(["helhet:indicators", str(dashboard.generation()), "page", template,
                    *parts, str(dashboard.threshold()), get_language() or ""])
    html: str | None = cache.get(key)
    if html is None:
        values = context()
        html = render_to_string(template, values, request=request)
        # Never kept past the maximum age of the oldest figure in it (it says when they were computed).
        cache.set(key, html, dashboard.cache_seconds(getattr(values.get("board"), "computed_at", None)))
    return mark_safe(html)  # rendered by our own template, with autoescaping


@require_safe
@login_required
@handles_bad_input
def unit_dashboard(request: HttpRequest, code: str) -> HttpResponse:
    """The team/unit dashboard: every indicator for the period, with trend, comparisons and target."""
    user = _user(request)
    resolved = resolve_unit(user, code)
    check_unit_access(user, resolved)
    period = parse_period(request)
    can_drill = user.role in STAFF_ROLES

    def build() -> dict[str, Any]:
        board = dashboard.team_dashboard(scope=resolved.scope, scope_name=resolved.name, period=period,
                                         comparisons=resolved.comparisons)
        return {"board": board, "can_drill": can_drill}

    body = cached_fragment(request, [resolved.scope.code, period.text, str(can_drill)],
                           "indicators/_unit_body.html", build)
    units = []
    if user.role in STAFF_ROLES:
        units = list(ServiceUnit.objects.filter(pk__in=user_unit_ids(user)).order_by("name"))
    return render(request, "indicators/unit_dashboard.html", {
        **_base_context(request, period, "unit", code), "body": body, "scope": resolved.scope,
        "scope_name": resolved.name, "units": units,
        "title": _("Indicators for %(unit)s") % {"unit": resolved.name},
    })


@require_safe
@login_required
@handles_bad_input
def persons_behind(request: HttpRequest, code: str, indicator: str) -> HttpResponse:
    """The persons behind an indicator in a unit: for staff with a care relationship, never for analysts."""
    user = _user(request)
    if user.role not in STAFF_ROLES:
        # engine.persons_behind refuses too; the page says why in plain words.
        return render(request, "web/denied.html", {"message": NO_PERSON_LISTS_MESSAGE}, status=403)
    resolved = resolve_unit(user, code)
    check_unit_access(user, resolved)
    indicator_id = parse_indicator(indicator)
    definition = dashboard.definitions()[indicator_id]
    period = parse_period(request)
    choices = list(engine.WHICH) if definition.is_proportion else ["denominator"]
    which = request.GET.get("which", choices[0])
    if which not in choices:
        raise BadInput(status=400, parameter="which",
                       message=_("“%(value)s” is not a choice here.") % {"value": which[:40]},
                       valid=[(w, dashboard.which_label(w)) for w in choices])
    try:
        persons = engine.persons_behind(user, indicator_id, period, resolved.scope, which)  # type: ignore[arg-type]
    except engine.IndicatorError as error:
        raise BadInput(status=404, parameter="indicator", message=error.message,
                       valid=[(v, v) for v in error.valid]) from None
    return render(request, "indicators/persons.html", {
        "period": period, "unit": resolved.unit, "definition": definition,
        "indicator_title": definition.title.get(_language()), "persons": persons, "which": which,
        "which_choices": [(w, dashboard.which_label(w)) for w in choices],
        "title": _("Persons behind the indicator"),
    })


@require_safe
@login_required
@handles_bad_input
def area_dashboard(request: HttpRequest, level: str, code: str = "") -> HttpResponse:
    """The analyst dashboard of the country, a region or a trust, optionally stratified."""
    user = _user(request)
    require_role(user, (Role.ANALYST,))
    resolved = resolve_area(level, code)
    check_area_access(user, resolved)
    period = parse_period(request)
    by = parse_stratifier(request)
    indicator_ids = parse_indicator_filter(request)

    def build() -> dict[str, Any]:
        board = dashboard.analyst_dashboard(scope=resolved.scope, scope_name=resolved.name, period=period,
                                            by=by, comparisons=resolved.comparisons, indicator_ids=indicator_ids)
        return {"board": board, "can_drill": False}

    parts = [level, code, period.text, by or "-", ",".join(indicator_ids or ["all"])]
    body = cached_fragment(request, parts, "indicators/_area_body.html", build)
    return render(request, "indicators/area_dashboard.html", {
        **_base_context(request, period, level, code), "body": body, "level": level, "code": code,
        "scope": resolved.scope, "scope_name": resolved.name, "by": by,
        "stratifiers": [(s, dashboard.stratifier_label(s)) for s in dashboard.ANALYST_STRATIFIERS],
        "regions": list(HealthRegion.objects.order_by("name")) if user.region_id is None else [],
        "trusts": _trusts_for(user),
        "title": _("Indicators: %(scope)s") % {"scope": resolved.name},
    })


def _trusts_for(user: User) -> list[HealthTrust]:
    trusts = HealthTrust.objects.order_by("name")
    if user.region_id is not None:
        trusts = trusts.filter(region_id=user.region_id)
    return list(trusts)


# ---------------------------------------------------------------------------
# Downloads: CSV, XLSX and the PDF report, for a unit or an area


def _download_scope(request: HttpRequest, level: str, code: str) -> ResolvedScope:
    user = _user(request)
    if level == "unit":
        resolved = resolve_unit(user, code)
        check_unit_access(user, resolved)
        return resolved
    require_role(user, (Role.ANALYST,))
    resolved = resolve_area(level, code)
    check_area_access(user, resolved)
    return resolved


@require_safe
@login_required
@handles_bad_input
def table_download(request: HttpRequest, level: str, fmt: str, code: str = "") -> HttpResponse:
    if fmt not in exports.FORMATS:
        raise BadInput(status=404, parameter="format", message=_("“%(value)s” is not a download format.")
                       % {"value": fmt[:20]}, valid=[(f, f.upper()) for f in exports.FORMATS])
    resolved = _download_scope(request, level, code)
    period = parse_period(request)
    by = parse_stratifier(request)
    indicator_ids = parse_indicator_filter(request)
    table = exports.published_table(scope=resolved.scope, scope_name=resolved.name, period=period, by=by,
                                    indicator_ids=indicator_ids)
    body, content_type = exports.render(table, fmt)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(resolved.scope, period, by, fmt)}"'
    return response


@require_safe
@login_required
@handles_bad_input
def report_download(request: HttpRequest, level: str, code: str = "") -> HttpResponse:
    resolved = _download_scope(request, level, code)
    period = parse_period(request)
    by = parse_stratifier(request)
    indicator_ids = parse_indicator_filter(request)
    pdf = report.render_report(resolved.scope, period, by=by, indicator_ids=indicator_ids, request=request)
    response = pdf_response(pdf, exports.filename(resolved.scope, period, by, "pdf"))
    response["Content-Disposition"] = response["Content-Disposition"].replace("inline", "attachment")
    return response
