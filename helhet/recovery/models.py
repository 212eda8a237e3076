"""Personal recovery plans: goals in the person's own words, rated with Goal Attainment Scaling (GAS).

A plan belongs to one person. Its goals carry the five GAS levels described in
advance, a weight and a baseline. At each review every goal is rated -2..+2
(GoalRating), and the review's T-score comes from `gas.gas_t_score`. Anything the
person writes themselves (a new goal, a self-rating) is marked as theirs and stays
a proposal until the clinician accepts it or asks to discuss it. Staff-only notes
are never shown to the person.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from helhet.pathways.models import IndividualPlan
from helhet.persons.models import Person


class LifeArea(models.TextChoices):
    HOUSING = "housing", _("Housing")
    WORK = "work", _("Work and activity")
    NETWORK = "network", _("Family, friends and network")
    HEALTH = "health", _("Health")
    SUBSTANCE_USE = "substance_use", _("Substance use")
    FINANCES = "finances", _("Finances")
    LEISURE = "leisure", _("Meaningful leisure")
    OTHER = "other", _("Other")


class PlanStatus(models.TextChoices):
    # FHIR CarePlan.status (the subset we use)
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    REVOKED = "revoked", _("Ended")


class GoalStatus(models.TextChoices):
    # FHIR Goal.lifecycleStatus (the subset we use)
    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Proposal(models.TextChoices):
    """Where a change made by the person stands. Changes made by staff are NONE."""

    NONE = "", _("Not a proposal")
    PENDING = "pending", _("Proposed by the person")
    DISCUSS = "discuss", _("To be discussed")
    ACCEPTED = "accepted", _("Accepted")


class Baseline(models.IntegerChoices):
    # Facts file: baseline is usually -1, or -2 when things can get worse.
    LESS = -1, _("−1: less than expected")
    MUCH_LESS = -2, _("−2: much less than expected")


# The five GAS levels (Kiresuk & Sherman), in words.
RATING_LABELS = {
    -2: _("Much less than expected"),
    -1: _("Less than expected"),
    0: _("Expected level"),
    1: _("More than expected"),
    2: _("Much more than expected"),
}


# FHIR goal-achievement codes (gas.AchievementStatus) in words for the pages.
ACHIEVEMENT_LABELS = {
    "in-progress": _("In progress"),
    "improving": _("Improving"),
    "worsening": _("Worsening"),
    "no-change": _("No change"),
    "achieved": _("Achieved"),
    "sustaining": _("Sustaining"),
    "not-achieved": _("Not achieved"),
    "no-progress": _("No progress"),
    "not-attainable": _("Not attainable"),
}


def signed(rating: int | None) -> str:
    """A rating as the scale writes it: −2, −1, 0, +1, +2 (with a real minus sign)."""
    if rating is None:
        return ""
    return f"+{rating}" if rating > 0 else f"\u2212{-rating}" if rating < 0 else "0"


class RecoveryPlan(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="recovery_plans")
    created_on = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    # individuell plan (IP): the statutory plan this recovery plan belongs to, when there is one
    individual_plan = models.ForeignKey(IndividualPlan, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="recovery_plans")
    staff_note = models.TextField(blank=True, default="")  # staff-only: never shown to the person
    identifier = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-created_on", "-pk"]
        indexes = [models.Index(fields=["person", "status"])]

    def __str__(self) -> str:
        return f"recovery plan {self.pk} for {self.person_id} from {self.created_on}"


class Goal(models.Model):
    plan = models.ForeignKey(RecoveryPlan, on_delete=models.CASCADE, related_name="goals")
    text = models.TextField()  # in the person's own words
    life_area = models.CharField(max_length=16, choices=LifeArea.choices)
    # The five GAS levels, described in advance.
    level_much_less = models.CharField(max_length=300, blank=True, default="")  # -2
    level_less = models.CharField(max_length=300, blank=True, default="")  # -1
    level_expected = models.CharField(max_length=300, blank=True, default="")  # 0
    level_more = models.CharField(max_length=300, blank=True, default="")  # +1
    level_much_more = models.CharField(max_length=300, blank=True, default="")  # +2
    weight = models.FloatField(default=1.0)
    baseline = models.SmallIntegerField(choices=Baseline.choices, default=Baseline.LESS)
    helpers = models.TextField(blank=True, default="")  # who helps with what
    review_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.ACTIVE)
    proposal = models.CharField(max_length=10, choices=Proposal.choices, blank=True, default=Proposal.NONE)
    authored_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    by_person = models.BooleanField(default=False)  # written by the person themselves
    staff_note = models.TextField(blank=True, default="")  # staff-only: never shown to the person
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gt=0), name="recovery_goal_weight_positive"),
            models.CheckConstraint(condition=Q(baseline__in=[-2, -1]), name="recovery_goal_baseline_range"),
        ]

    def __str__(self) -> str:
        return f"goal {self.pk}: {self.text[:40]}"

    @property
    def levels(self) -> list[tuple[int, str]]:
        return [(-2, self.level_much_less), (-1, self.level_less), (0, self.level_expected),
                (1, self.level_more), (2, self.level_much_more)]


class GoalReview(models.Model):
    """One follow-up of the plan: every goal rated on the same day, by staff with the person or by the person."""

    plan = models.ForeignKey(RecoveryPlan, on_delete=models.CASCADE, related_name="reviews")
    reviewed_on = models.DateField()
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    self_rating = models.BooleanField(default=False)  # the person's own rating of their progress
    proposal = models.CharField(max_length=10, choices=Proposal.choices, blank=True, default=Proposal.NONE)
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reviewed_on", "pk"]

    def __str__(self) -> str:
        return f"review {self.pk} of plan {self.plan_id} on {self.reviewed_on}"


class GoalRating(models.Model):
    review = models.ForeignKey(GoalReview, on_delete=models.CASCADE, related_name="ratings")
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="ratings")
    rating = models.SmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "goal"], name="recovery_one_rating_per_goal_per_review"),
            models.CheckConstraint(condition=Q(rating__gte=-2, rating__lte=2), name="recovery_rating_range"),
        ]

    def __str__(self) -> str:
        return f"goal {self.goal_id}: {self.rating:+d}"


class PlanComment(models.Model):
    plan = models.ForeignKey(RecoveryPlan, on_delete=models.CASCADE, related_name="comments")
    goal = models.ForeignKey(Goal, null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    by_person = models.BooleanField(default=False)
    staff_only = models.BooleanField(default=False)  # a staff-only note: never shown to the person
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"comment {self.pk} on plan {self.plan_id}"
