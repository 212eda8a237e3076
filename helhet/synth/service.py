"""Running the synthetic population's steps."""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass

from django.db import transaction

from helhet.accounts.access import system_event
from helhet.audit.services import record_one
from helhet.organisations.models import Municipality
from helhet.persons.models import Person
from helhet.synth.registry import STEPS, SynthContext

HISTORY_YEARS = 5


class SynthError(ValueError):
    pass


@dataclass
class SynthSummary:
    counts: dict[str, int]
    seconds: float
    step_seconds: dict[str, float]


def generate_population(*, persons: int, seed: int, replace: bool = False, today: dt.date | None = None,
                        show_progress: bool = True) -> SynthSummary:
    if persons < 1:
        raise SynthError("--persons must be at least 1")
    if not Municipality.objects.exists():
        raise SynthError("reference data is not loaded; run `helhet refdata load` first")
    if Person.objects.exists():
        if not replace:
            raise SynthError("the database already has persons; use --replace to generate a new population")
        Person.objects.all().delete()
    today = today or dt.date.today()
    ctx = SynthContext(rng=random.Random(seed), seed=seed, today=today,
                       start=today.replace(year=today.year - HISTORY_YEARS), requested_persons=persons,
                       show_progress=show_progress)
    began = time.perf_counter()
    timings: dict[str, float] = {}
    with transaction.atomic():
        for step in STEPS:
            step_began = time.perf_counter()
            step.function(ctx)
            timings[step.name] = time.perf_counter() - step_began
        record_one(system_event("synth", "create", resource="synthetic population",
                                detail={"seed": seed, "counts": ctx.counts}))
    return SynthSummary(counts=ctx.counts, seconds=time.perf_counter() - began, step_seconds=timings)
