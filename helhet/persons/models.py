"""Persons served (service users)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from helhet.organisations.models import CatchmentDistrict, Municipality


class Sex(models.TextChoices):
    # FHIR AdministrativeGender codes.
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class ImmigrantBackground(models.TextChoices):
    # SSB's categories of immigrant background.
    NONE = "none", _("No immigrant background")
    IMMIGRANT = "immigrant", _("Immigrant")
    NORWEGIAN_BORN = "norwegian_born", _("Norwegian-born to immigrant parents")


class Person(models.Model):
    pid = models.CharField(_("pseudonymous id"), max_length=12, unique=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    # The national identity number is never stored in plain text (see pseudonyms.py).
    nin_encrypted = models.TextField(blank=True, default="")
    nin_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField()
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="residents")
    district = models.ForeignKey(CatchmentDistrict, null=True, blank=True, on_delete=models.PROTECT)
    immigrant_background = models.CharField(
        max_length=16, choices=ImmigrantBackground.choices, null=True, blank=True
    )
    consent_next_of_kin = models.BooleanField(_("consents to next-of-kin involvement"), default=False)
    consent_research = models.BooleanField(_("consents to research use"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [models.Index(fields=["family_name", "given_name"])]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name} ({self.pid})"

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def catchment_trust_id(self) -> int | None:
        if self.district is not None:
            return self.district.catchment_trust_id
        return self.municipality.catchment_trust_id


class ConditionKind(models.TextChoices):
    SUBSTANCE = "substance", _("Substance use disorder")
    MENTAL = "mental", _("Mental disorder")
    SOMATIC = "somatic", _("Somatic condition")


class Condition(models.Model):
    """A diagnosis recorded for a person (ICD-10)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="conditions")
    code = models.CharField(max_length=10)  # ICD-10, e.g. F10.2
    display = models.CharField(max_length=150)
    kind = models.CharField(max_length=10, choices=ConditionKind.choices)
    recorded_on = models.DateField()

    class Meta:
        ordering = ["recorded_on"]
        indexes = [models.Index(fields=["person", "kind"])]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"
