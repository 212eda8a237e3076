"""Warming the indicator cache: compute ahead what the dashboards read (``helhet indicators warm``).

The dashboards (dashboard.py) ask the engine, through its snapshots (the cache every worker
shares), for the totals of a scope in the chosen period and the four before it, the totals of
the trust, region and country it is compared with, and on the analyst pages a stratification
of the country, a region or a trust. One national evaluation by every stratifier per period
(and by the cubes of the linked suppression, ``engine.CUBES``) answers all of these totals
(``engine._read_snapshots`` reads a region's, trust's,
municipality's or unit's total from the national table by region, trust, municipality or
team, and any national stratification from the table with every stratifier), so warming the
country for the dashboard's periods makes every team dashboard's first request compute
nothing but the indicators whose scope totals cannot be read that way (those with a
breakdown of the total, 5a). Regions and trusts by every stratifier (the analysts' stratified
views) are an option: each costs about as much as the country.

Warming always computes afresh (the figures then last the full ``engine.SNAPSHOT_MAX_AGE``),
and deletes the snapshots that earlier generations left behind.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from helhet.indicators import dashboard, engine
from helhet.indicators.definitions import STRATIFIERS, Period

LEVELS = ("region", "trust")  # the levels that may be warmed besides the country


@dataclass(frozen=True)
class WarmedStep:
    period: Period
    scope: engine.Scope
    indicators: int
    seconds: float  # wall-clock
    cpu_seconds: float  # of this process (the database server's are not counted)


def dashboard_periods(period: Period | None = None) -> list[Period]:
    """The periods a dashboard for ``period`` (default: the pages' default period) shows: it and the four
    before it."""
    return dashboard.trend_periods(period or dashboard.default_period())


def scopes_of(level: str) -> list[engine.Scope]:
    from helhet.organisations.models import HealthRegion, HealthTrust

    if level not in LEVELS:
        raise engine.IndicatorError(f"unknown level {level!r}; valid: {', '.join(LEVELS)}", LEVELS)
    model = HealthRegion if level == "region" else HealthTrust
    return [engine.Scope(level, code) for code in model.objects.order_by("code").values_list("code", flat=True)]


def warm(*, periods: Sequence[Period], levels: Sequence[str] = (),
         progress: Callable[[WarmedStep], None] | None = None) -> list[WarmedStep]:
    """Compute and store the country by every stratifier for each period, with its linked suppression
    patterns, and each scope of ``levels`` by every stratifier for the last (the chosen) period.
    Returns what was done, step by step."""
    from helhet.indicators.models import IndicatorSnapshot

    plan = [(period, engine.NATIONAL) for period in periods]
    for level in levels:
        plan += [(periods[-1], scope) for scope in scopes_of(level)]
    IndicatorSnapshot.objects.exclude(generation=engine.snapshot_generation()).delete()
    steps = []
    for period, scope in plan:
        began, cpu = time.perf_counter(), time.process_time()
        # The country also by the cubes the linked suppression reads (engine.linked_patterns).
        by = (*STRATIFIERS, *engine.CUBES) if scope == engine.NATIONAL else STRATIFIERS
        results = engine.evaluate(period, scope, by=by, cached=True, max_age=dt.timedelta(0))
        if scope == engine.NATIONAL:  # and the linked suppression worked out from them, stored with them
            engine.linked_patterns(period)
        step = WarmedStep(period, scope, len(results), time.perf_counter() - began, time.process_time() - cpu)
        steps.append(step)
        if progress is not None:
            progress(step)
    return steps


def forget_after_bulk_load(write: Callable[[str], None] | None = None) -> None:
    """After a bulk load (``helhet import``, ``helhet synth``, ``helhet refdata load``, the demo): forget
    every stored and cached indicator result, in every worker at once (``dashboard.invalidate_cache``),
    and say how to compute them ahead. Ordinary clinical edits do not call this: their staleness is
    bounded by ``engine.SNAPSHOT_MAX_AGE`` and shown on the pages."""
    dashboard.invalidate_cache()
    if write is not None:
        write("indicator results forgotten: the dashboards compute them again when opened "
              "(`helhet indicators warm` computes them ahead)")
