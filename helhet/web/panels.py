"""Panels on the person page, contributed by the domain apps.

An app registers a panel in its `panels.py`:

    @person_panel(order=20, template="assessment/panel_profile.html")
    def profile(request, person, relationship) -> dict: ...

The function returns the panel template's context (or None to hide the panel). It
runs after the access check, so it may read the person's data; it must keep its
own query count fixed (no per-row queries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PanelFunction = Callable[..., dict[str, Any] | None]


@dataclass(frozen=True)
class PersonPanel:
    order: int
    template: str
    function: PanelFunction
    roles: tuple[str, ...] | None  # None: every role that may open the person


PANELS: list[PersonPanel] = []


def person_panel(*, order: int, template: str, roles: tuple[str, ...] | None = None
                 ) -> Callable[[PanelFunction], PanelFunction]:
    def register(function: PanelFunction) -> PanelFunction:
        PANELS.append(PersonPanel(order=order, template=template, function=function, roles=roles))
        PANELS.sort(key=lambda panel: panel.order)
        return function

    return register
