from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from helhet.accounts.models import Role


@dataclass(frozen=True)
class NavItem:
    order: int
    label: str  # English, marked with gettext_noop where it is defined; translated when shown
    url_name: str
    roles: tuple[str, ...]


NAVIGATION: list[NavItem] = []


def add_navigation(*, label: str, url_name: str, roles: tuple[str, ...], order: int = 100) -> None:
    """Apps add their main-menu entries (from their panels.py) instead of editing this file."""
    NAVIGATION.append(NavItem(order, label, url_name, roles))
    NAVIGATION.sort(key=lambda item: item.order)


add_navigation(label=N_("Worklist"), url_name="worklist", roles=(Role.CLINICIAN, Role.TEAM_LEADER), order=10)
add_navigation(label=N_("My page"), url_name="home", roles=(Role.SERVICE_USER,), order=10)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    return {"nav_items": [(_(item.label), reverse(item.url_name)) for item in NAVIGATION if user.role in item.roles]}
