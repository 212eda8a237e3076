"""Quick forms for recording the pathway: today's date and the user's own unit are filled in.

Field names match the `field` of `PathwayError`, so a refusal from a service lands on the
field it is about. The forms only parse; the services validate and write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from helhet.organisations.models import ServiceUnit, UnitKind
from helhet.pathways.models import (
    ClinicalDecision,
    ContactMode,
    Encounter,
    EpisodeOfCare,
    HousingStatus,
    PathwayType,
    PlanStatus,
    Referral,
    RejectionReason,
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def _date(label: Any = None) -> forms.DateField:
    return forms.DateField(label=label or _("Date"), initial=dt.date.today, widget=DateInput())


def _own_units(units: list[ServiceUnit], default: int | None, label: Any = None, required: bool = True
               ) -> forms.ChoiceField:
    """A choice of the user's own units (already loaded: no query), the care relationship's unit first."""
    initial = next((u for u in units if u.pk == default), units[0] if units else None)
    return forms.ChoiceField(label=label or _("Unit"), required=required,
                             choices=([] if required else [("", "—")]) + [(u.code, u.name) for u in units],
                             initial=initial.code if initial else None)


class PathwayForm(forms.Form):
    """Base: `units` are the user's units, `default_unit` the unit that gives the care relationship."""

    def __init__(self, *args: Any, units: list[ServiceUnit], default_unit: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = units
        self.default_unit = default_unit
        self.setup()

    def setup(self) -> None:
        pass


class ReferralForm(PathwayForm):
    from_unit = forms.CharField(label=_("From unit"))
    to_unit = forms.ChoiceField(label=_("To unit"))
    sent_date = _date(_("Date sent"))
    pathway_type = forms.ChoiceField(label=_("Pakkeforløp"), required=False,
                                     choices=[("", "—"), *PathwayType.choices])

    def setup(self) -> None:
        self.fields["from_unit"] = _own_units(self.units, self.default_unit, _("From unit"))
        kinds = dict(UnitKind.choices)
        grouped: dict[str, list[tuple[str, str]]] = {}
        for code, name, kind in (ServiceUnit.objects.filter(active=True).order_by("kind", "name")
                                 .values_list("code", "name", "kind")):
            grouped.setdefault(str(kinds.get(kind, kind)), []).append((code, name))
        to_unit = self.fields["to_unit"]
        assert isinstance(to_unit, forms.ChoiceField)
        to_unit.choices = [("", "—"), *grouped.items()]


class ReceiveReferralForm(PathwayForm):
    date = _date(_("Date received"))


class AssessReferralForm(PathwayForm):
    date = _date(_("Date assessed"))
    outcome = forms.ChoiceField(label=_("Outcome"), widget=forms.RadioSelect, initial="accept",
                                choices=[("accept", _("Accept")), ("reject", _("Reject"))])
    pathway_type = forms.ChoiceField(label=_("Pakkeforløp"), required=False,
                                     choices=[("", "—"), *PathwayType.choices])
    rejection_reason = forms.ChoiceField(label=_("Reason for rejection"), required=False,
                                         choices=[("", "—"), *RejectionReason.choices])
    rejection_note = forms.CharField(label=_("Note"), required=False, max_length=300)


class DecisionForm(PathwayForm):
    referral = forms.TypedChoiceField(label=_("Pathway"), coerce=int)
    date = _date(_("Date of decision"))
    decision = forms.ChoiceField(label=_("Clinical decision"), choices=ClinicalDecision.choices)

    def set_referrals(self, referrals: list[Referral]) -> None:
        field = self.fields["referral"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(r.pk, f"{r.get_pathway_type_display() or r.to_unit.name} · {r.to_unit.name} "
                                f"({r.assessed_date})") for r in referrals]


class AdmissionForm(PathwayForm):
    unit = forms.CharField(label=_("Ward or inpatient unit"))
    date = _date(_("Date admitted"))

    def setup(self) -> None:
        inpatient = [u for u in self.units if u.inpatient or u.kind == "ward"] or self.units
        self.fields["unit"] = _own_units(inpatient, self.default_unit, _("Ward or inpatient unit"))


class DischargeForm(PathwayForm):
    admission = forms.TypedChoiceField(label=_("Admission"), coerce=int)
    date = _date(_("Date discharged"))
    housing = forms.ChoiceField(label=_("Housing at discharge"), choices=HousingStatus.choices,
                                initial=HousingStatus.PERMANENT)

    def set_admissions(self, admissions: list[Encounter]) -> None:
        field = self.fields["admission"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(a.pk, f"{a.unit.name} ({a.start_date})") for a in admissions]


class ContactForm(PathwayForm):
    unit = forms.CharField(label=_("Unit"))
    date = _date(_("Date of contact"))
    mode = forms.ChoiceField(label=_("Contact"), choices=ContactMode.choices, initial=ContactMode.FACE_TO_FACE)
    staff_count = forms.IntegerField(label=_("Staff present"), initial=1, min_value=1, max_value=20)
    minutes = forms.IntegerField(label=_("Minutes"), required=False, min_value=1, max_value=1440)

    def setup(self) -> None:
        self.fields["unit"] = _own_units(self.units, self.default_unit)


class PlanForm(PathwayForm):
    status = forms.ChoiceField(label=_("Individual plan (IP)"), choices=PlanStatus.choices)
    date = _date()
    unit = forms.CharField(label=_("Responsible unit"))

    def setup(self) -> None:
        self.fields["unit"] = _own_units(self.units, self.default_unit, _("Responsible unit"))


class CoordinatorForm(PathwayForm):
    name = forms.CharField(label=_("Coordinator's name"), max_length=150)
    unit = forms.CharField(label=_("Unit"))
    date = _date(_("From"))

    def setup(self) -> None:
        self.fields["unit"] = _own_units(self.units, self.default_unit)


class MeetingForm(PathwayForm):
    date = _date(_("Date of meeting"))
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    members = forms.CharField(label=_("Members (one per line: name, role)"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("Leave empty to keep the members already recorded."))

    def clean_members(self) -> list[dict[str, str]]:
        members = []
        for line in str(self.cleaned_data.get("members") or "").splitlines():
            if line.strip():
                name, _sep, role = line.partition(",")
                members.append({"name": name.strip(), "role": role.strip()})
        return members


class NextOfKinForm(PathwayForm):
    date = _date(_("Date of contact"))
    relation = forms.CharField(label=_("Next of kin (relation)"), max_length=60,
                               widget=forms.TextInput(attrs={"list": "relations"}))
    note = forms.CharField(label=_("Note"), required=False, max_length=300)
    unit = forms.CharField(label=_("Unit"), required=False)

    def setup(self) -> None:
        self.fields["unit"] = _own_units(self.units, self.default_unit)


class EvaluationForm(PathwayForm):
    date = _date(_("Date of evaluation"))
    episode = forms.TypedChoiceField(label=_("Episode of care"), coerce=int, required=False, empty_value=None)
    benefit = forms.TypedChoiceField(label=_("Benefit as judged by the person"), coerce=int, required=False,
                                     empty_value=None,
                                     choices=[("", "—"), (1, _("1 none")), (2, "2"), (3, "3"), (4, "4"),
                                              (5, _("5 great"))])
    status_note = forms.CharField(label=_("Status"), required=False, max_length=300)
    further_needs = forms.CharField(label=_("Further needs (incl. somatic health and lifestyle)"), required=False,
                                    max_length=300)
    plan_update_needed = forms.BooleanField(label=_("The plan / IP needs updating"), required=False)

    def set_episodes(self, episodes: list[EpisodeOfCare]) -> None:
        field = self.fields["episode"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "—")] + [(e.pk, f"{e.unit.name} ({e.start_date})") for e in episodes]
        mine = [e for e in episodes if e.unit_id == self.default_unit and e.end_date is None]
        if mine:
            field.initial = mine[0].pk
