"""Forms for the plan pages. They label and re-display the fields; the rules live in services.py.

Every field is optional text here so that the one set of rules (services.clean_goal,
services.record_review ...) decides, with one clear message and one audit entry,
whether the page or the API sent the input.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from helhet.recovery.models import (
    RATING_LABELS,
    Baseline,
    Goal,
    GoalStatus,
    LifeArea,
    PlanStatus,
    RecoveryPlan,
    signed,
)

RATING_CHOICES = [("", _("Not rated")),
                  *[(f"{value:+d}" if value else "0", format_lazy("{} {}", signed(value), RATING_LABELS[value]))
                    for value in (-2, -1, 0, 1, 2)]]
LEVEL_LABELS = {
    "level_much_less": _("−2 Much less than expected"),
    "level_less": _("−1 Less than expected"),
    "level_expected": _("0 Expected level"),
    "level_more": _("+1 More than expected"),
    "level_much_more": _("+2 Much more than expected"),
}


def _text(label: Any, *, rows: int = 0, help_text: Any = "", input_type: str = "text") -> forms.CharField:
    widget: forms.Widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput(attrs={"type": input_type})
    return forms.CharField(label=label, required=False, strip=False, widget=widget, help_text=help_text)


def _choice(label: Any, choices: list[tuple[Any, Any]]) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=forms.Select(choices=choices))


class GoalForm(forms.Form):
    """A goal, written together (staff) or proposed by the person (staff-only fields removed)."""

    def __init__(self, data: Any = None, *, staff: bool, goal: Goal | None = None, **kwargs: Any) -> None:
        if goal is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "text": goal.text, "life_area": goal.life_area, "weight": f"{goal.weight:g}",
                "baseline": str(goal.baseline), "helpers": goal.helpers, "status": goal.status,
                "review_date": goal.review_date.isoformat() if goal.review_date else "",
                "staff_note": goal.staff_note,
                **{name: getattr(goal, name) for name in LEVEL_LABELS},
            }
        super().__init__(data, **kwargs)
        self.fields["text"] = _text(_("The goal, in your own words"), rows=2)
        self.fields["life_area"] = _choice(_("Life area"), [("", _("Choose …")), *LifeArea.choices])
        for name, label in LEVEL_LABELS.items():
            self.fields[name] = _text(label)
        self.fields["weight"] = _text(_("Weight"), help_text=_("How important the goal is; 1 is usual."),
                                      input_type="number")
        self.fields["weight"].widget.attrs.update({"step": "0.5", "min": "0.5", "inputmode": "decimal"})
        self.fields["baseline"] = _choice(_("Where it stands now (baseline)"),
                                          [(str(v), label) for v, label in Baseline.choices])
        self.fields["helpers"] = _text(_("Who helps with what"), rows=2)
        self.fields["review_date"] = _text(_("Review date"), input_type="date")
        if staff:
            if goal is not None:
                self.fields["status"] = _choice(_("Status"), list(GoalStatus.choices))
            self.fields["staff_note"] = _text(_("Staff-only note (never shown to the person)"), rows=2)
        if not self.is_bound and goal is None:
            self.initial.setdefault("weight", "1")
            self.initial.setdefault("baseline", str(Baseline.LESS.value))


class PlanForm(forms.Form):
    created_on = _text(_("Plan date"), input_type="date")
    staff_note = _text(_("Staff-only note (never shown to the person)"), rows=2)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("created_on", timezone.localdate().isoformat())


class PlanUpdateForm(forms.Form):
    """Staff: the plan's status, its staff-only note and the link to the individual plan."""

    status = _choice(_("Plan status"), list(PlanStatus.choices))
    staff_note = _text(_("Staff-only note (never shown to the person)"), rows=2)
    link_individual_plan = forms.BooleanField(label=_("Link to the person's individual plan"), required=False)

    def __init__(self, data: Any = None, *, plan: RecoveryPlan, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"status": plan.status, "staff_note": plan.staff_note})
        super().__init__(data, **kwargs)


class ReviewForm(forms.Form):
    """One rating field per goal (rating_<goal id>), the date and a note."""

    reviewed_on = _text(_("Date of the review"), input_type="date")
    note = _text(_("Note"), rows=2)

    def __init__(self, *args: Any, goals: list[Goal], self_rating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self_rating:
            self.fields["reviewed_on"].label = _("Date")
            self.fields["note"].label = _("Anything you want to add")
        if not self.is_bound:
            self.initial.setdefault("reviewed_on", timezone.localdate().isoformat())
        self.goal_fields: list[tuple[Goal, forms.BoundField]] = []
        for goal in goals:
            name = f"rating_{goal.pk}"
            self.fields[name] = _choice(goal.text, RATING_CHOICES)
            self.goal_fields.append((goal, self[name]))

    def ratings(self) -> dict[int, str]:
        data = self.data
        return {goal.pk: str(data.get(f"rating_{goal.pk}", "")) for goal, _bound in self.goal_fields}


class CommentForm(forms.Form):
    text = _text(_("Comment"), rows=3)

    def __init__(self, *args: Any, staff: bool, goals: list[Goal], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["goal"] = _choice(_("About the goal"), [("", _("The whole plan")),
                                                           *[(str(g.pk), g.text[:60]) for g in goals]])
        if staff:
            self.fields["staff_only"] = forms.BooleanField(
                label=_("Staff-only note (never shown to the person)"), required=False)
