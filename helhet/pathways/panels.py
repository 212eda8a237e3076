from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from helhet.accounts.access import CareRelationship
from helhet.persons.models import Person
from helhet.web.panels import person_panel


@person_panel(order=10, template="pathways/panel_episodes.html")
def episodes(request: HttpRequest, person: Person, relationship: CareRelationship) -> dict[str, Any]:
    return {"episodes": list(person.episodes.select_related("unit").order_by("-start_date"))}
