"""Reference data (regions, trusts, municipalities) and the service units staff work in."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class HealthRegion(models.Model):
    """Regional health authority (RHF)."""

    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class HealthTrust(models.Model):
    """Health trust (HF), or a private hospital with catchment responsibility."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100, unique=True)
    region = models.ForeignKey(HealthRegion, on_delete=models.PROTECT, related_name="trusts")

    def __str__(self) -> str:
        return self.name


class Municipality(models.Model):
    """A municipality (kommune) in SSB's 2024 structure."""

    number = models.CharField(max_length=4, primary_key=True)  # SSB kommunenummer
    name = models.CharField(max_length=100)
    name_official = models.CharField(max_length=150)
    county_number = models.CharField(max_length=2)
    county = models.CharField(max_length=60)
    # SSB centrality class 1 (most central) .. 6 (least central), and the 0..1000 index.
    centrality_class = models.PositiveSmallIntegerField()
    centrality_index = models.PositiveSmallIntegerField()
    # Catchment trust for adult mental health care; None where it is split by district (Oslo).
    catchment_trust = models.ForeignKey(
        HealthTrust, null=True, blank=True, on_delete=models.PROTECT, related_name="catchment_municipalities"
    )

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class CatchmentDistrict(models.Model):
    """A city district (bydel) with its own catchment trust, for municipalities split by district."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="districts")
    name = models.CharField(max_length=60)
    catchment_trust = models.ForeignKey(HealthTrust, on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="unique_district")]

    def __str__(self) -> str:
        return f"{self.municipality.name}: {self.name}"


class UnitKind(models.TextChoices):
    MUNICIPAL = "municipal", _("Municipal service")
    DPS = "dps", _("DPS (community mental health centre)")
    TSB = "tsb", _("TSB (specialist substance treatment)")
    WARD = "ward", _("Hospital ward")
    ACT = "act", _("ACT team")
    FACT = "fact", _("FACT team")


class ServiceLevel(models.TextChoices):
    MUNICIPAL = "municipal", _("Municipal")
    SPECIALIST = "specialist", _("Specialist")
    CROSS_LEVEL = "cross_level", _("Cross-level team")


LEVEL_OF_KIND = {
    UnitKind.MUNICIPAL: ServiceLevel.MUNICIPAL,
    UnitKind.DPS: ServiceLevel.SPECIALIST,
    UnitKind.TSB: ServiceLevel.SPECIALIST,
    UnitKind.WARD: ServiceLevel.SPECIALIST,
    UnitKind.ACT: ServiceLevel.CROSS_LEVEL,
    UnitKind.FACT: ServiceLevel.CROSS_LEVEL,
}


class ServiceUnit(models.Model):
    """A unit or team that gives services and that staff belong to."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=150)
    kind = models.CharField(max_length=12, choices=UnitKind.choices)
    # Owning trust for specialist units and teams; None for purely municipal services.
    trust = models.ForeignKey(HealthTrust, null=True, blank=True, on_delete=models.PROTECT, related_name="units")
    # The municipality a municipal service belongs to; for ACT/FACT teams the co-owning municipalities.
    municipalities = models.ManyToManyField(Municipality, blank=True, related_name="units")
    inpatient = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def level(self) -> str:
        return LEVEL_OF_KIND[UnitKind(self.kind)]

    @property
    def is_team(self) -> bool:
        return self.kind in (UnitKind.ACT, UnitKind.FACT)
