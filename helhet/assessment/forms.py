"""Forms generated from an instrument definition: one field per item, labels in the page's language.

Items are never required by the form: a person may leave an item out, and the scoring
engine then reports the total as absent with the reason (never a silent 0). The
answers the form hands on are exactly what ``scoring.score_response`` takes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from helhet.assessment.library import Instrument, Item
from helhet.assessment.scoring import Answer

FIELD_PREFIX = "item_"
EARLIEST_DATE = dt.date(2000, 1, 1)


def text_language() -> str:
    """The instrument text language for the active UI language: English only when chosen, else bokmål."""
    language = get_language() or "nb"
    return "en" if language.startswith("en") else "nb"


def field_name(link_id: str) -> str:
    return FIELD_PREFIX + link_id


def _item_field(item: Item, language: str) -> forms.Field:
    label = item.text.get(language)
    if item.type == "choice":
        return forms.ChoiceField(
            label=label, required=False, widget=forms.RadioSelect,
            choices=[(option.code, option.display.get(language)) for option in item.options],
        )
    if item.type == "integer":
        return forms.IntegerField(
            label=label, required=False, min_value=_whole(item.min_value), max_value=_whole(item.max_value),
        )
    if item.type == "decimal":
        return forms.FloatField(
            label=label, required=False, min_value=item.min_value, max_value=item.max_value,
            widget=forms.NumberInput(attrs={"step": "any"}),
        )
    widget = forms.Textarea(attrs={"rows": 2}) if item.type == "text" else forms.TextInput()
    return forms.CharField(label=label, required=False, max_length=2000, widget=widget)


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


class InstrumentForm(forms.Form):
    """The items of one instrument, and (for clinicians) the date it was administered."""

    administered_on = forms.DateField(
        label=_("Date administered"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(
        self, *args: Any, instrument: Instrument, today: dt.date, ask_date: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.today = today
        self.language = text_language()
        if ask_date:
            self.fields["administered_on"].initial = today
        else:
            del self.fields["administered_on"]
        for item in instrument.items:
            self.fields[field_name(item.link_id)] = _item_field(item, self.language)

    def clean_administered_on(self) -> dt.date:
        day: dt.date = self.cleaned_data["administered_on"]
        if day > self.today:
            raise forms.ValidationError(_("The date cannot be in the future."))
        if day < EARLIEST_DATE:
            raise forms.ValidationError(_("The date is too far back."))
        return day

    def item_rows(self) -> list[dict[str, Any]]:
        """Bound fields with the item's prefix, for the template."""
        return [
            {"field": self[field_name(item.link_id)], "prefix": item.prefix or "", "item": item,
             "choice": item.type == "choice", "unit": item.unit or ""}
            for item in self.instrument.items
        ]

    def answers(self) -> dict[str, Answer]:
        """linkId → answer code, number or text, for the items answered (call after is_valid())."""
        answers: dict[str, Answer] = {}
        for item in self.instrument.items:
            value = self.cleaned_data.get(field_name(item.link_id))
            if value is None or value == "":
                continue
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            answers[item.link_id] = value
        return answers

    def administered(self) -> dt.date:
        return self.cleaned_data.get("administered_on") or self.today
