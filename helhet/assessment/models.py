"""Stored administrations of instruments and the scores derived from them.

An ``Administration`` keeps the answers exactly as the scoring engine takes them
(linkId → answer code, number or text), so a result can always be recomputed with
``scoring.score_response``. ``ScoreObservation`` holds one row per scored part, so
indicator SQL and trend charts read plain columns instead of parsing JSON.

Parts (``ScoreObservation.part``):
- ``"total"``: the instrument's headline score — the sum, or for mean instruments
  (SCL-10, living conditions) the mean — with its band and caseness;
- a subscale code (``"consumption"``, ``"anxiety"`` ...) or derived value code (``"bmi"``);
- ``"flag-<code>"`` for each risk flag rule (``flagged`` True / False / None = undetermined);
- ``"item-<linkId>"`` for items that have their own bands (the living-conditions areas);
- ``"flags"`` for instruments without a total (somatic health check, pathway evaluation):
  value = number of flags raised, flagged = any raised.

Rows with ``fhir_resource`` set are the ones published as FHIR Observations (the total or
"flags" row carries the subscales, cut-offs and flags as components; derived values stand
alone), so ``Observation/obs-<pk>`` addresses them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from helhet.organisations.models import ServiceUnit
from helhet.persons.models import Person

TOTAL_PART = "total"
FLAGS_PART = "flags"
FLAG_PREFIX = "flag-"
ITEM_PREFIX = "item-"


def flag_part(code: str) -> str:
    return FLAG_PREFIX + code


def item_part(link_id: str) -> str:
    return ITEM_PREFIX + link_id


class Mode(models.TextChoices):
    CLINICIAN = "clinician", _("Filled in by a clinician")
    SELF_REPORT = "self_report", _("Self-report")
    FHIR = "fhir", _("Received through the FHIR API")
    IMPORT = "import", _("Imported")
    SYNTHETIC = "synthetic", _("Synthetic")


class Administration(models.Model):
    """One completed instrument for one person on one day."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="administrations")
    instrument_id = models.CharField(max_length=64)  # library id, e.g. "phq-9"
    instrument_version = models.CharField(max_length=20)
    administered_on = models.DateField()
    answers = models.JSONField(default=dict)  # linkId → answer, normalised as the scoring engine returns them
    mode = models.CharField(max_length=12, choices=Mode.choices)
    # The sex the cut-offs were read with ("" = unknown: both readings), so a later change of the
    # person's registered sex does not silently change a stored result.
    scored_sex = models.CharField(max_length=8, blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unit = models.ForeignKey(ServiceUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The sender's identifier (QuestionnaireResponse.identifier "system|value", import row id):
    # a second submission with the same identifier for the same person is refused.
    source_identifier = models.CharField(max_length=255, blank=True, default="")
    questionnaire_url = models.CharField(max_length=255, blank=True, default="")
    # The QuestionnaireResponse as received (FHIR mode); None for answers entered here.
    source_resource = models.JSONField(null=True, blank=True)
    # A total the incoming response declared, when it disagreed with ours (ours is stored).
    declared_total = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["administered_on", "id"]
        indexes = [
            models.Index(fields=["person", "instrument_id", "administered_on"]),
            models.Index(fields=["administered_on"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "source_identifier"],
                condition=~Q(source_identifier=""),
                name="administration_unique_source_identifier",
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.administered_on} ({self.person_id})"

    @property
    def fhir_id(self) -> str:
        """QuestionnaireResponse id."""
        return f"qr-{self.pk}"


class ScoreObservation(models.Model):
    """One scored part of one administration; also the FHIR Observation it is published as."""

    administration = models.ForeignKey(Administration, on_delete=models.CASCADE, related_name="observations")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="score_observations")
    instrument_id = models.CharField(max_length=64)
    part = models.CharField(max_length=80)
    value = models.FloatField(null=True, blank=True)
    absent_reason = models.TextField(blank=True, default="")  # why value is None (never a silent 0)
    band = models.CharField(max_length=64, blank=True, default="")
    caseness = models.BooleanField(null=True, blank=True)
    flagged = models.BooleanField(null=True, blank=True)
    effective = models.DateField()  # = administration.administered_on
    fhir_resource = models.BooleanField(default=False)  # published as its own FHIR Observation

    class Meta:
        ordering = ["effective", "id"]
        indexes = [
            models.Index(fields=["person", "instrument_id", "part", "effective"]),
            models.Index(fields=["instrument_id", "part", "effective"]),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id}/{self.part} {self.effective}: {self.value}"

    @property
    def fhir_id(self) -> str:
        return f"obs-{self.pk}"


class RegisteredQuestionnaire(models.Model):
    """Another system's Questionnaire, matched to one of our instruments by an administrator."""

    url = models.CharField(max_length=255, unique=True)
    version = models.CharField(max_length=64, blank=True, default="")
    instrument_id = models.CharField(max_length=64)
    resource = models.JSONField()  # the Questionnaire as registered
    mapping = models.JSONField()  # fhir_mapping.ExternalQuestionnaireMapping.to_json()
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]

    def __str__(self) -> str:
        return f"{self.url} → {self.instrument_id}"
