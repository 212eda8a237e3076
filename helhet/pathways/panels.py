"""The pathway on the person page, and the pathway entries in the main menu."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.http import HttpRequest
from django.utils.translation import gettext_noop

from helhet.accounts.access import CareRelationship
from helhet.accounts.models import STAFF_ROLES, Role
from helhet.pathways.alerts import compute_alerts
from helhet.pathways.timeline import build_timeline
from helhet.persons.models import Person
from helhet.web.context import add_navigation
from helhet.web.panels import person_panel

PANEL_EVENTS = 12

add_navigation(label=gettext_noop("Alerts"), url_name="pathways:alerts", roles=(Role.CLINICIAN, Role.TEAM_LEADER), order=20)
add_navigation(label=gettext_noop("Referrals"), url_name="pathways:referrals", roles=(Role.CLINICIAN, Role.TEAM_LEADER),
               order=30)


@person_panel(order=10, template="pathways/panel_pathway.html")
def pathway(request: HttpRequest, person: Person, relationship: CareRelationship) -> dict[str, Any]:
    """The latest events and the person's open alerts; the whole timeline is one click away."""
    staff = getattr(request.user, "role", "") in STAFF_ROLES
    return {
        "pid": person.pid,
        "events": build_timeline(person).events[:PANEL_EVENTS],
        "alerts": compute_alerts(Person.objects.filter(pk=person.pk)) if staff else [],
        "can_record": staff,
        "next_query": "?next=" + quote(request.path),
    }
