"""The recovery plan panel on the person page: the plan at a glance, with a link to the plan page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from helhet.accounts.access import CareRelationship
from helhet.accounts.models import Role
from helhet.persons.models import Person
from helhet.recovery import services
from helhet.web.panels import person_panel


@person_panel(order=30, template="recovery/panel.html")
def recovery_plan(request: HttpRequest, person: Person, relationship: CareRelationship) -> dict[str, Any]:
    plan = services.current_plan(person)
    own = getattr(request.user, "role", None) == Role.SERVICE_USER
    overview = services.plan_overview(plan, for_person=own) if plan is not None else None
    return {"person": person, "plan": plan, "overview": overview, "own": own}
