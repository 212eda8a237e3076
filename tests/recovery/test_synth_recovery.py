"""The synthetic population gets recovery plans with goals, reviews and ratings that obey the GAS rules."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F

from helhet.pathways.models import responsible_episodes
from helhet.recovery import services
from helhet.recovery.models import Goal, GoalRating, GoalReview, Proposal, RecoveryPlan
from helhet.synth.service import generate_population

TODAY = dt.date(2026, 6, 1)


def test_a_realistic_share_of_persons_get_plans_that_obey_the_rules(refdata):
    summary = generate_population(persons=400, seed=5, today=TODAY, show_progress=False)
    plans = RecoveryPlan.objects.count()
    in_care = responsible_episodes(TODAY).values("person").distinct().count()
    assert summary.counts["recovery plans"] == plans
    assert 0.15 * in_care < plans < 0.8 * in_care  # a share of the persons in care, not everyone
    assert set(RecoveryPlan.objects.values_list("status", flat=True)) <= {"active", "completed"}
    assert RecoveryPlan.objects.values("person").annotate(n=Count("pk")).filter(n__gt=1).count() == 0
    assert Goal.objects.count() >= plans and GoalReview.objects.exists() and GoalRating.objects.exists()
    assert not Goal.objects.filter(weight__lte=0).exists()
    assert not GoalRating.objects.filter(rating__lt=-2).exists() and not GoalRating.objects.filter(rating__gt=2).exists()
    assert not GoalReview.objects.filter(reviewed_on__lt=F("plan__created_on")).exists()
    assert not GoalReview.objects.filter(reviewed_on__gt=TODAY).exists()
    assert not GoalRating.objects.exclude(goal__plan=F("review__plan")).exists()
    assert Goal.objects.filter(proposal=Proposal.PENDING, by_person=True).exists()
    assert GoalReview.objects.filter(self_rating=True).exists()
    # Every plan's overview computes: T-scores from the ratings, within the possible range.
    for plan in RecoveryPlan.objects.filter(reviews__isnull=False).distinct()[:40]:
        for row in services.plan_overview(plan, for_person=False).reviews:
            assert row.t_score is None or 20 <= row.t_score <= 80


def test_same_seed_same_plans(refdata):
    def snapshot():
        return list(Goal.objects.order_by("plan__person__pid", "pk")
                    .values_list("plan__person__pid", "text", "weight", "baseline"))

    generate_population(persons=80, seed=3, today=TODAY, show_progress=False)
    first = snapshot()
    generate_population(persons=80, seed=3, today=TODAY, replace=True, show_progress=False)
    assert snapshot() == first and first
