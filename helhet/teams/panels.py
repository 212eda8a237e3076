"""The FACT board on the person page, and the team entries in the main menu."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_noop

from helhet.accounts.access import CareRelationship, user_unit_ids
from helhet.accounts.models import STAFF_ROLES, Role
from helhet.organisations.models import UnitKind
from helhet.pathways.models import responsible_episodes
from helhet.persons.models import Person
from helhet.teams.forms import BoardEndForm, BoardForm
from helhet.teams.models import BoardPlacement
from helhet.web.context import add_navigation
from helhet.web.panels import person_panel

add_navigation(label=gettext_noop("Teams"), url_name="teams:list", roles=(Role.CLINICIAN, Role.TEAM_LEADER), order=40)
add_navigation(label=gettext_noop("Team fidelity"), url_name="teams:region", roles=(Role.ANALYST,), order=40)


@person_panel(order=40, template="teams/panel_board.html", roles=STAFF_ROLES)
def fact_board(request: HttpRequest, person: Person, relationship: CareRelationship) -> dict[str, Any] | None:
    """For a person on the caseload of a FACT team the user works in: board status, and putting on or off."""
    episodes = (responsible_episodes().filter(person=person, unit__kind=UnitKind.FACT,
                                              unit_id__in=user_unit_ids(request.user))  # type: ignore[arg-type]
                .select_related("unit"))
    teams = {e.unit_id: e.unit for e in episodes}
    if not teams:
        return None
    open_placements = {p.team_id: p for p in BoardPlacement.objects.filter(
        person=person, team_id__in=teams, until__isnull=True)}
    rows = [{"team": team, "placement": open_placements.get(team_id)} for team_id, team in teams.items()]
    return {"pid": person.pid, "rows": rows, "form": BoardForm(), "end_form": BoardEndForm()}
