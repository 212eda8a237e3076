from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from helhet.accounts.models import Role

# Main navigation per role: (label, url name). Apps add entries here as features land.
NAVIGATION: dict[str, list[tuple[str, str]]] = {
    Role.CLINICIAN: [(N_("Worklist"), "worklist")],
    Role.TEAM_LEADER: [(N_("Worklist"), "worklist")],
    Role.ANALYST: [],
    Role.ADMINISTRATOR: [],
    Role.SERVICE_USER: [(N_("My page"), "home")],
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_(label), reverse(name)) for label, name in NAVIGATION.get(user.role, [])]
    return {"nav_items": items}
