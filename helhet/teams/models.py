"""ACT/FACT teams: what the team profile needs beyond the service unit, the FACT board, fidelity reviews.

A team is an `organisations.ServiceUnit` of kind act/fact; its staff are
`accounts.StaffMembership` rows (profession as free text, FTE). `StaffingDetail`
adds what a fidelity review needs and the membership does not hold: the
profession as one of `prefill.Profession`, and whether a substance or vocational
specialist has the year of training or experience DACTS H9/H10 ask for.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from helhet.accounts.models import StaffMembership
from helhet.organisations.models import ServiceUnit
from helhet.persons.models import Person
from helhet.teams.prefill import Profession

PROFESSION_LABELS = {
    Profession.PSYCHIATRIST: _("Psychiatrist"),
    Profession.NURSE: _("Nurse"),
    Profession.SUBSTANCE_SPECIALIST: _("Substance use specialist"),
    Profession.VOCATIONAL_SPECIALIST: _("Employment specialist (IPS)"),
    Profession.PSYCHOLOGIST: _("Psychologist"),
    Profession.SOCIAL_WORKER: _("Social worker"),
    Profession.PEER_SPECIALIST: _("Peer specialist"),
    Profession.CASE_MANAGER: _("Case manager"),
    Profession.TEAM_LEADER: _("Team leader"),
    Profession.GP: _("GP"),
    Profession.OTHER_CLINICAL: _("Other clinical staff"),
    Profession.ADMINISTRATIVE: _("Administrative support"),
}
PROFESSION_CHOICES = [(p.value, PROFESSION_LABELS[p]) for p in Profession]


class TeamProfile(models.Model):
    """Facts about a team that the service unit does not hold."""

    unit = models.OneToOneField(ServiceUnit, on_delete=models.CASCADE, related_name="team_profile")
    # Adults (18+) living in the team's catchment area; entered by the team (no population data ships).
    catchment_adults = models.PositiveIntegerField(null=True, blank=True)
    established_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.unit}"


class StaffingDetail(models.Model):
    """The profession (as the fidelity scales count it) and qualification of one staff membership."""

    membership = models.OneToOneField(StaffMembership, on_delete=models.CASCADE, related_name="staffing_detail")
    profession = models.CharField(max_length=24, choices=PROFESSION_CHOICES)
    # DACTS H9/H10 count substance and vocational specialists with at least a year's training or experience.
    field_experience = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.membership}: {self.profession}"


class BoardReason(models.TextChoices):
    CRISIS = "crisis", _("Crisis or risk of crisis")
    ADMISSION = "admission", _("Admitted, or at risk of admission")
    DISCHARGE = "discharge", _("Recently discharged")
    NOT_REACHED = "not_reached", _("Not reached, missed contacts")
    SUBSTANCE = "substance", _("Increased substance use")
    SOMATIC = "somatic", _("Somatic illness")
    OTHER = "other", _("Other")


class BoardPlacement(models.Model):
    """A period a person is on a FACT team's shared-care board (FACT-bord) and gets intensive shared care."""

    team = models.ForeignKey(ServiceUnit, on_delete=models.CASCADE, related_name="board_placements")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="board_placements")
    since = models.DateField()
    until = models.DateField(null=True, blank=True)  # None: on the board now
    reason = models.CharField(max_length=16, choices=BoardReason.choices)
    note = models.CharField(max_length=300, blank=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["since", "id"]
        indexes = [models.Index(fields=["team", "until"])]
        constraints = [
            models.CheckConstraint(condition=Q(until__isnull=True) | Q(until__gte=models.F("since")),
                                   name="board_until_after_since"),
            models.UniqueConstraint(fields=["team", "person"], condition=Q(until__isnull=True),
                                    name="board_one_open_placement"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} on board of {self.team_id} from {self.since}"


class FidelityReview(models.Model):
    """One fidelity review of one team on one scale, with its computed results stored as recorded."""

    team = models.ForeignKey(ServiceUnit, on_delete=models.PROTECT, related_name="fidelity_reviews")
    scale_id = models.CharField(max_length=64)
    scale_version = models.CharField(max_length=20)
    review_date = models.DateField()
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="fidelity_reviews")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Results as computed by fidelity.score_review when the review was recorded.
    total_mean = models.FloatField(null=True, blank=True)
    total_score = models.PositiveIntegerField(default=0)
    subscale_means = models.JSONField(default=dict)  # subscale id -> mean or None
    complete = models.BooleanField(default=True)
    level_id = models.CharField(max_length=32, blank=True)  # "" for an incomplete review
    provisional_level_id = models.CharField(max_length=32, blank=True)
    # The pre-fill suggestions offered, with the figures behind them: {item_id: {score, figures, explanation}}.
    suggestions = models.JSONField(default=dict)

    class Meta:
        ordering = ["review_date", "id"]
        indexes = [models.Index(fields=["team", "scale_id", "review_date"])]
        constraints = [
            models.UniqueConstraint(fields=["team", "scale_id", "review_date"], name="one_review_per_team_scale_day"),
        ]

    def __str__(self) -> str:
        return f"{self.scale_id} review of {self.team_id} on {self.review_date}"


class FidelityItemScore(models.Model):
    review = models.ForeignKey(FidelityReview, on_delete=models.CASCADE, related_name="item_scores")
    item_id = models.CharField(max_length=16)
    subscale = models.CharField(max_length=16)
    position = models.PositiveSmallIntegerField()  # the item's place in the scale
    score = models.PositiveSmallIntegerField(null=True, blank=True)  # 1..5; None: not rated
    justification = models.TextField(blank=True)

    class Meta:
        ordering = ["review", "position"]
        constraints = [
            models.UniqueConstraint(fields=["review", "item_id"], name="one_score_per_item"),
            models.CheckConstraint(condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5),
                                   name="item_score_one_to_five"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}={self.score}"
