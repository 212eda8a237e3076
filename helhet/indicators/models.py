"""Stored indicator results (snapshots), so that dashboards and reports need not recompute.

A snapshot holds one indicator's raw result for one period, scope and set of stratifiers
(aggregate counts only: no person identifiers). ``engine.evaluate(..., cached=True)``
reads snapshots younger than its ``max_age`` and computes and stores the missing ones;
publishing (suppression) is always applied on the way out, never stored.
"""

from __future__ import annotations

from django.db import models


class IndicatorSnapshot(models.Model):
    indicator_id = models.CharField(max_length=64)
    period = models.CharField(max_length=32)  # Period.text, e.g. "2025", "2025-Q1"
    scope = models.CharField(max_length=80)  # str(Scope), e.g. "national", "unit:dps-x"
    stratifiers = models.CharField(max_length=120, blank=True, default="")  # comma-separated, in STRATIFIERS order
    computed_at = models.DateTimeField()
    result = models.JSONField()  # available, reason, numerator, denominator, value, strata

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["indicator_id", "period", "scope", "stratifiers"],
                                    name="one_snapshot_per_question"),
        ]
        indexes = [models.Index(fields=["period", "scope", "stratifiers"])]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.period} {self.scope} [{self.stratifiers}]"
