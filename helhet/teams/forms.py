"""The fidelity review form: one score and one justification per item of the scale, pre-filled from suggestions.

The form only reads the raw values; `services.record_review` decides what is valid
(scores 1-5, justifications the scale requires, reviewers with a role in the team), so
the page, the CLI and tests share one set of rules and one audit trail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from helhet.accounts.models import StaffMembership, User
from helhet.teams.fidelity import MAX_SCORE, MIN_SCORE, FidelityScale, ScaleItem
from helhet.teams.models import PROFESSION_CHOICES, BoardReason
from helhet.teams.prefill import Suggestion

NOT_RATED = "-"


def score_field_name(item_id: str) -> str:
    return f"score_{item_id}"


def justification_field_name(item_id: str) -> str:
    return f"justification_{item_id}"


class ReviewForm(forms.Form):
    review_date = forms.DateField(label=_("Review date"), widget=forms.DateInput(attrs={"type": "date"}))
    reviewers = forms.ModelMultipleChoiceField(
        label=_("Reviewers"), queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Name at least one reviewer.")})

    def __init__(self, *args: Any, scale: FidelityScale, members: Sequence[User], language: str,
                 suggestions: Mapping[str, Suggestion], **kwargs: Any) -> None:
        initial = dict(kwargs.pop("initial", None) or {})
        for item_id, suggestion in suggestions.items():
            initial.setdefault(score_field_name(item_id), str(suggestion.score))
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.scale = scale
        self.language = language
        self.suggestions = suggestions
        reviewers = self.fields["reviewers"]
        assert isinstance(reviewers, forms.ModelMultipleChoiceField)
        reviewers.queryset = User.objects.filter(pk__in=[m.pk for m in members]).order_by("last_name", "username")
        reviewers.label_from_instance = _reviewer_label  # type: ignore[method-assign,assignment]
        choices = [("", _("Choose a score")), *[(str(s), str(s)) for s in range(MIN_SCORE, MAX_SCORE + 1)],
                   (NOT_RATED, _("Not rated"))]
        self.score_choices = choices
        for item in scale.items:
            # A CharField, not a choice field: a value outside 1-5 reaches record_review, which refuses it.
            self.fields[score_field_name(item.id)] = forms.CharField(
                label=f"{item.id} {item.name.get(language)}", required=False, widget=forms.Select(choices=choices))
            self.fields[justification_field_name(item.id)] = forms.CharField(
                label=_("Justification"), required=False, max_length=4000,
                widget=forms.Textarea(attrs={"rows": 2}))

    def item_rows(self) -> list[dict[str, Any]]:
        """Plain rows for the template: 28 items x 2 widgets through Django's widget templates is slow."""
        language = self.language
        choices = [(str(value), str(label)) for value, label in self.score_choices]
        rows = []
        for item in self.scale.items:
            score_name, reason_name = score_field_name(item.id), justification_field_name(item.id)
            if self.is_bound:
                score, reason = self.data.get(score_name, ""), self.data.get(reason_name, "")
            else:
                score, reason = self.initial.get(score_name, ""), self.initial.get(reason_name, "")
            rows.append({
                "item": item, "name": item.name.get(language), "anchors": _anchors(item, language),
                "score_name": score_name, "reason_name": reason_name, "score": str(score), "reason": reason,
                "choices": choices, "suggestion": self.suggestions.get(item.id),
                "explanation": _explanation(item, self.suggestions.get(item.id)),
            })
        return rows

    def scores(self) -> dict[str, Any]:
        """Raw scores by item: an int where the value is a whole number, None for not rated, else the text."""
        scores: dict[str, Any] = {}
        for item in self.scale.items:
            raw = (self.cleaned_data.get(score_field_name(item.id)) or "").strip()
            if raw == NOT_RATED:
                scores[item.id] = None
            elif raw.lstrip("-").isdigit():
                scores[item.id] = int(raw)
            elif raw:
                scores[item.id] = raw
        return scores

    def justifications(self) -> dict[str, str]:
        texts = {item.id: (self.cleaned_data.get(justification_field_name(item.id)) or "").strip()
                 for item in self.scale.items}
        return {k: v for k, v in texts.items() if v}


def _explanation(item: ScaleItem, suggestion: Suggestion | None) -> str:
    from helhet.teams.services import explain_suggestion

    if suggestion is None:
        return ""
    return explain_suggestion(item.derivation, suggestion.score, suggestion.figures, suggestion.anchors_verified,
                              suggestion.explanation)


def _reviewer_label(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _anchors(item: ScaleItem, language: str) -> list[tuple[int, str]]:
    return [(score, text.get(language)) for score, text in (item.anchors or {}).items()]


class BoardForm(forms.Form):
    since = forms.DateField(label=_("On the board from"), widget=forms.DateInput(attrs={"type": "date"}),
                            initial=dt.date.today)
    reason = forms.ChoiceField(label=_("Reason"), choices=BoardReason.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=300)


class BoardEndForm(forms.Form):
    until = forms.DateField(label=_("Off the board on"), widget=forms.DateInput(attrs={"type": "date"}),
                            initial=dt.date.today)


class TeamDetailsForm(forms.Form):
    catchment_adults = forms.IntegerField(label=_("Adults in the catchment area"), required=False, min_value=0)

    def __init__(self, *args: Any, memberships: Sequence[StaffMembership], **kwargs: Any) -> None:
        from helhet.teams.services import profession_of

        super().__init__(*args, **kwargs)
        self.memberships = memberships
        for membership in memberships:
            detail = getattr(membership, "staffing_detail", None)
            self.fields[f"profession_{membership.pk}"] = forms.ChoiceField(
                label=membership.user.get_full_name() or membership.user.get_username(),
                choices=PROFESSION_CHOICES, initial=profession_of(membership).value)
            self.fields[f"experience_{membership.pk}"] = forms.BooleanField(
                label=_("At least a year's training or experience in the field"), required=False,
                initial=bool(detail and detail.field_experience))

    def rows(self) -> list[dict[str, Any]]:
        return [{"membership": m, "profession": self[f"profession_{m.pk}"], "experience": self[f"experience_{m.pk}"]}
                for m in self.memberships]

    def staffing(self) -> dict[int, tuple[str, bool]]:
        return {m.pk: (self.cleaned_data[f"profession_{m.pk}"], self.cleaned_data[f"experience_{m.pk}"])
                for m in self.memberships}
