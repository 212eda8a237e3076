"""Stored indicator results (snapshots), so that dashboards and reports need not recompute.

A snapshot holds one indicator's raw result for one period, scope and set of stratifiers
(aggregate counts only: no person identifiers). ``engine.evaluate(..., cached=True)``
reads snapshots younger than its ``max_age`` and computes and stores the missing ones;
publishing (suppression) is always applied on the way out, never stored.

Snapshots are shared by every worker process and survive restarts. ``IndicatorCacheState``
holds the cache generation: a snapshot counts only while its ``generation`` is the current
one, and every process-local cache of results or pages (dashboard.py) has the generation in
its keys, so bumping it (``engine.forget_snapshots``, after a bulk load) retires every cached
result in every process at once.
"""

from __future__ import annotations

from django.db import models


class IndicatorSnapshot(models.Model):
    indicator_id = models.CharField(max_length=64)
    period = models.CharField(max_length=32)  # Period.text, e.g. "2025", "2025-Q1"
    scope = models.CharField(max_length=80)  # str(Scope), e.g. "national", "unit:dps-x"
    stratifiers = models.CharField(max_length=512, blank=True, default="")  # comma-separated, in ALL_STRATA order
    computed_at = models.DateTimeField()  # when the computation began (the data are as of then)
    generation = models.BigIntegerField(default=0)  # IndicatorCacheState.generation when computed
    result = models.JSONField()  # available, reason, numerator, denominator, value, strata
    # A national result's linked suppression patterns, worked out from it (engine.linked_patterns), by
    # "threshold:register fingerprint": computed once for every worker, and gone with the result.
    patterns = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["indicator_id", "period", "scope", "stratifiers"],
                                    name="one_snapshot_per_question"),
        ]
        indexes = [models.Index(fields=["period", "scope", "stratifiers"])]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.period} {self.scope} [{self.stratifiers}]"


class IndicatorCacheState(models.Model):
    """One row (id 1): the generation of stored and cached indicator results.

    Bumped by ``engine.forget_snapshots`` (after ``helhet import``, ``helhet synth``, a reference
    data load or the demo load); every worker reads it once per page.
    """

    generation = models.BigIntegerField(default=1)
    invalidated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"indicator results, generation {self.generation}"
