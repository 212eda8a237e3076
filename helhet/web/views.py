"""Login, the worklist and the person page: thin views over the access rules and the panels."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from helhet.accounts import throttle
from helhet.accounts.access import (
    NO_ROLE_MESSAGE,
    AccessDenied,
    audit_person_list,
    open_person,
    user_unit_ids,
    visible_persons,
)
from helhet.accounts.models import STAFF_ROLES, Role, User
from helhet.audit.services import AuditEvent, record_one
from helhet.organisations.models import ServiceUnit
from helhet.pathways.models import responsible_episodes
from helhet.persons.forms import RegisterPersonForm
from helhet.persons.models import Sex
from helhet.persons.nin import InvalidNationalId
from helhet.persons.services import PersonError, register_person_in_unit
from helhet.web.panels import PANELS

WORKLIST_PAGE_SIZE = 500


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")[:45]


def login_view(request: HttpRequest) -> HttpResponse:
    form = AuthenticationForm(request, data=request.POST or None)
    locked = False
    if request.method == "POST":
        username = request.POST.get("username", "")[:150]
        address = _client_address(request)
        if throttle.is_locked(username, address):
            locked = True
            form = AuthenticationForm(request)
            record_one(AuditEvent(actor=username, action="login", outcome="denied", channel="web",
                                  purpose="throttled", detail={"address": address}))
        elif form.is_valid():
            user = form.get_user()
            login(request, user)
            throttle.clear_failures(username)
            record_one(AuditEvent(actor=user.get_username(), actor_role=user.role, action="login", channel="web"))
            return redirect(request.GET.get("next") or "home")
        else:
            throttle.register_failure(username, address)
            record_one(AuditEvent(actor=username, action="login", outcome="denied", channel="web",
                                  purpose="wrong credentials", detail={"address": address}))
    return render(request, "web/login.html", {"form": form, "locked": locked}, status=429 if locked else 200)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.role == Role.SERVICE_USER and user.person is not None:
        return redirect("person", pid=user.person.pid)
    if user.role in STAFF_ROLES:
        return redirect("worklist")
    return render(request, "web/home.html", {})


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.role == Role.SERVICE_USER:
        return redirect("home")
    units = list(ServiceUnit.objects.filter(pk__in=user_unit_ids(user)).order_by("name"))
    unit_filter = request.GET.get("unit", "")
    selected = [u.pk for u in units if u.code == unit_filter] if unit_filter else None
    query = request.GET.get("q", "").strip()[:100]
    persons = visible_persons(user, unit_ids=selected)
    if query:
        condition = Q(pid__iexact=query) | Q(given_name__icontains=query) | Q(family_name__icontains=query)
        if " " in query:
            first, _sep, last = query.partition(" ")
            condition |= Q(given_name__icontains=first, family_name__icontains=last.strip())
        persons = persons.filter(condition)
    episodes = responsible_episodes().filter(unit_id__in=[u.pk for u in units]).select_related("unit")
    persons = (
        persons.select_related("municipality")
        .prefetch_related(Prefetch("episodes", queryset=episodes, to_attr="my_episodes"))
        .order_by("family_name", "given_name", "pk")
    )
    page = Paginator(persons, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    people = list(page.object_list)
    if people:
        audit_person_list(user, [p.pid for p in people], detail={"query": query, "unit": unit_filter})
    # Plain rows keep the template loop cheap for long lists (one reverse() for all links).
    url_prefix = reverse("person", args=["_"])[:-2]
    sexes = dict(Sex.choices)
    rows = [
        {"url": f"{url_prefix}{p.pid}/", "pid": p.pid, "name": f"{p.family_name}, {p.given_name}",
         "born": p.birth_year, "sex": sexes.get(p.sex, p.sex), "municipality": p.municipality.name,
         "units": ", ".join(e.unit.name for e in p.my_episodes)}
        for p in people
    ]
    return render(request, "web/worklist.html", {
        "units": units, "unit_filter": unit_filter, "query": query, "page": page, "rows": rows,
        "title": _("Worklist"),
    })


@login_required
def register_person(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.role not in STAFF_ROLES:
        raise AccessDenied(NO_ROLE_MESSAGE)
    units = list(ServiceUnit.objects.filter(pk__in=user_unit_ids(user)).order_by("name"))
    form = RegisterPersonForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = register_person_in_unit(
                user=user, unit=data["unit"], national_id=data["national_id"], given_name=data["given_name"],
                family_name=data["family_name"], sex=data["sex"], municipality_number=data["municipality"],
                district=data["district"] or None, immigrant_background=data["immigrant_background"] or None,
                consent_next_of_kin=data["consent_next_of_kin"], consent_research=data["consent_research"],
            )
        except (InvalidNationalId, PersonError) as exc:
            form.add_error(None, str(exc))
            record_one(AuditEvent(actor=user.get_username(), actor_role=user.role, action="create",
                                  outcome="denied", resource="person", channel="web", purpose=str(exc)[:200]))
        else:
            messages.success(request, _("The person is registered."))
            return redirect("person", pid=person.pid)
    return render(request, "web/register_person.html", {"form": form, "title": _("Register a person")},
                  status=400 if request.method == "POST" else 200)


@login_required
def person_page(request: HttpRequest, pid: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    person, relationship = open_person(user, pid, action="read", resource="person page")
    panels = []
    for panel in PANELS:
        if panel.roles is not None and user.role not in panel.roles:
            continue
        context = panel.function(request, person, relationship)
        if context is not None:
            panels.append({"template": panel.template, "context": context})
    return render(request, "web/person.html", {
        "person": person, "relationship": relationship, "panels": panels, "title": person.display_name,
    })
