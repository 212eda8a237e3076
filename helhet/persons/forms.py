from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from helhet.organisations.models import ServiceUnit
from helhet.persons.models import ImmigrantBackground, Sex


class RegisterPersonForm(forms.Form):
    national_id = forms.CharField(label=_("National identity number (11 digits)"), max_length=14)
    given_name = forms.CharField(label=_("Given name"), max_length=100)
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices)
    municipality = forms.CharField(label=_("Municipality number (kommunenummer)"), max_length=4)
    district = forms.CharField(label=_("City district (Oslo)"), max_length=60, required=False)
    immigrant_background = forms.ChoiceField(
        label=_("Immigrant background"), required=False,
        choices=[("", _("Not recorded")), *ImmigrantBackground.choices],
    )
    consent_next_of_kin = forms.BooleanField(label=_("Consents to next-of-kin involvement"), required=False)
    consent_research = forms.BooleanField(label=_("Consents to research use"), required=False)
    unit = forms.ModelChoiceField(label=_("Start an episode of care in"), queryset=ServiceUnit.objects.none())

    def __init__(self, *args: Any, units: list[ServiceUnit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = ServiceUnit.objects.filter(pk__in=[u.pk for u in units])  # type: ignore[attr-defined]
        if len(units) == 1:
            self.fields["unit"].initial = units[0].pk
