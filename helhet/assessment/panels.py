"""The integrated profile on the person page (and the same view-model in the PDF)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from helhet.accounts.access import CareRelationship
from helhet.accounts.models import STAFF_ROLES
from helhet.assessment.profile import build_profile
from helhet.persons.models import Person
from helhet.web.panels import person_panel


@person_panel(order=20, template="assessment/panel_profile.html")
def profile(request: HttpRequest, person: Person, relationship: CareRelationship) -> dict[str, Any]:
    user = request.user
    return {
        "profile": build_profile(person),
        "person": person,
        "can_assess": getattr(user, "role", None) in STAFF_ROLES,
    }
