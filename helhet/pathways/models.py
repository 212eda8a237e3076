"""Care pathways across levels. The foundation holds episodes of care, which define care relationships."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from helhet.organisations.models import ServiceUnit
from helhet.persons.models import Person


class EpisodeStatus(models.TextChoices):
    # FHIR EpisodeOfCare.status
    PLANNED = "planned", _("Planned")
    WAITLIST = "waitlist", _("Waiting list")
    ACTIVE = "active", _("Active")
    ONHOLD = "onhold", _("On hold")
    FINISHED = "finished", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")


# Statuses in which the unit is responsible for the person, and so has a care relationship.
RESPONSIBLE_STATUSES = (EpisodeStatus.WAITLIST, EpisodeStatus.ACTIVE, EpisodeStatus.ONHOLD)


class EpisodeOfCare(models.Model):
    """A period in which a unit (or ACT/FACT team) is responsible for a person."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="episodes")
    unit = models.ForeignKey(ServiceUnit, on_delete=models.PROTECT, related_name="episodes")
    status = models.CharField(max_length=10, choices=EpisodeStatus.choices, default=EpisodeStatus.ACTIVE)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    identifier = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-start_date"]
        indexes = [models.Index(fields=["unit", "status"]), models.Index(fields=["person", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="episode_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person.pid} @ {self.unit.code} from {self.start_date}"

    def is_responsible_on(self, day: dt.date) -> bool:
        return (
            self.status in RESPONSIBLE_STATUSES
            and self.start_date <= day
            and (self.end_date is None or self.end_date >= day)
        )


def responsible_episodes(day: dt.date | None = None) -> models.QuerySet[EpisodeOfCare]:
    """Episodes that give their unit a care relationship on `day` (today by default)."""
    day = day or dt.date.today()
    return EpisodeOfCare.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=day),
        status__in=RESPONSIBLE_STATUSES,
        start_date__lte=day,
    )


class ReferralStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    RECEIVED = "received", _("Received")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class RejectionReason(models.TextChoices):
    NO_RIGHT = "no_right", _("No right to specialist health care")
    WRONG_LEVEL = "wrong_level", _("Should be treated at another level")
    WRONG_UNIT = "wrong_unit", _("Should go to another unit")
    INSUFFICIENT = "insufficient", _("Insufficient information in the referral")
    SUBSTANCE_FIRST = "substance_first", _("Substance use must be treated first")
    MENTAL_FIRST = "mental_first", _("Mental disorder must be treated first")
    OTHER = "other", _("Other")


class PathwayType(models.TextChoices):
    # Pakkeforløp psykisk helse og rus (Helsedirektoratet, 2019).
    TSB = "D01", _("D01 Substance treatment (TSB)")
    ADULT_MENTAL = "D11", _("D11 Adult mental health care")
    CHILD_YOUTH = "D12", _("D12 Children and youth mental health care")


class Referral(models.Model):
    """A referral (henvisning) from one service to another, and what happened to it."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="referrals")
    from_unit = models.ForeignKey(ServiceUnit, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="referrals_sent")
    from_description = models.CharField(max_length=100, blank=True)  # e.g. "GP" when not one of our units
    to_unit = models.ForeignKey(ServiceUnit, on_delete=models.PROTECT, related_name="referrals_received")
    status = models.CharField(max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.SENT)
    sent_date = models.DateField()
    received_date = models.DateField(null=True, blank=True)
    assessed_date = models.DateField(null=True, blank=True)  # the pathway starts on this date
    rejection_reason = models.CharField(max_length=20, choices=RejectionReason.choices, blank=True)
    rejection_note = models.CharField(max_length=300, blank=True)
    pathway_type = models.CharField(max_length=3, choices=PathwayType.choices, blank=True)
    identifier = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-sent_date"]
        indexes = [models.Index(fields=["to_unit", "status"]), models.Index(fields=["person", "status"])]

    def __str__(self) -> str:
        return f"referral {self.pk} {self.person_id} -> {self.to_unit_id} ({self.status})"


class ClinicalDecision(models.TextChoices):
    # Pakkeforløp clinical decision codes (at most two per pathway).
    EXTENDED_ASSESSMENT = "extended_assessment", _("Extended assessment")
    TREATMENT_MENTAL = "treatment_mental", _("Treatment in mental health care")
    TREATMENT_TSB = "treatment_tsb", _("Treatment in TSB")
    OTHER_SPECIALIST = "other_specialist", _("Other specialist care")
    GP_MUNICIPALITY = "gp_municipality", _("GP / municipality")
    NAV_SCHOOL = "nav_school", _("NAV, school or other")
    NO_FURTHER_NEED = "no_further_need", _("No further need")


class PathwayDecision(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="decisions")
    decided_on = models.DateField()
    decision = models.CharField(max_length=24, choices=ClinicalDecision.choices)

    class Meta:
        ordering = ["decided_on"]

    def __str__(self) -> str:
        return f"{self.decision} on {self.decided_on}"


class EncounterKind(models.TextChoices):
    CONTACT = "contact", _("Contact")
    ADMISSION = "admission", _("Admission")


class ContactMode(models.TextChoices):
    FACE_TO_FACE = "face_to_face", _("Face to face")
    HOME_VISIT = "home_visit", _("Home visit")
    PHONE = "phone", _("Phone")
    VIDEO = "video", _("Video")
    SMS = "sms", _("Text message")


class HousingStatus(models.TextChoices):
    PERMANENT = "permanent", _("Permanent housing")
    TEMPORARY = "temporary", _("Temporary housing")
    NONE = "none", _("No housing")
    UNKNOWN = "unknown", _("Unknown")


class Encounter(models.Model):
    """A contact with the person, or an admission (start) with its discharge (end)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="encounters")
    unit = models.ForeignKey(ServiceUnit, on_delete=models.PROTECT, related_name="encounters")
    episode = models.ForeignKey(EpisodeOfCare, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="encounters")
    kind = models.CharField(max_length=10, choices=EncounterKind.choices, default=EncounterKind.CONTACT)
    mode = models.CharField(max_length=12, choices=ContactMode.choices, default=ContactMode.FACE_TO_FACE)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)  # discharge date for admissions
    staff_count = models.PositiveSmallIntegerField(default=1)  # staff members present (team approach)
    minutes = models.PositiveIntegerField(null=True, blank=True)
    housing_at_discharge = models.CharField(max_length=10, choices=HousingStatus.choices, blank=True)
    identifier = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-start_date"]
        indexes = [models.Index(fields=["person", "kind", "start_date"]), models.Index(fields=["unit", "start_date"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="encounter_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.person_id} @ {self.unit_id} {self.start_date}"


class PlanStatus(models.TextChoices):
    OFFERED = "offered", _("Offered")
    DECLINED = "declined", _("Declined")
    ACTIVE = "active", _("Active")
    REVISED = "revised", _("Revised")


class IndividualPlan(models.Model):
    """Individuell plan (IP): the statutory plan for people who need long-term, coordinated services."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="individual_plans")
    status = models.CharField(max_length=10, choices=PlanStatus.choices)
    status_date = models.DateField()
    responsible_unit = models.ForeignKey(ServiceUnit, null=True, blank=True, on_delete=models.PROTECT)
    identifier = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-status_date"]

    def __str__(self) -> str:
        return f"IP {self.person_id} {self.status} {self.status_date}"


class Coordinator(models.Model):
    """The person's coordinator (koordinator); must be offered even when an IP is declined."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="coordinators")
    name = models.CharField(max_length=150)
    unit = models.ForeignKey(ServiceUnit, null=True, blank=True, on_delete=models.PROTECT)
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date"]

    def __str__(self) -> str:
        return f"coordinator {self.name} for {self.person_id}"


class ResponsibilityGroup(models.Model):
    """Ansvarsgruppe: the people and services around the person who meet regularly."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="responsibility_groups")
    established_on = models.DateField()
    members = models.JSONField(default=list)  # [{"name": ..., "role": ..., "unit": code or null}]
    identifier = models.CharField(max_length=64, blank=True, default="", db_index=True)

    def __str__(self) -> str:
        return f"responsibility group for {self.person_id}"


class ResponsibilityGroupMeeting(models.Model):
    group = models.ForeignKey(ResponsibilityGroup, on_delete=models.CASCADE, related_name="meetings")
    held_on = models.DateField()
    summary = models.TextField(blank=True)
    identifier = models.CharField(max_length=64, blank=True, default="", db_default="", db_index=True)

    class Meta:
        ordering = ["-held_on"]

    def __str__(self) -> str:
        return f"meeting {self.held_on}"


class NextOfKinContact(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="next_of_kin_contacts")
    unit = models.ForeignKey(ServiceUnit, null=True, blank=True, on_delete=models.PROTECT)
    contact_date = models.DateField()
    relation = models.CharField(max_length=60, blank=True)  # e.g. mother, partner
    note = models.CharField(max_length=300, blank=True)
    identifier = models.CharField(max_length=64, blank=True, default="", db_default="", db_index=True)

    class Meta:
        ordering = ["-contact_date"]

    def __str__(self) -> str:
        return f"next-of-kin contact {self.person_id} {self.contact_date}"


class EvaluationPoint(models.Model):
    """Systematic evaluation in a pathway: benefit, status, further needs, plan update, judged together."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="evaluation_points")
    episode = models.ForeignKey(EpisodeOfCare, null=True, blank=True, on_delete=models.SET_NULL)
    evaluated_on = models.DateField()
    benefit = models.PositiveSmallIntegerField(null=True, blank=True)  # as judged by the person, 1 (none)..5 (great)
    status_note = models.CharField(max_length=300, blank=True)
    further_needs = models.CharField(max_length=300, blank=True)
    plan_update_needed = models.BooleanField(default=False)
    identifier = models.CharField(max_length=64, blank=True, default="", db_default="", db_index=True)

    class Meta:
        ordering = ["-evaluated_on"]

    def __str__(self) -> str:
        return f"evaluation {self.person_id} {self.evaluated_on}"
